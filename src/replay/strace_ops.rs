//! The strace importer's calls that open, close and duplicate descriptors, move positions, sync, advise,
//! allocate, map and copy (the read and write calls and the dispatcher are in `strace_calls`).

use super::strace_calls::{annotation_path, is_regular_path, State};
use super::strace_fds::Slot;
use super::strace_lex::{bracketed, parse_fd, parse_int, parse_u64, struct_field, unquote, CallResult, Ret};
use super::{checked_end, MAX_FILE_END};
use crate::trace::op::{
    Access, Fadvice, FallocMode, Fd, FileId, Madvice, MapId, MsyncMode, Op, OpenFlags, SyncRangeFlags, Whence,
};

fn open_flags(text: &str) -> (OpenFlags, [bool; 5]) {
    // [cloexec, directory, o_path, excl, tmpfile]
    let mut f = OpenFlags::default();
    let mut extra = [false; 5];
    for t in text.split('|').map(str::trim) {
        match t {
            "O_WRONLY" => f.access = Access::WriteOnly,
            "O_RDWR" => f.access = Access::ReadWrite,
            "O_CREAT" => f.creat = true,
            "O_TRUNC" => f.trunc = true,
            "O_APPEND" => f.append = true,
            "O_DIRECT" => f.direct = true,
            "O_SYNC" => f.sync = true,
            "O_DSYNC" => f.dsync = true,
            "O_NOATIME" => f.noatime = true,
            "O_CLOEXEC" => extra[0] = true,
            "O_DIRECTORY" => extra[1] = true,
            "O_PATH" => extra[2] = true,
            "O_EXCL" => extra[3] = true,
            "O_TMPFILE" => extra[4] = true,
            _ => {}
        }
    }
    (f, extra)
}

impl State {
    pub(super) fn open(&mut self, p: u32, name: &str, a: &[&str], res: &CallResult<'_>) {
        let arg = |i: usize| a.get(i).copied().unwrap_or("");
        let Ret::Int(ret) = res.ret else {
            return self.skip("malformed_result");
        };
        let Ok(fd) = u32::try_from(ret) else {
            return self.skip("malformed_result");
        };
        let (path_arg, flags_text) = match name {
            "open" => (arg(0), arg(1).to_string()),
            "creat" => (arg(0), "O_WRONLY|O_CREAT|O_TRUNC".to_string()),
            "openat2" => (arg(1), struct_field(arg(2), "flags").unwrap_or("").to_string()),
            _ => (arg(1), arg(2).to_string()),
        };
        let (flags, [cloexec, directory, o_path, excl, tmpfile]) = open_flags(&flags_text);
        let path = match res.ret_path {
            Some(ann) => annotation_path(ann),
            None => match unquote(path_arg) {
                Some(p) => p,
                None => return self.skip("malformed_args"),
            },
        };
        let slot = if directory || o_path || !is_regular_path(&path) {
            self.counters.skip("non_regular_file");
            Slot::Other { cloexec }
        } else {
            let created = tmpfile || (flags.creat && (excl || flags.trunc));
            let file = self.file_id(&path, created, flags.creat && !created);
            let ofd = self.table.new_ofd(file, flags);
            Slot::File { ofd, cloexec, sim: Some(0) }
        };
        if self.table.install(p, fd, slot, &mut self.scratch) {
            self.counters.note("stale_fd_replaced");
        }
        self.flush_scratch(false);
        if let Slot::File { ofd, .. } = slot {
            let file = self.table.ofd(ofd).file;
            let flags = OpenFlags { creat: flags.creat || tmpfile, ..flags };
            self.main(Op::Open { fd: Fd(fd), file: FileId(file), flags });
        }
    }

    pub(super) fn close(&mut self, p: u32, arg: &str) {
        let Some((n, _)) = parse_fd(arg) else {
            return self.skip("malformed_args");
        };
        let Ok(fd) = u32::try_from(n) else {
            return self.skip("unknown_fd");
        };
        match self.table.close(p, fd, &mut self.scratch) {
            None => self.skip("unknown_fd"),
            Some(Slot::Other { .. }) => self.skip("non_regular_fd"),
            Some(Slot::File { sim: None, .. }) => self.counters.note("close_of_unopened_inherited_fd"),
            Some(_) => self.flush_scratch(true),
        }
    }

    pub(super) fn close_range(&mut self, p: u32, first: &str, last: &str, flags: &str) {
        let (Some(first), Some(last)) = (parse_u64(first), parse_u64(last).or(Some(u64::from(u32::MAX)))) else {
            return self.skip("malformed_args");
        };
        let fds: Vec<u32> = self.table.procs[p as usize]
            .fds
            .keys()
            .copied()
            .filter(|&fd| u64::from(fd) >= first && u64::from(fd) <= last)
            .collect();
        for fd in fds {
            if flags.contains("CLOSE_RANGE_CLOEXEC") {
                self.table.set_cloexec(p, fd, true);
            } else {
                self.table.close(p, fd, &mut self.scratch);
            }
        }
        self.counters.note("close_range");
        self.flush_scratch(true);
    }

    pub(super) fn dup(&mut self, p: u32, old: &str, new: u64, cloexec: bool) {
        let Ok(new) = u32::try_from(new) else {
            return self.skip("malformed_result");
        };
        let old = match self.fd_of(p, old) {
            Ok(fd) => fd,
            Err(r) => {
                // The kernel closed whatever `new` was; what it now is we do not know.
                self.table.close(p, new, &mut self.scratch);
                self.flush_scratch(false);
                return self.skip(r);
            }
        };
        let Some(slot) = self.table.procs[p as usize].fds.get(&old).copied() else {
            self.table.close(p, new, &mut self.scratch);
            self.flush_scratch(false);
            return self.skip("unknown_fd");
        };
        let slot = match slot {
            Slot::File { ofd, .. } => Slot::File { ofd, cloexec, sim: None },
            Slot::Other { .. } => Slot::Other { cloexec },
        };
        self.table.install(p, new, slot, &mut self.scratch);
        self.flush_scratch(false);
        self.counters.note("dup");
    }

    pub(super) fn lseek(&mut self, p: u32, fdarg: &str, off: &str, whence: &str, ret: u64) {
        let whence = match whence {
            "SEEK_SET" => Whence::Set,
            "SEEK_CUR" => Whence::Cur,
            "SEEK_END" => Whence::End,
            "SEEK_DATA" => Whence::Data,
            "SEEK_HOLE" => Whence::Hole,
            _ => return self.skip("malformed_args"),
        };
        let Some(off) = parse_int(off) else {
            return self.skip("malformed_args");
        };
        let (fd, ofd) = match self.use_fd(p, fdarg, whence == Whence::Cur) {
            Ok(v) => v,
            Err(r) => return self.skip(r),
        };
        if ret > MAX_FILE_END {
            return self.skip("offset_out_of_range");
        }
        self.table.ofd_mut(ofd).pos = ret;
        self.table.set_sim_pos(p, fd, ret);
        let file = self.table.ofd(ofd).file;
        if whence == Whence::End {
            let size = (i128::from(ret) - i128::from(off)).clamp(0, i128::from(MAX_FILE_END)) as u64;
            self.grow(file, size);
        }
        self.main(Op::Lseek { fd: Fd(fd), off, whence });
    }

    pub(super) fn sync_file_range(&mut self, p: u32, fdarg: &str, off: Option<u64>, len: Option<u64>, flags: &str) {
        let mut f = SyncRangeFlags::default();
        for t in flags.split('|').map(str::trim) {
            match t {
                "SYNC_FILE_RANGE_WAIT_BEFORE" => f.wait_before = true,
                "SYNC_FILE_RANGE_WRITE" => f.write = true,
                "SYNC_FILE_RANGE_WAIT_AFTER" => f.wait_after = true,
                "0" => {}
                _ => return self.skip("unsupported_flag"),
            }
        }
        match (self.use_fd(p, fdarg, false), off, len) {
            (Ok((fd, _)), Some(off), Some(len)) => self.main(Op::SyncFileRange { fd: Fd(fd), off, len, flags: f }),
            (Err(r), ..) => self.skip(r),
            _ => self.skip("malformed_args"),
        }
    }

    pub(super) fn fadvise(&mut self, p: u32, fdarg: &str, off: Option<u64>, len: Option<u64>, advice: &str) {
        let advice = match advice {
            "POSIX_FADV_NORMAL" => Fadvice::Normal,
            "POSIX_FADV_RANDOM" => Fadvice::Random,
            "POSIX_FADV_SEQUENTIAL" => Fadvice::Sequential,
            "POSIX_FADV_WILLNEED" => Fadvice::WillNeed,
            "POSIX_FADV_DONTNEED" => Fadvice::DontNeed,
            "POSIX_FADV_NOREUSE" => Fadvice::NoReuse,
            _ => return self.skip("unsupported_advice"),
        };
        match (self.use_fd(p, fdarg, false), off, len) {
            (Ok((fd, _)), Some(off), Some(len)) => self.main(Op::Fadvise { fd: Fd(fd), off, len, advice }),
            (Err(r), ..) => self.skip(r),
            _ => self.skip("malformed_args"),
        }
    }

    pub(super) fn fallocate(&mut self, p: u32, fdarg: &str, mode: &str, off: Option<u64>, len: Option<u64>) {
        let bits: Vec<&str> = mode.split('|').map(str::trim).filter(|t| *t != "0").collect();
        let has = |b: &str| bits.contains(&b);
        let (mode, grows) = match bits.len() {
            0 => (FallocMode::Allocate, true),
            1 if has("FALLOC_FL_KEEP_SIZE") => (FallocMode::KeepSize, false),
            2 if has("FALLOC_FL_KEEP_SIZE") && has("FALLOC_FL_PUNCH_HOLE") => (FallocMode::PunchHole, false),
            1 if has("FALLOC_FL_ZERO_RANGE") => (FallocMode::ZeroRange, true),
            _ => return self.skip("unsupported_flag"),
        };
        let (Some(off), Some(len)) = (off, len) else {
            return self.skip("malformed_args");
        };
        let Some(end) = checked_end(off, len) else {
            return self.skip("offset_out_of_range");
        };
        match self.use_fd(p, fdarg, false) {
            Ok((fd, ofd)) => {
                let file = self.table.ofd(ofd).file;
                if grows {
                    self.grow(file, end);
                    self.wrote(file);
                }
                self.main(Op::Fallocate { fd: Fd(fd), mode, off, len })
            }
            Err(r) => self.skip(r),
        }
    }

    pub(super) fn mmap(&mut self, p: u32, a: &[&str], res: &CallResult<'_>, pages: bool) {
        let arg = |i: usize| a.get(i).copied().unwrap_or("");
        if arg(3).contains("MAP_ANONYMOUS") || arg(4).trim() == "-1" {
            return self.skip("anonymous_mapping");
        }
        let addr = match res.ret {
            Ret::Hex(v) => v,
            Ret::Int(v) if v >= 0 => v as u64,
            _ => return self.skip("malformed_result"),
        };
        let (Some(len), Some(off)) = (parse_u64(arg(1)), parse_u64(arg(5))) else {
            return self.skip("malformed_args");
        };
        let Some(off) = (if pages { off.checked_mul(4096) } else { Some(off) }) else {
            return self.skip("offset_out_of_range");
        };
        let Some(end) = checked_end(off, len) else {
            return self.skip("offset_out_of_range");
        };
        let (fd, ofd) = match self.use_fd(p, arg(4), false) {
            Ok(v) => v,
            Err(r) => return self.skip(r),
        };
        let file = self.table.ofd(ofd).file;
        self.grow(file, end);
        let map = self.table.map(p, addr, len, &mut self.scratch);
        self.flush_scratch(false);
        self.counters.note("mmap_file_touches_invisible");
        let write = arg(2).contains("PROT_WRITE");
        let shared = arg(3).contains("MAP_SHARED");
        self.main(Op::Mmap { fd: Fd(fd), map, off, len, write, shared });
    }

    pub(super) fn madvise(&mut self, p: u32, addr: Option<u64>, len: Option<u64>, advice: &str) {
        let advice = match advice {
            "MADV_NORMAL" => Madvice::Normal,
            "MADV_RANDOM" => Madvice::Random,
            "MADV_SEQUENTIAL" => Madvice::Sequential,
            "MADV_WILLNEED" => Madvice::WillNeed,
            "MADV_DONTNEED" => Madvice::DontNeed,
            "MADV_COLD" => Madvice::Cold,
            "MADV_PAGEOUT" => Madvice::PageOut,
            "MADV_HUGEPAGE" => Madvice::HugePage,
            "MADV_NOHUGEPAGE" => Madvice::NoHugePage,
            "MADV_POPULATE_READ" => Madvice::PopulateRead,
            _ => return self.skip("unsupported_advice"),
        };
        let (Some(addr), Some(len)) = (addr, len) else {
            return self.skip("malformed_args");
        };
        match self.table.find_map(p, addr, len) {
            Some((start, m)) => self.main(Op::Madvise { map: MapId(m.map), off: addr - start, len, advice }),
            None => self.skip("unknown_mapping"),
        }
    }

    pub(super) fn msync(&mut self, p: u32, addr: Option<u64>, len: Option<u64>, flags: &str) {
        let mode = if flags.contains("MS_SYNC") {
            MsyncMode::Sync
        } else if flags.contains("MS_ASYNC") {
            MsyncMode::Async
        } else if flags.contains("MS_INVALIDATE") {
            MsyncMode::Invalidate
        } else {
            return self.skip("unsupported_flag");
        };
        let (Some(addr), Some(len)) = (addr, len) else {
            return self.skip("malformed_args");
        };
        match self.table.find_map(p, addr, len) {
            Some((start, m)) => self.main(Op::Msync { map: MapId(m.map), off: addr - start, len, mode }),
            None => self.skip("unknown_mapping"),
        }
    }

    /// sendfile / copy_file_range / splice: `n` bytes from `input` (at `in_off`, or its position when `NULL`)
    /// to `output`. The file side(s) are replayed: a read with an offset is `Sendfile` when the output is not a
    /// file (sendfile's own op), a `Pread` otherwise; writes are `Pwrite`/`Write`; pipe and socket ends are not.
    pub(super) fn copy(&mut self, p: u32, input: &str, in_off: &str, output: &str, out_off: &str, n: u64) {
        let regular = |s: &mut Self, arg: &str| match s.fd_of(p, arg) {
            Ok(fd) => matches!(s.table.procs[p as usize].fds.get(&fd), Some(Slot::File { .. })),
            Err(_) => false,
        };
        let (in_file, out_file) = (regular(self, input), regular(self, output));
        if !in_file && !out_file {
            return self.skip("non_regular_fd");
        }
        if in_file {
            match bracketed(in_off) {
                Some(off) if !out_file => match self.use_fd(p, input, false) {
                    Ok((fd, ofd)) => match checked_end(off, n) {
                        Some(end) => {
                            let file = self.table.ofd(ofd).file;
                            self.grow(file, end);
                            self.main(Op::Sendfile { fd: Fd(fd), off, len: n });
                        }
                        None => return self.skip("offset_out_of_range"),
                    },
                    Err(r) => return self.skip(r),
                },
                Some(off) => self.at_offset(p, input, off, n, false, None),
                None => self.at_position(p, input, n, false, None),
            }
        }
        // A copy that moved nothing read to EOF (kept) but wrote nothing.
        if out_file && n > 0 {
            match bracketed(out_off) {
                Some(off) => self.at_offset(p, output, off, n, true, None),
                None => self.at_position(p, output, n, true, None),
            }
        }
    }

    pub(super) fn stat_size(&mut self, p: u32, name: &str, a: &[&str]) {
        let arg = |i: usize| a.get(i).copied().unwrap_or("");
        let (fdarg, st, prefix) = match name {
            "fstat" | "fstat64" => (arg(0), arg(1), "st_"),
            "statx" if unquote(arg(1)).is_some_and(|s| s.is_empty()) => (arg(0), arg(4), "stx_"),
            "newfstatat" | "fstatat64" if unquote(arg(1)).is_some_and(|s| s.is_empty()) => (arg(0), arg(2), "st_"),
            _ => return,
        };
        // A directory or device opened without O_DIRECTORY has a size that is not file data.
        if struct_field(st, &format!("{prefix}mode")).is_some_and(|m| !m.contains("S_IFREG")) {
            return;
        }
        let field = struct_field(st, &format!("{prefix}size"));
        let (Some(size), Ok(fd)) = (field.and_then(parse_u64), self.fd_of(p, fdarg)) else {
            return;
        };
        if let Some(Slot::File { ofd, .. }) = self.table.procs[p as usize].fds.get(&fd) {
            let file = self.table.ofd(*ofd).file;
            if size > 0 {
                self.saw_data(file);
            }
            self.grow(file, size.min(MAX_FILE_END));
        }
    }
}
