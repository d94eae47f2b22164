//! One `Op` as a scenario op list item (docs/SCENARIO.md "ops"): descriptor slot `Fd(n)` is named `fdN`, mapping
//! slot `MapId(n)` `mN`, file `FileId(i)` by the scenario's name of file `i`. Sizes and times are written in bytes
//! and nanoseconds, so the scenario compiles back to the same `Op`s.

use std::fmt::Write as _;

use crate::trace::op::{Fadvice, FallocMode, Madvice, MsyncMode, Op, OpenFlags, RwFlags, Whence};

fn flags_list(f: OpenFlags) -> String {
    let mut v = vec![match f.access {
        crate::trace::op::Access::ReadOnly => "RDONLY",
        crate::trace::op::Access::WriteOnly => "WRONLY",
        crate::trace::op::Access::ReadWrite => "RDWR",
    }];
    for (on, name) in [
        (f.creat, "CREAT"),
        (f.trunc, "TRUNC"),
        (f.append, "APPEND"),
        (f.direct, "DIRECT"),
        (f.sync, "SYNC"),
        (f.dsync, "DSYNC"),
        (f.noatime, "NOATIME"),
    ] {
        if on {
            v.push(name);
        }
    }
    format!("[{}]", v.join(", "))
}

fn lens(l: &[u64]) -> String {
    let v: Vec<String> = l.iter().map(u64::to_string).collect();
    format!("[{}]", v.join(", "))
}

fn rw_flags(f: RwFlags) -> String {
    let mut s = String::new();
    for (on, name) in [(f.nowait, "nowait"), (f.hipri, "hipri"), (f.dsync, "dsync"), (f.sync, "sync")] {
        if on {
            let _ = write!(s, ", {name}: true");
        }
    }
    s
}

fn whence(w: Whence) -> &'static str {
    match w {
        Whence::Set => "Set",
        Whence::Cur => "Cur",
        Whence::End => "End",
        Whence::Data => "Data",
        Whence::Hole => "Hole",
    }
}

fn madvice(a: Madvice) -> &'static str {
    match a {
        Madvice::Normal => "Normal",
        Madvice::Random => "Random",
        Madvice::Sequential => "Sequential",
        Madvice::WillNeed => "WillNeed",
        Madvice::DontNeed => "DontNeed",
        Madvice::Cold => "Cold",
        Madvice::PageOut => "PageOut",
        Madvice::HugePage => "HugePage",
        Madvice::NoHugePage => "NoHugePage",
        Madvice::PopulateRead => "PopulateRead",
    }
}

fn fadvice(a: Fadvice) -> &'static str {
    match a {
        Fadvice::Normal => "Normal",
        Fadvice::Random => "Random",
        Fadvice::Sequential => "Sequential",
        Fadvice::WillNeed => "WillNeed",
        Fadvice::DontNeed => "DontNeed",
        Fadvice::NoReuse => "NoReuse",
    }
}

fn falloc(m: FallocMode) -> &'static str {
    match m {
        FallocMode::Allocate => "Allocate",
        FallocMode::KeepSize => "KeepSize",
        FallocMode::PunchHole => "PunchHole",
        FallocMode::ZeroRange => "ZeroRange",
    }
}

fn msync(m: MsyncMode) -> &'static str {
    match m {
        MsyncMode::Async => "Async",
        MsyncMode::Sync => "Sync",
        MsyncMode::Invalidate => "Invalidate",
    }
}

/// Appends `op` as a scenario op (no trailing comma); `files` are the scenario's file names.
pub fn write_op(out: &mut String, op: &Op, files: &[String]) {
    let _ = match op {
        Op::Open { fd, file, flags } => {
            let name = files.get(file.0 as usize).map_or("?", String::as_str);
            write!(out, "Open(file: \"{name}\", fd: \"fd{}\", flags: {})", fd.0, flags_list(*flags))
        }
        Op::Close { fd } => write!(out, "Close(fd: \"fd{}\")", fd.0),
        Op::Read { fd, len } => write!(out, "Read(fd: \"fd{}\", len: {len})", fd.0),
        Op::Pread { fd, off, len } => write!(out, "Pread(fd: \"fd{}\", off: {off}, len: {len})", fd.0),
        Op::Readv { fd, lens: l } => write!(out, "Readv(fd: \"fd{}\", lens: {})", fd.0, lens(l)),
        Op::Preadv { fd, off, lens: l, flags } => {
            write!(out, "Preadv(fd: \"fd{}\", off: {off}, lens: {}{})", fd.0, lens(l), rw_flags(*flags))
        }
        Op::Write { fd, len } => write!(out, "Write(fd: \"fd{}\", len: {len})", fd.0),
        Op::Pwrite { fd, off, len } => write!(out, "Pwrite(fd: \"fd{}\", off: {off}, len: {len})", fd.0),
        Op::Writev { fd, lens: l } => write!(out, "Writev(fd: \"fd{}\", lens: {})", fd.0, lens(l)),
        Op::Pwritev { fd, off, lens: l, flags } => {
            write!(out, "Pwritev(fd: \"fd{}\", off: {off}, lens: {}{})", fd.0, lens(l), rw_flags(*flags))
        }
        Op::Lseek { fd, off, whence: w } => {
            write!(out, "Lseek(fd: \"fd{}\", off: {off}, whence: {})", fd.0, whence(*w))
        }
        Op::Mmap { fd, map, off, len, write, shared } => write!(
            out,
            "Mmap(fd: \"fd{}\", map: \"m{}\", off: {off}, len: {len}, write: {write}, shared: {shared})",
            fd.0, map.0
        ),
        Op::Munmap { map } => write!(out, "Munmap(map: \"m{}\")", map.0),
        Op::Touch { map, off, len, write } => {
            write!(out, "Touch(map: \"m{}\", off: {off}, len: {len}, write: {write})", map.0)
        }
        Op::Madvise { map, off, len, advice } => {
            write!(out, "Madvise(map: \"m{}\", off: {off}, len: {len}, advice: {})", map.0, madvice(*advice))
        }
        Op::Msync { map, off, len, mode } => {
            write!(out, "Msync(map: \"m{}\", off: {off}, len: {len}, mode: {})", map.0, msync(*mode))
        }
        Op::Fsync { fd } => write!(out, "Fsync(fd: \"fd{}\")", fd.0),
        Op::Fdatasync { fd } => write!(out, "Fdatasync(fd: \"fd{}\")", fd.0),
        Op::SyncFileRange { fd, off, len, flags } => {
            let mut f = Vec::new();
            for (on, name) in
                [(flags.wait_before, "WAIT_BEFORE"), (flags.write, "WRITE"), (flags.wait_after, "WAIT_AFTER")]
            {
                if on {
                    f.push(name);
                }
            }
            write!(out, "SyncFileRange(fd: \"fd{}\", off: {off}, len: {len}, flags: [{}])", fd.0, f.join(", "))
        }
        Op::Fadvise { fd, off, len, advice } => {
            write!(out, "Fadvise(fd: \"fd{}\", off: {off}, len: {len}, advice: {})", fd.0, fadvice(*advice))
        }
        Op::Readahead { fd, off, len } => write!(out, "Readahead(fd: \"fd{}\", off: {off}, len: {len})", fd.0),
        Op::Fallocate { fd, mode, off, len } => {
            write!(out, "Fallocate(fd: \"fd{}\", mode: {}, off: {off}, len: {len})", fd.0, falloc(*mode))
        }
        Op::Ftruncate { fd, len } => write!(out, "Ftruncate(fd: \"fd{}\", len: {len})", fd.0),
        Op::Sendfile { fd, off, len } => write!(out, "Sendfile(fd: \"fd{}\", off: {off}, len: {len})", fd.0),
        Op::Cachestat { fd, off, len } => write!(out, "Cachestat(fd: \"fd{}\", off: {off}, len: {len})", fd.0),
        Op::Sleep { ns } => write!(out, "Sleep({ns})"),
        Op::DropCaches { what } => write!(out, "DropCaches({what:?})"),
        Op::Sync => write!(out, "Sync"),
    };
}
