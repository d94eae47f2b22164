//! Compiles one task's op list into a [`Program`], resolving file, descriptor and mapping names and checking that
//! each op can run where it stands (descriptors open, mappings mapped, ranges inside mappings, generator
//! parameters sane). Every error points at the offending token.
//!
//! The check is a walk in program order that tracks which descriptors are open and which mappings exist. A
//! `Repeat` with a count of 2 or more walks its body a second time, starting from the state the first pass left,
//! so `Repeat(count: 2, ops: [Read(fd: "a", ...), Close(fd: "a")])` is refused (the second read finds `a` closed).
//! One extra pass suffices because a pass's effect on that state is idempotent.

use super::diag::{check_name, error, fmt_size, known};
use super::generate::{GenSpec, Limit, Pattern, Target, Zipf, PURPOSE_MIX, PURPOSE_OFFSETS};
use super::locate::Loc;
use super::schema::{OpDoc, OpenFlagDoc, PatternDoc, SyncRangeFlagDoc, SyscallDoc, TaskDoc};
use super::stream::{Node, Program};
use super::{FileSpec, ScenarioError, TaskSpec};
use crate::rng::stream_key;
use crate::trace::op::{Access, Fd, FileId, MapId, Op, OpenFlags, RwFlags, SyncRangeFlags};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What every task's compilation shares.
pub(crate) struct Ctx<'a> {
    pub origin: &'a str,
    pub files: &'a [FileSpec],
    pub seed: u64,
    pub task: u64,
}

struct Compiler<'a> {
    ctx: &'a Ctx<'a>,
    fds: Vec<String>,
    maps: Vec<String>,
    /// Descriptor slot -> the file open in it.
    open: BTreeMap<u32, FileId>,
    /// Mapping slot -> its length.
    mapped: BTreeMap<u32, u64>,
    /// Every fd and map name some Open or Mmap of this task declares (to tell "never" from "not yet").
    declared_fds: Vec<String>,
    declared_maps: Vec<String>,
    prog: Program,
}

/// Compiles task `t` (at `l` in the source).
pub(crate) fn task(ctx: &Ctx, t: &TaskDoc, l: Loc) -> Result<TaskSpec, ScenarioError> {
    let mut c = Compiler {
        ctx,
        fds: Vec::new(),
        maps: Vec::new(),
        open: BTreeMap::new(),
        mapped: BTreeMap::new(),
        declared_fds: Vec::new(),
        declared_maps: Vec::new(),
        prog: Program::default(),
    };
    declare(&t.ops, &mut c.declared_fds, &mut c.declared_maps);
    let ops = l.field("ops");
    if t.ops.is_empty() {
        return Err(error(ctx.origin, ops.pos(), format!("task `{}` has no ops", t.name), None));
    }
    c.prog.blocks.push(Vec::new());
    c.block(&t.ops, ops, Some(0), false)?;
    Ok(TaskSpec {
        name: t.name.clone(),
        start: t.start.unwrap_or_default(),
        fds: c.fds,
        maps: c.maps,
        program: Arc::new(c.prog),
    })
}

fn declare(ops: &[OpDoc], fds: &mut Vec<String>, maps: &mut Vec<String>) {
    for op in ops {
        match op {
            OpDoc::Open { file, fd, .. } => fds.push(fd.clone().unwrap_or_else(|| file.clone())),
            OpDoc::Mmap { fd, map, .. } => maps.push(map.clone().unwrap_or_else(|| fd.clone())),
            OpDoc::Repeat { ops, .. } => declare(ops, fds, maps),
            _ => {}
        }
    }
}

fn slot(names: &mut Vec<String>, name: &str) -> u32 {
    match names.iter().position(|n| n == name) {
        Some(i) => i as u32,
        None => {
            names.push(name.to_string());
            (names.len() - 1) as u32
        }
    }
}

impl Compiler<'_> {
    fn err(&self, loc: Loc, msg: String, hint: Option<String>) -> ScenarioError {
        error(self.ctx.origin, loc.pos(), msg, hint)
    }

    /// Walks `ops` (the list at `list`); appends to block `emit` when given, else only checks.
    fn block(&mut self, ops: &[OpDoc], list: Loc, emit: Option<usize>, again: bool) -> Result<(), ScenarioError> {
        for (j, op) in ops.iter().enumerate() {
            if let Some(node) = self.op(op, list.item(j), emit.is_some(), again)? {
                self.prog.blocks[emit.expect("nodes only when emitting")].push(node);
            }
        }
        Ok(())
    }

    fn file(&self, name: &str, loc: Loc) -> Result<(FileId, u64), ScenarioError> {
        match self.ctx.files.iter().position(|f| f.name == name) {
            Some(i) => Ok((FileId(i as u32), self.ctx.files[i].size)),
            None => Err(self.err(
                loc,
                format!("unknown file `{name}`"),
                Some(known("files", self.ctx.files.iter().map(|f| f.name.as_str()), name)),
            )),
        }
    }

    fn fd(&self, name: &str, loc: Loc, again: bool) -> Result<(Fd, FileId), ScenarioError> {
        let slot = self.fds.iter().position(|n| n == name).map(|i| i as u32);
        if let Some(file) = slot.and_then(|s| self.open.get(&s)) {
            return Ok((Fd(slot.unwrap_or_default()), *file));
        }
        let (msg, hint) = if !self.declared_fds.iter().any(|n| n == name) {
            (
                format!("fd `{name}` is never opened"),
                format!(
                    "open it first with `Open(file: ..., fd: \"{name}\")`; {}",
                    known("fds", self.declared_fds.iter().map(String::as_str), name)
                ),
            )
        } else if again {
            (
                format!("fd `{name}` is not open on the second repetition of the enclosing Repeat"),
                "it is closed later in the Repeat's body; move the Open inside the Repeat or the Close after it".into(),
            )
        } else {
            (format!("fd `{name}` is used before it is opened (or after it is closed)"), "move its Open earlier".into())
        };
        Err(self.err(loc, msg, Some(hint)))
    }

    fn map(&self, name: &str, loc: Loc, again: bool) -> Result<(MapId, u64), ScenarioError> {
        let slot = self.maps.iter().position(|n| n == name).map(|i| i as u32);
        if let Some(len) = slot.and_then(|s| self.mapped.get(&s)) {
            return Ok((MapId(slot.unwrap_or_default()), *len));
        }
        let (msg, hint) = if !self.declared_maps.iter().any(|n| n == name) {
            (
                format!("map `{name}` is never mapped"),
                format!(
                    "map it first with `Mmap(fd: ..., map: \"{name}\")`; {}",
                    known("maps", self.declared_maps.iter().map(String::as_str), name)
                ),
            )
        } else if again {
            (
                format!("map `{name}` is not mapped on the second repetition of the enclosing Repeat"),
                "it is unmapped later in the Repeat's body".into(),
            )
        } else {
            (format!("map `{name}` is used before it is mapped (or after Munmap)"), "move its Mmap earlier".into())
        };
        Err(self.err(loc, msg, Some(hint)))
    }

    /// Checks that [off, off+len) (len 0 = to the end) lies inside a mapping of `map_len` bytes.
    fn in_map(&self, name: &str, off: u64, len: u64, map_len: u64, loc: Loc) -> Result<(), ScenarioError> {
        let end = off.checked_add(len.max(1));
        if end.is_none_or(|e| e > map_len) {
            return Err(self.err(
                loc,
                format!(
                    "range [{}, +{}) is outside map `{name}` ({} long)",
                    fmt_size(off),
                    fmt_size(len),
                    fmt_size(map_len)
                ),
                Some("touching outside a mapping is SIGSEGV on the real kernel".into()),
            ));
        }
        Ok(())
    }

    fn open_flags(&self, flags: &Option<Vec<OpenFlagDoc>>, loc: Loc) -> Result<OpenFlags, ScenarioError> {
        let mut f = OpenFlags::default();
        let mut access: Option<OpenFlagDoc> = None;
        for &flag in flags.as_deref().unwrap_or(&[OpenFlagDoc::RDONLY]) {
            match flag {
                OpenFlagDoc::RDONLY | OpenFlagDoc::WRONLY | OpenFlagDoc::RDWR => {
                    if access.is_some_and(|a| a != flag) {
                        return Err(self.err(
                            loc,
                            "more than one access mode in flags".into(),
                            Some("use exactly one of RDONLY (the default), WRONLY, RDWR".into()),
                        ));
                    }
                    access = Some(flag);
                    f.access = match flag {
                        OpenFlagDoc::RDONLY => Access::ReadOnly,
                        OpenFlagDoc::WRONLY => Access::WriteOnly,
                        _ => Access::ReadWrite,
                    };
                }
                OpenFlagDoc::CREAT => f.creat = true,
                OpenFlagDoc::TRUNC => f.trunc = true,
                OpenFlagDoc::APPEND => f.append = true,
                OpenFlagDoc::DIRECT => f.direct = true,
                OpenFlagDoc::SYNC => f.sync = true,
                OpenFlagDoc::DSYNC => f.dsync = true,
                OpenFlagDoc::NOATIME => f.noatime = true,
            }
        }
        Ok(f)
    }

    /// Checks one op; returns its compiled node when emitting.
    fn op(&mut self, op: &OpDoc, l: Loc, emit: bool, again: bool) -> Result<Option<Node>, ScenarioError> {
        use OpDoc as D;
        let fd = |c: &Self, name: &str| c.fd(name, l.field("fd"), again).map(|(fd, _)| fd);
        let lens = |v: &[crate::units::Size]| v.iter().map(|s| s.0).collect::<Vec<_>>();
        let op = match op {
            D::Open { file, fd, flags } => {
                let (fid, _) = self.file(file, l.field("file"))?;
                let name = fd.as_deref().unwrap_or(file);
                check_name(self.ctx.origin, "fd", name, if fd.is_some() { l.field("fd") } else { l.field("file") })?;
                let slot = slot(&mut self.fds, name);
                if self.open.contains_key(&slot) {
                    return Err(self.err(
                        if fd.is_some() { l.field("fd") } else { l },
                        format!("fd `{name}` is already open"),
                        Some("close it first, or give this Open another `fd:` name".into()),
                    ));
                }
                let flags = self.open_flags(flags, l.field("flags"))?;
                self.open.insert(slot, fid);
                Op::Open { fd: Fd(slot), file: fid, flags }
            }
            D::Close { fd: name } => {
                let fd = fd(self, name)?;
                self.open.remove(&fd.0);
                Op::Close { fd }
            }
            D::Read { fd: n, len } => Op::Read { fd: fd(self, n)?, len: len.0 },
            D::Pread { fd: n, off, len } => Op::Pread { fd: fd(self, n)?, off: off.0, len: len.0 },
            D::Readv { fd: n, lens: v } => Op::Readv { fd: fd(self, n)?, lens: lens(v) },
            D::Preadv { fd: n, off, lens: v, nowait, hipri, dsync, sync } => {
                let flags = RwFlags { nowait: *nowait, hipri: *hipri, dsync: *dsync, sync: *sync };
                Op::Preadv { fd: fd(self, n)?, off: off.0, lens: lens(v), flags }
            }
            D::Write { fd: n, len } => Op::Write { fd: fd(self, n)?, len: len.0 },
            D::Pwrite { fd: n, off, len } => Op::Pwrite { fd: fd(self, n)?, off: off.0, len: len.0 },
            D::Writev { fd: n, lens: v } => Op::Writev { fd: fd(self, n)?, lens: lens(v) },
            D::Pwritev { fd: n, off, lens: v, nowait, hipri, dsync, sync } => {
                let flags = RwFlags { nowait: *nowait, hipri: *hipri, dsync: *dsync, sync: *sync };
                Op::Pwritev { fd: fd(self, n)?, off: off.0, lens: lens(v), flags }
            }
            D::Lseek { fd: n, off, whence } => Op::Lseek { fd: fd(self, n)?, off: off.0, whence: *whence },
            D::Mmap { fd: n, map, off, len, write, shared } => {
                let (fd, file) = self.fd(n, l.field("fd"), again)?;
                let name = map.as_deref().unwrap_or(n);
                check_name(self.ctx.origin, "map", name, l.field(if map.is_some() { "map" } else { "fd" }))?;
                let file_size = self.ctx.files[file.0 as usize].size;
                let len = match len {
                    Some(len) if len.0 == 0 => {
                        return Err(self.err(
                            l.field("len"),
                            "mmap of 0 bytes".into(),
                            Some("leave len out to map the whole file".into()),
                        ))
                    }
                    Some(len) => len.0,
                    None if off.0 < file_size => file_size - off.0,
                    None => {
                        return Err(self.err(
                            l,
                            format!(
                                "mapping from {} would be empty: the file is {}",
                                fmt_size(off.0),
                                fmt_size(file_size)
                            ),
                            Some("give `len:` explicitly".into()),
                        ))
                    }
                };
                let slot = slot(&mut self.maps, name);
                if self.mapped.contains_key(&slot) {
                    return Err(self.err(
                        l.field("map"),
                        format!("map `{name}` is already mapped"),
                        Some("Munmap it first, or give this Mmap another `map:` name".into()),
                    ));
                }
                self.mapped.insert(slot, len);
                Op::Mmap { fd, map: MapId(slot), off: off.0, len, write: *write, shared: *shared }
            }
            D::Munmap { map: n } => {
                let (map, _) = self.map(n, l.field("map"), again)?;
                self.mapped.remove(&map.0);
                Op::Munmap { map }
            }
            D::Touch { map: n, off, len, write } => {
                let (map, map_len) = self.map(n, l.field("map"), again)?;
                let len = len.map_or(4096, |s| s.0);
                self.in_map(n, off.0, len, map_len, l.field("off"))?;
                Op::Touch { map, off: off.0, len, write: *write }
            }
            D::Madvise { map: n, off, len, advice } => {
                let (map, map_len) = self.map(n, l.field("map"), again)?;
                self.in_map(n, off.0, len.0, map_len, l.field("off"))?;
                Op::Madvise { map, off: off.0, len: len.0, advice: *advice }
            }
            D::Msync { map: n, off, len, mode } => {
                let (map, map_len) = self.map(n, l.field("map"), again)?;
                self.in_map(n, off.0, len.0, map_len, l.field("off"))?;
                Op::Msync { map, off: off.0, len: len.0, mode: *mode }
            }
            D::Fsync { fd: n } => Op::Fsync { fd: fd(self, n)? },
            D::Fdatasync { fd: n } => Op::Fdatasync { fd: fd(self, n)? },
            D::SyncFileRange { fd: n, off, len, flags } => {
                let mut f = SyncRangeFlags::default();
                for flag in flags.as_deref().unwrap_or(&[SyncRangeFlagDoc::WRITE]) {
                    match flag {
                        SyncRangeFlagDoc::WAIT_BEFORE => f.wait_before = true,
                        SyncRangeFlagDoc::WRITE => f.write = true,
                        SyncRangeFlagDoc::WAIT_AFTER => f.wait_after = true,
                    }
                }
                Op::SyncFileRange { fd: fd(self, n)?, off: off.0, len: len.0, flags: f }
            }
            D::Fadvise { fd: n, off, len, advice } => {
                Op::Fadvise { fd: fd(self, n)?, off: off.0, len: len.0, advice: *advice }
            }
            D::Readahead { fd: n, off, len } => Op::Readahead { fd: fd(self, n)?, off: off.0, len: len.0 },
            D::Fallocate { fd: n, mode, off, len } => {
                Op::Fallocate { fd: fd(self, n)?, mode: *mode, off: off.0, len: len.0 }
            }
            D::Ftruncate { fd: n, len } => Op::Ftruncate { fd: fd(self, n)?, len: len.0 },
            D::Sendfile { fd: n, off, len } => Op::Sendfile { fd: fd(self, n)?, off: off.0, len: len.0 },
            D::Cachestat { fd: n, off, len } => {
                let fd = fd(self, n)?;
                // The kernel computes the last page as (off + len - 1) >> PAGE_SHIFT in 64 bits.
                if off.0.checked_add(len.0).is_none() {
                    return Err(self.err(
                        l.field("len"),
                        format!("off + len ({} + {}) overflows 64 bits", fmt_size(off.0), fmt_size(len.0)),
                        Some("len 0 means to the end of the file".into()),
                    ));
                }
                Op::Cachestat { fd, off: off.0, len: len.0 }
            }
            D::Sleep(t) => Op::Sleep { ns: t.0 },
            D::DropCaches(what) => Op::DropCaches { what: *what },
            D::Sync => Op::Sync,
            D::Repeat { count, ops } => {
                if *count == 0 {
                    return Err(self.err(
                        l.field("count"),
                        "Repeat count is 0".into(),
                        Some("remove the Repeat, or use a count of 1 or more".into()),
                    ));
                }
                if ops.is_empty() {
                    return Err(self.err(l.field("ops"), "Repeat has no ops".into(), None));
                }
                let block = emit.then(|| {
                    self.prog.blocks.push(Vec::new());
                    self.prog.blocks.len() - 1
                });
                self.block(ops, l.field("ops"), block, again)?;
                if *count >= 2 && emit {
                    self.block(ops, l.field("ops"), None, true)?;
                }
                return Ok(block.map(|block| Node::Repeat { count: *count, block }));
            }
            D::Generate { .. } => {
                let spec = self.generate(op, l, again)?;
                if !emit {
                    return Ok(None);
                }
                self.prog.gens.push(spec);
                return Ok(Some(Node::Gen(self.prog.gens.len() - 1)));
            }
        };
        Ok(emit.then_some(Node::Op(op)))
    }

    /// Resolves a `Generate(...)`; its stream keys use its ordinal (the number of generators before it).
    fn generate(&self, op: &OpDoc, l: Loc, again: bool) -> Result<GenSpec, ScenarioError> {
        let OpDoc::Generate { fd, map, pattern, block, range, count, bytes, think, read_pct, fsync_every, syscall } =
            op
        else {
            unreachable!("generate() is called on Generate ops");
        };
        let (target, target_len, what) = match (fd, map) {
            (Some(n), None) => {
                let (fd, file) = self.fd(n, l.field("fd"), again)?;
                (Target::Fd(fd), self.ctx.files[file.0 as usize].size, format!("file of fd `{n}`"))
            }
            (None, Some(n)) => {
                let (map, len) = self.map(n, l.field("map"), again)?;
                (Target::Map(map), len, format!("map `{n}`"))
            }
            _ => {
                return Err(self.err(
                    if fd.is_some() { l.field("map") } else { l },
                    "Generate needs exactly one of `fd:` or `map:`".into(),
                    Some("`fd:` issues pread/pwrite (or read/write), `map:` issues page touches".into()),
                ))
            }
        };
        let block = block.map_or(4096, |b| b.0);
        if block == 0 {
            return Err(self.err(l.field("block"), "block size is 0".into(), Some("use e.g. block: \"4k\"".into())));
        }
        let off = range.map_or(0, |r| r.off.0);
        let len = match range.and_then(|r| r.len) {
            Some(len) => len.0,
            None => target_len.saturating_sub(off),
        };
        let rl = l.field("range");
        if len == 0 {
            return Err(self.err(
                rl,
                format!("the generator's range is empty (the {what} is {})", fmt_size(target_len)),
                Some("give `range: (off: ..., len: ...)`".into()),
            ));
        }
        let read_pct = read_pct.unwrap_or(100);
        if read_pct > 100 {
            return Err(self.err(
                l.field("read_pct"),
                format!("read_pct = {read_pct} is above 100"),
                Some("read_pct is the percentage of ops that read, 0..=100".into()),
            ));
        }
        let past_end = off.checked_add(len).is_none_or(|end| end > target_len);
        if past_end && (matches!(target, Target::Map(_)) || read_pct == 100) {
            return Err(self.err(
                rl,
                format!(
                    "range [{}, +{}) is past the end of the {what} ({})",
                    fmt_size(off),
                    fmt_size(len),
                    fmt_size(target_len)
                ),
                Some(if matches!(target, Target::Map(_)) {
                    "touching outside a mapping is SIGSEGV on the real kernel".into()
                } else {
                    "reads past the end of a file return nothing".into()
                }),
            ));
        }
        let pl = l.field("pattern");
        let slots = len.div_ceil(block);
        let pattern = match pattern.unwrap_or(PatternDoc::Sequential) {
            PatternDoc::Sequential => Pattern::Sequential,
            PatternDoc::Reverse => Pattern::Reverse,
            PatternDoc::Strided { stride } => {
                if stride.0 == 0 || stride.0 % block != 0 {
                    return Err(self.err(
                        pl,
                        format!(
                            "stride {} is not a non-zero multiple of block ({})",
                            fmt_size(stride.0),
                            fmt_size(block)
                        ),
                        Some("offsets stay block-aligned, so the stride must be a multiple of the block".into()),
                    ));
                }
                Pattern::Strided { stride: stride.0 }
            }
            PatternDoc::Random => Pattern::Random,
            PatternDoc::Zipfian { theta } => {
                if !(theta > 0.0 && theta <= 10.0) {
                    return Err(self.err(
                        pl,
                        format!("Zipfian theta = {theta} is outside (0, 10]"),
                        Some("YCSB's default is 0.99".into()),
                    ));
                }
                Pattern::Zipfian(Zipf::new(slots, theta))
            }
            PatternDoc::HotCold { hot_fraction, hot_share } => {
                if !(hot_fraction > 0.0 && hot_fraction <= 1.0 && (0.0..=1.0).contains(&hot_share)) {
                    return Err(self.err(
                        pl,
                        format!("HotCold(hot_fraction: {hot_fraction}, hot_share: {hot_share}) is out of range"),
                        Some("hot_fraction is in (0, 1], hot_share in [0, 1]".into()),
                    ));
                }
                let hot_slots = ((slots as f64 * hot_fraction).round() as u64).clamp(1, slots);
                Pattern::HotCold { hot_slots, hot_share }
            }
            PatternDoc::Interleaved { streams } => {
                if streams == 0 || streams > slots {
                    return Err(self.err(
                        pl,
                        format!("Interleaved streams = {streams} is outside 1..={slots} (the range's blocks)"),
                        None,
                    ));
                }
                Pattern::Interleaved { streams }
            }
        };
        let use_file_pos = *syscall == Some(SyscallDoc::Read);
        if use_file_pos && (matches!(target, Target::Map(_)) || !matches!(pattern, Pattern::Sequential)) {
            return Err(self.err(
                l.field("syscall"),
                "syscall: Read needs `fd:` and pattern: Sequential".into(),
                Some("read(2) uses the file position, so only a sequential walk makes sense; use Pread".into()),
            ));
        }
        let limit = match (count, bytes) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    l.field("bytes"),
                    "count and bytes are both given".into(),
                    Some("give one: count (ops) or bytes (total I/O)".into()),
                ))
            }
            (Some(0), None) => return Err(self.err(l.field("count"), "count is 0".into(), None)),
            (None, Some(b)) if b.0 == 0 => return Err(self.err(l.field("bytes"), "bytes is 0".into(), None)),
            (Some(n), None) => Limit::Ops(*n),
            (None, Some(b)) => Limit::Bytes(b.0),
            (None, None) => Limit::Ops(match pattern {
                Pattern::Strided { stride } => len.div_ceil(stride),
                Pattern::Interleaved { streams } => slots / streams * streams,
                _ => slots,
            }),
        };
        let ordinal = self.prog.gens.len() as u64;
        let (seed, task) = (self.ctx.seed, self.ctx.task);
        Ok(GenSpec {
            target,
            pattern,
            block,
            off,
            len,
            limit,
            think_ns: think.0,
            read_pct,
            fsync_every: *fsync_every,
            use_file_pos,
            offsets_key: stream_key(seed, task, ordinal, PURPOSE_OFFSETS),
            mix_key: stream_key(seed, task, ordinal, PURPOSE_MIX),
        })
    }
}
