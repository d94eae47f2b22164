//! The system call table (arch/x86/entry/syscall_64.c on the host): each `Op` (the one operation vocabulary)
//! dispatched to the function that mirrors its kernel entry point, in the context of the calling task (`Current`:
//! its files and mappings).

use crate::fs::file::Files;
use crate::fs::read_write::iov_total;
use crate::mm::mmap::{Mm, MmapArgs};
use crate::trace::op::Op;

use super::{Kernel, SyscallError};

/// The calling task's state a system call works on (`current`'s files_struct and mm_struct).
#[derive(Clone, Debug, Default)]
pub struct Current {
    pub files: Files,
    pub mm: Mm,
}

impl Current {
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
    /// x64_sys_call: runs `op` for the task `cur` at `self.now` (after the syscall entry cost); returns what the call
    /// returns (bytes or 0, or -errno). `Op::Sleep` is the engine's (it moves the task's clock) and returns 0 here.
    pub fn syscall(&mut self, cur: &mut Current, op: &Op) -> Result<i64, SyscallError> {
        let (files, mm) = (&mut cur.files, &mut cur.mm);
        Ok(match op {
            Op::Open { fd, file, flags } => self.do_sys_open(files, *fd, *file, *flags)?,
            Op::Close { fd } => {
                if files.close_fd(*fd) {
                    0
                } else {
                    EBADF
                }
            }
            Op::Read { fd, len } => self.ksys_read(files, *fd, Some(*len)),
            Op::Readv { fd, lens } => self.ksys_read(files, *fd, iov_total(lens)),
            Op::Pread { fd, off, len } => self.ksys_pread64(files, *fd, *off, Some(*len), Default::default()),
            Op::Preadv { fd, off, lens, flags } => self.ksys_pread64(files, *fd, *off, iov_total(lens), *flags),
            Op::Write { fd, len } => self.ksys_write(files, *fd, Some(*len)),
            Op::Writev { fd, lens } => self.ksys_write(files, *fd, iov_total(lens)),
            Op::Pwrite { fd, off, len } => self.ksys_pwrite64(files, *fd, *off, Some(*len), Default::default()),
            // DIVERGENCE: refused: RWF_NOWAIT writes are not modelled.
            Op::Pwritev { flags, .. } if flags.nowait => {
                return Err(SyscallError::NotModelled("pwritev2 with RWF_NOWAIT"))
            }
            Op::Pwritev { fd, off, lens, flags } => self.ksys_pwrite64(files, *fd, *off, iov_total(lens), *flags),
            Op::Lseek { fd, off, whence } => self.ksys_lseek(files, *fd, *off, *whence),
            Op::Sendfile { fd, off, len } => self.do_sendfile(files, *fd, *off, *len),
            Op::Mmap { fd, map, off, len, write, shared } => {
                let a = MmapArgs { fd: *fd, map: *map, off: *off, len: *len, write: *write, shared: *shared };
                self.do_mmap(files, mm, a)?
            }
            Op::Munmap { map } => self.vm_munmap(mm, *map),
            Op::Touch { map, off, len, write } => self.access_mapping(files, mm, *map, *off, *len, *write),
            Op::Madvise { map, off, len, advice } => self.do_madvise(files, mm, *map, *off, *len, *advice)?,
            Op::Msync { map, off, len, mode } => self.ksys_msync(files, mm, *map, *off, *len, *mode),
            Op::Fsync { fd } | Op::Fdatasync { fd } => self.do_fsync(files, *fd),
            Op::SyncFileRange { fd, off, len, flags } => self.ksys_sync_file_range(files, *fd, *off, *len, *flags),
            Op::Sync => {
                self.ksys_sync();
                0
            }
            Op::Fadvise { fd, off, len, advice } => self.ksys_fadvise64_64(files, *fd, *off, *len, *advice),
            Op::Readahead { fd, off, len } => self.ksys_readahead(files, *fd, *off, *len),
            Op::Ftruncate { fd, len } => {
                let Some(d) = files.fget(*fd) else { return Ok(EBADF) };
                self.do_ftruncate(d.of.file, d.writable, *len)?
            }
            Op::Fallocate { fd, mode, off, len } => {
                let Some(d) = files.fget(*fd) else { return Ok(EBADF) };
                self.vfs_fallocate(d.of.file, d.writable, *mode, *off, *len)?
            }
            Op::Cachestat { fd, off, len } => self.ksys_cachestat(files, *fd, *off, *len),
            Op::DropCaches { what } => {
                self.drop_caches(*what);
                0
            }
            Op::Sleep { .. } => 0,
        })
    }
}
