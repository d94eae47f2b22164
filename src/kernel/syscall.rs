//! The system call table (arch/x86/entry/syscall_64.c on the host): each `Op` (the one operation vocabulary)
//! dispatched to the function that mirrors its kernel entry point, in the context of the calling task (`Current`:
//! its files and mappings).

use crate::fs::file::Files;
use crate::fs::read_write::{iov_total, ReadCall, WriteCall};
use crate::fs::sync::{FsyncCont, SyncCont, SyncRangeCont};
use crate::mm::filemap::ReadFlags;
use crate::mm::memory::AccessCont;
use crate::mm::mmap::{Mm, MmapArgs};
use crate::trace::op::{Madvice, Op};

use super::cpu::CpuStalls;
use super::{Kernel, Poll, SyscallError};

/// The calling task's state a system call works on: `current`'s files_struct and mm_struct, the call it is asleep in
/// (if any), and what its CPU time costs.
#[derive(Clone, Debug)]
pub struct Current {
    pub files: Files,
    pub mm: Mm,
    /// A call asleep inside: its state to resume from.
    pub cont: Cont,
    /// The stalls its CPU time meets (a buffered writer's copies).
    pub cpu: CpuStalls,
}

/// A call asleep inside, with what it needs to resume where it stopped.
#[derive(Clone, Debug, Default)]
pub enum Cont {
    #[default]
    None,
    Read(ReadCall),
    Write(WriteCall),
    /// fsync, fdatasync, msync(MS_SYNC).
    Fsync(FsyncCont),
    SyncRange(SyncRangeCont),
    Sync(SyncCont),
    /// Accesses through a mapping (a Touch; MADV_POPULATE_READ with `populate`: the call returns 0).
    Access {
        a: AccessCont,
        populate: bool,
    },
}

impl Current {
    /// A task with no open files or mappings, its CPU stalls drawn from `cpu`.
    pub fn new(cpu: CpuStalls) -> Self {
        Current { files: Files::default(), mm: Mm::default(), cont: Cont::None, cpu }
    }

    /// The file of a buffered write op on a writable descriptor (the ops that call balance_dirty_pages_ratelimited).
    pub fn buffered_write_file(&mut self, op: &Op) -> Option<u32> {
        let fd = match op {
            Op::Write { fd, .. } | Op::Pwrite { fd, .. } | Op::Writev { fd, .. } | Op::Pwritev { fd, .. } => fd,
            _ => return None,
        };
        let d = self.files.fget(*fd)?;
        (d.writable && !d.direct).then_some(d.of.file)
    }
}

const EBADF: i64 = -(libc::EBADF as i64);

impl Kernel {
    /// x64_sys_call: runs `op` for the task `cur` at `self.now` (after the syscall entry cost) until it returns
    /// (`Poll::Done`: bytes or 0, or -errno) or sleeps inside (`Poll::Sleep(t)`: the engine calls again with the same
    /// op from `t`, and the call resumes from `cur.cont`). `Op::Sleep` is the engine's (it moves the task's clock)
    /// and returns 0 here.
    pub fn syscall(&mut self, cur: &mut Current, op: &Op) -> Result<Poll, SyscallError> {
        match std::mem::take(&mut cur.cont) {
            Cont::None => {}
            Cont::Read(call) => return Ok(self.run_read(cur, call)),
            Cont::Write(call) => return Ok(self.run_write(cur, call)),
            Cont::Access { a, populate } => return Ok(self.run_access(cur, a, populate)),
            Cont::Fsync(c) => return Ok(self.run_fsync(cur, c)),
            Cont::SyncRange(c) => return Ok(self.run_sync_range(cur, c)),
            Cont::Sync(c) => return Ok(self.run_sync(cur, c)),
        }
        let (files, mm) = (&mut cur.files, &mut cur.mm);
        Ok(Poll::Done(match op {
            Op::Open { fd, file, flags } => self.do_sys_open(files, *fd, *file, *flags)?,
            Op::Close { fd } => {
                if files.close_fd(*fd) {
                    0
                } else {
                    EBADF
                }
            }
            Op::Read { fd, len } => return Ok(self.read(cur, *fd, None, Some(*len), ReadFlags::default())),
            Op::Readv { fd, lens } => return Ok(self.read(cur, *fd, None, iov_total(lens), ReadFlags::default())),
            Op::Pread { fd, off, len } => return Ok(self.read(cur, *fd, Some(*off), Some(*len), ReadFlags::default())),
            Op::Preadv { fd, off, lens, flags } => {
                let flags = ReadFlags { nowait: flags.nowait };
                return Ok(self.read(cur, *fd, Some(*off), iov_total(lens), flags));
            }
            Op::Write { fd, len } => return Ok(self.write(cur, *fd, None, Some(*len), Default::default())),
            Op::Writev { fd, lens } => return Ok(self.write(cur, *fd, None, iov_total(lens), Default::default())),
            Op::Pwrite { fd, off, len } => return Ok(self.write(cur, *fd, Some(*off), Some(*len), Default::default())),
            // DIVERGENCE: refused: RWF_NOWAIT writes are not modelled.
            Op::Pwritev { flags, .. } if flags.nowait => {
                return Err(SyscallError::NotModelled("pwritev2 with RWF_NOWAIT"))
            }
            Op::Pwritev { fd, off, lens, flags } => {
                return Ok(self.write(cur, *fd, Some(*off), iov_total(lens), *flags))
            }
            Op::Lseek { fd, off, whence } => self.ksys_lseek(files, *fd, *off, *whence),
            // do_sendfile: the source read through the page cache (splice_read -> filemap_splice_read reads as
            // filemap_read does) to a sink that discards the data.
            Op::Sendfile { fd, off, len } => {
                return Ok(self.read(cur, *fd, Some(*off), Some(*len), ReadFlags::default()))
            }
            Op::Mmap { fd, map, off, len, write, shared } => {
                let a = MmapArgs { fd: *fd, map: *map, off: *off, len: *len, write: *write, shared: *shared };
                self.do_mmap(files, mm, a)?
            }
            Op::Munmap { map } => self.vm_munmap(mm, *map),
            Op::Touch { map, off, len, write } => match self.access_start(mm, *map, *off, *len, *write) {
                Ok(a) => return Ok(self.run_access(cur, a, false)),
                Err(r) => r,
            },
            Op::Madvise { map, off, len, advice: Madvice::PopulateRead } => {
                match self.madvise_populate_start(mm, *map, *off, *len) {
                    Ok(a) => return Ok(self.run_access(cur, a, true)),
                    Err(r) => r,
                }
            }
            Op::Madvise { map, off, len, advice } => self.do_madvise(files, mm, *map, *off, *len, *advice)?,
            Op::Msync { map, off, len, mode } => match self.ksys_msync_start(files, mm, *map, *off, *len, *mode) {
                Ok(Some(c)) => return Ok(self.run_fsync(cur, c)),
                Ok(None) => 0,
                Err(r) => r,
            },
            Op::Fsync { fd } | Op::Fdatasync { fd } => match self.do_fsync_start(files, *fd) {
                Ok(c) => return Ok(self.run_fsync(cur, c)),
                Err(r) => r,
            },
            Op::SyncFileRange { fd, off, len, flags } => {
                match self.ksys_sync_file_range_start(files, *fd, *off, *len, *flags) {
                    Ok(c) => return Ok(self.run_sync_range(cur, c)),
                    Err(r) => r,
                }
            }
            Op::Sync => {
                let c = self.ksys_sync_start();
                return Ok(self.run_sync(cur, c));
            }
            Op::Fadvise { fd, off, len, advice } => self.ksys_fadvise64_64(files, *fd, *off, *len, *advice),
            Op::Readahead { fd, off, len } => self.ksys_readahead(files, *fd, *off, *len),
            Op::Ftruncate { fd, len } => {
                let Some(d) = files.fget(*fd) else { return Ok(Poll::Done(EBADF)) };
                self.do_ftruncate(d.of.file, d.writable, *len)?
            }
            Op::Fallocate { fd, mode, off, len } => {
                let Some(d) = files.fget(*fd) else { return Ok(Poll::Done(EBADF)) };
                self.vfs_fallocate(d.of.file, d.writable, *mode, *off, *len)?
            }
            Op::Cachestat { fd, off, len } => self.ksys_cachestat(files, *fd, *off, *len),
            Op::DropCaches { what } => {
                self.drop_caches(*what);
                0
            }
            Op::Sleep { .. } => 0,
        }))
    }

    /// ksys_read / ksys_pread64 / do_readv / do_preadv / do_sendfile: a read call started, then run until it returns or sleeps.
    fn read(
        &mut self,
        cur: &mut Current,
        fd: crate::trace::op::Fd,
        pos: Option<u64>,
        len: Option<u64>,
        flags: ReadFlags,
    ) -> Poll {
        match self.read_start(&mut cur.files, fd, pos, len, flags) {
            Ok(call) => self.run_read(cur, call),
            Err(r) => Poll::Done(r),
        }
    }

    /// Model: runs a read call; a sleep keeps its state in `cur.cont`.
    fn run_read(&mut self, cur: &mut Current, mut call: ReadCall) -> Poll {
        let p = self.read_run(&mut cur.files, &mut call);
        if let Poll::Sleep(_) = p {
            cur.cont = Cont::Read(call);
        }
        p
    }

    /// ksys_write / ksys_pwrite64 / do_writev / do_pwritev: a write call started, then run until it returns or sleeps.
    fn write(
        &mut self,
        cur: &mut Current,
        fd: crate::trace::op::Fd,
        pos: Option<u64>,
        len: Option<u64>,
        rwf: crate::trace::op::RwFlags,
    ) -> Poll {
        match self.write_start(&mut cur.files, fd, pos, len, rwf) {
            Ok(call) => self.run_write(cur, call),
            Err(r) => Poll::Done(r),
        }
    }

    /// Model: runs accesses through a mapping; a sleep keeps their state in `cur.cont`.
    fn run_access(&mut self, cur: &mut Current, mut a: AccessCont, populate: bool) -> Poll {
        match self.access_run(&mut cur.files, &mut cur.mm, &mut a) {
            Poll::Sleep(t) => {
                cur.cont = Cont::Access { a, populate };
                Poll::Sleep(t)
            }
            Poll::Done(r) if populate => Poll::Done(r.min(0)),
            done => done,
        }
    }

    /// Model: runs an fsync; a sleep keeps its state in `cur.cont`.
    fn run_fsync(&mut self, cur: &mut Current, mut c: FsyncCont) -> Poll {
        let p = self.fsync_run(&mut c);
        if let Poll::Sleep(_) = p {
            cur.cont = Cont::Fsync(c);
        }
        p
    }

    /// Model: runs a sync_file_range; a sleep keeps its state in `cur.cont`.
    fn run_sync_range(&mut self, cur: &mut Current, mut c: SyncRangeCont) -> Poll {
        let p = self.sync_file_range_run(&mut c);
        if let Poll::Sleep(_) = p {
            cur.cont = Cont::SyncRange(c);
        }
        p
    }

    /// Model: runs a sync(2); a sleep keeps its state in `cur.cont`.
    fn run_sync(&mut self, cur: &mut Current, mut c: SyncCont) -> Poll {
        let p = self.ksys_sync_run(&mut c);
        if let Poll::Sleep(_) = p {
            cur.cont = Cont::Sync(c);
        }
        p
    }

    /// Model: runs a write call; a sleep keeps its state in `cur.cont`.
    fn run_write(&mut self, cur: &mut Current, mut call: WriteCall) -> Poll {
        let p = self.write_run(&mut cur.files, &mut cur.cpu, &mut call);
        if let Poll::Sleep(_) = p {
            cur.cont = Cont::Write(call);
        }
        p
    }
}
