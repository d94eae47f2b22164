//! Compiles one task's op list into a [`Program`], resolving file, descriptor and mapping names and checking that
//! each op can run where it stands (descriptors open, mappings mapped, ranges inside mappings, generator
//! parameters sane). Every error points at the offending token.
//!
//! The check is a walk in program order that tracks which descriptors are open and which mappings exist. A
//! `Repeat` with a count of 2 or more walks its body a second time, starting from the state the first pass left,
//! so `Repeat(count: 2, ops: [Read(fd: "a", ...), Close(fd: "a")])` is refused (the second read finds `a` closed).
//! One extra pass suffices because a pass's effect on that state is idempotent.

use super::compile_gen::{gen_spec, Walked};
use super::diag::{check_name, error, fmt_size, known};
use super::generate::{GenSpec, Target, PURPOSE_MIX, PURPOSE_OFFSETS};
use super::locate::Loc;
use super::schema::{OpDoc, OpenFlagDoc, SyncRangeFlagDoc, TaskDoc};
use super::stream::{Node, Program};
use super::{FileSpec, ScenarioError, TaskSpec};
use crate::rng::stream_key;
use crate::trace::op::{Access, Fd, FileId, MapId, Op, OpenFlags, RwFlags, SyncRangeFlags};
use crate::units::Size;
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
        let op = match op {
            D::Open { file, fd, flags } => self.open(file, fd.as_deref(), flags, l)?,
            D::Mmap { fd: n, map, off, len, write, shared } => {
                let (fd, map, len) = self.mmap(n, map.as_deref(), off.0, *len, l, again)?;
                Op::Mmap { fd, map, off: off.0, len, write: *write, shared: *shared }
            }
            D::Munmap { .. } | D::Touch { .. } | D::Madvise { .. } | D::Msync { .. } => self.map_op(op, l, again)?,
            D::Sleep(t) => Op::Sleep { ns: t.0 },
            D::DropCaches(what) => Op::DropCaches { what: *what },
            D::Sync => Op::Sync,
            D::Repeat { count, ops } => return self.repeat(*count, ops, l, emit, again),
            D::Generate { .. } => {
                let spec = self.generate(op, l, again)?;
                if !emit {
                    return Ok(None);
                }
                self.prog.gens.push(spec);
                return Ok(Some(Node::Gen(self.prog.gens.len() - 1)));
            }
            _ => self.fd_op(op, l, again)?,
        };
        Ok(emit.then_some(Node::Op(op)))
    }

    /// An `Open`: the file resolved, the descriptor's name checked and not open already, the flags read.
    fn open(
        &mut self,
        file: &str,
        fd: Option<&str>,
        flags: &Option<Vec<OpenFlagDoc>>,
        l: Loc,
    ) -> Result<Op, ScenarioError> {
        let (fid, _) = self.file(file, l.field("file"))?;
        let name = fd.unwrap_or(file);
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
        Ok(Op::Open { fd: Fd(slot), file: fid, flags })
    }

    /// An `Mmap` of fd `n` from `off`: its descriptor, the mapping's slot (named `map`, else after the fd, and not
    /// mapped already) and its length.
    fn mmap(
        &mut self,
        n: &str,
        map: Option<&str>,
        off: u64,
        len: Option<Size>,
        l: Loc,
        again: bool,
    ) -> Result<(Fd, MapId, u64), ScenarioError> {
        let (fd, file) = self.fd(n, l.field("fd"), again)?;
        let name = map.unwrap_or(n);
        check_name(self.ctx.origin, "map", name, l.field(if map.is_some() { "map" } else { "fd" }))?;
        let len = self.mmap_len(off, len, self.ctx.files[file.0 as usize].size, l)?;
        let slot = slot(&mut self.maps, name);
        if self.mapped.contains_key(&slot) {
            return Err(self.err(
                l.field("map"),
                format!("map `{name}` is already mapped"),
                Some("Munmap it first, or give this Mmap another `map:` name".into()),
            ));
        }
        self.mapped.insert(slot, len);
        Ok((fd, MapId(slot), len))
    }

    /// The length of a mapping from `off` of a file of `file_size` bytes: `len`, not 0, or the rest of the file.
    fn mmap_len(&self, off: u64, len: Option<Size>, file_size: u64, l: Loc) -> Result<u64, ScenarioError> {
        match len {
            Some(len) if len.0 == 0 => Err(self.err(
                l.field("len"),
                "mmap of 0 bytes".into(),
                Some("leave len out to map the whole file".into()),
            )),
            Some(len) => Ok(len.0),
            None if off < file_size => Ok(file_size - off),
            None => Err(self.err(
                l,
                format!("mapping from {} would be empty: the file is {}", fmt_size(off), fmt_size(file_size)),
                Some("give `len:` explicitly".into()),
            )),
        }
    }

    /// An op on a mapping (`Munmap`, `Touch`, `Madvise`, `Msync`): the mapping mapped, the range inside it.
    fn map_op(&mut self, op: &OpDoc, l: Loc, again: bool) -> Result<Op, ScenarioError> {
        use OpDoc as D;
        Ok(match op {
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
            _ => unreachable!("map_op() is called on ops that name a mapping"),
        })
    }

    /// An op on a descriptor (every op `op` does not handle itself): the descriptor open.
    fn fd_op(&mut self, op: &OpDoc, l: Loc, again: bool) -> Result<Op, ScenarioError> {
        use OpDoc as D;
        let fd = |c: &Self, name: &str| c.fd(name, l.field("fd"), again).map(|(fd, _)| fd);
        let lens = |v: &[Size]| v.iter().map(|s| s.0).collect::<Vec<_>>();
        Ok(match op {
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
            D::Fsync { fd: n } => Op::Fsync { fd: fd(self, n)? },
            D::Fdatasync { fd: n } => Op::Fdatasync { fd: fd(self, n)? },
            D::SyncFileRange { fd: n, off, len, flags } => {
                let flags = sync_range_flags(flags);
                Op::SyncFileRange { fd: fd(self, n)?, off: off.0, len: len.0, flags }
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
                self.cachestat_range(off.0, len.0, l)?;
                Op::Cachestat { fd, off: off.0, len: len.0 }
            }
            _ => unreachable!("fd_op() is called on ops that name a descriptor"),
        })
    }

    /// Checks a `Cachestat` range: the kernel computes the last page as (off + len - 1) >> PAGE_SHIFT in 64 bits.
    fn cachestat_range(&self, off: u64, len: u64, l: Loc) -> Result<(), ScenarioError> {
        if off.checked_add(len).is_none() {
            return Err(self.err(
                l.field("len"),
                format!("off + len ({} + {}) overflows 64 bits", fmt_size(off), fmt_size(len)),
                Some("len 0 means to the end of the file".into()),
            ));
        }
        Ok(())
    }

    /// A `Repeat`: its body walked (into a block of its own when emitting), and when it repeats walked again from
    /// the state the first pass left.
    fn repeat(
        &mut self,
        count: u64,
        ops: &[OpDoc],
        l: Loc,
        emit: bool,
        again: bool,
    ) -> Result<Option<Node>, ScenarioError> {
        if count == 0 {
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
        if count >= 2 && emit {
            self.block(ops, l.field("ops"), None, true)?;
        }
        Ok(block.map(|block| Node::Repeat { count, block }))
    }

    /// Resolves a `Generate(...)`: its target here, the rest in [`gen_spec`]; its stream keys use its ordinal (the
    /// number of generators before it).
    fn generate(&self, op: &OpDoc, l: Loc, again: bool) -> Result<GenSpec, ScenarioError> {
        let OpDoc::Generate { fd, map, .. } = op else {
            unreachable!("generate() is called on Generate ops");
        };
        let walked = match (fd, map) {
            (Some(n), None) => {
                let (fd, file) = self.fd(n, l.field("fd"), again)?;
                Walked {
                    target: Target::Fd(fd),
                    len: self.ctx.files[file.0 as usize].size,
                    what: format!("file of fd `{n}`"),
                }
            }
            (None, Some(n)) => {
                let (map, len) = self.map(n, l.field("map"), again)?;
                Walked { target: Target::Map(map), len, what: format!("map `{n}`") }
            }
            _ => {
                return Err(self.err(
                    if fd.is_some() { l.field("map") } else { l },
                    "Generate needs exactly one of `fd:` or `map:`".into(),
                    Some("`fd:` issues pread/pwrite (or read/write), `map:` issues page touches".into()),
                ))
            }
        };
        let ordinal = self.prog.gens.len() as u64;
        let (seed, task) = (self.ctx.seed, self.ctx.task);
        let keys = [stream_key(seed, task, ordinal, PURPOSE_OFFSETS), stream_key(seed, task, ordinal, PURPOSE_MIX)];
        gen_spec(self.ctx.origin, op, l, walked, keys)
    }
}

/// The flags of a `SyncFileRange` (WRITE when left out).
fn sync_range_flags(flags: &Option<Vec<SyncRangeFlagDoc>>) -> SyncRangeFlags {
    let mut f = SyncRangeFlags::default();
    for flag in flags.as_deref().unwrap_or(&[SyncRangeFlagDoc::WRITE]) {
        match flag {
            SyncRangeFlagDoc::WAIT_BEFORE => f.wait_before = true,
            SyncRangeFlagDoc::WRITE => f.write = true,
            SyncRangeFlagDoc::WAIT_AFTER => f.wait_after = true,
        }
    }
    f
}
