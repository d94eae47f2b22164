//! fs/read_write.c (6.18): read(2), pread64(2), readv(2), preadv2(2), write(2), pwrite64(2), writev(2),
//! pwritev2(2), lseek(2) and sendfile(2) on a regular file: the descriptor checks, the file position, and
//! vfs_read / vfs_write into the page cache or O_DIRECT.

use crate::kernel::Kernel;
use crate::mm::filemap::ReadFlags;
use crate::trace::op::{Fd, RwFlags, Whence};

use super::file::{File, Files};

const EBADF: i64 = -(libc::EBADF as i64);
const EINVAL: i64 = -(libc::EINVAL as i64);

/// import_iovec: the bytes of an iovec array; `None` on overflow (EINVAL).
pub fn iov_total(lens: &[u64]) -> Option<u64> {
    lens.iter().try_fold(0u64, |a, &l| a.checked_add(l))
}

impl Kernel {
    /// vfs_read on a regular file: O_DIRECT to the device (iomap_dio_rw), else the page cache (filemap_read).
    pub fn vfs_read(&mut self, d: &mut File, pos: u64, len: u64, flags: ReadFlags) -> i64 {
        if !d.readable {
            return EBADF;
        }
        if d.direct {
            return self.iomap_dio_read(d.of.file, pos, len);
        }
        self.filemap_read(&mut d.of, pos, len, flags)
    }

    /// vfs_write on a regular file: the buffered write path (generic_perform_write) at `pos`, or at the end of the
    /// file for O_APPEND / a write at the file position (`None`: the caller advances it), then for O_SYNC/O_DSYNC
    /// the range's fsync; O_DIRECT writes go to the device (fs/direct_io.rs).
    pub fn vfs_write(&mut self, d: &mut File, pos: Option<u64>, len: u64) -> i64 {
        if !d.writable {
            return EBADF;
        }
        if d.direct {
            let at = match pos {
                Some(p) => p,
                None if d.append => self.inodes[d.of.file as usize].size,
                None => d.pos,
            };
            let r = self.direct_write(d.of.file, at, len);
            if r > 0 && pos.is_none() && d.append {
                d.pos = at;
            }
            return r;
        }
        let at = match pos {
            Some(p) => p,
            None if d.append => {
                d.pos = self.inodes[d.of.file as usize].size;
                d.pos
            }
            None => d.pos,
        };
        let r = self.generic_perform_write(d.of.file, at, len, true);
        if r > 0 && d.sync {
            // O_SYNC / O_DSYNC: generic_write_sync -> vfs_fsync_range on the written range.
            self.vfs_fsync_range(d.of.file, at, at + r as u64 - 1);
        }
        r
    }

    /// ksys_read / do_readv: at the file position, which advances by what was read. `len` is `None` when an
    /// iovec array's lengths overflow (EINVAL after the descriptor check, as rw_copy_check_uvector).
    pub fn ksys_read(&mut self, files: &mut Files, fd: Fd, len: Option<u64>) -> i64 {
        let Some(d) = files.fget(fd) else { return EBADF };
        let Some(len) = len else { return EINVAL };
        let r = self.vfs_read(d, d.pos, len, ReadFlags::default());
        if r > 0 {
            d.pos += r as u64;
        }
        r
    }

    /// ksys_pread64 / do_preadv: at `off`; the position does not move.
    pub fn ksys_pread64(&mut self, files: &mut Files, fd: Fd, off: u64, len: Option<u64>, flags: RwFlags) -> i64 {
        let Some(d) = files.fget(fd) else { return EBADF };
        let Some(len) = len else { return EINVAL };
        self.vfs_read(d, off, len, ReadFlags { nowait: flags.nowait })
    }

    /// ksys_write / do_writev: at the file position (or the end with O_APPEND), which advances.
    pub fn ksys_write(&mut self, files: &mut Files, fd: Fd, len: Option<u64>) -> i64 {
        let Some(d) = files.fget(fd) else { return EBADF };
        let Some(len) = len else { return EINVAL };
        let r = self.vfs_write(d, None, len);
        if r > 0 {
            d.pos += r as u64;
        }
        r
    }

    /// ksys_pwrite64 / do_pwritev: at `off`; RWF_DSYNC / RWF_SYNC sync the written range (generic_write_sync).
    pub fn ksys_pwrite64(&mut self, files: &mut Files, fd: Fd, off: u64, len: Option<u64>, flags: RwFlags) -> i64 {
        let Some(d) = files.fget(fd) else { return EBADF };
        let Some(len) = len else { return EINVAL };
        let r = self.vfs_write(d, Some(off), len);
        if r > 0 && (flags.dsync || flags.sync) && !d.sync {
            self.vfs_fsync_range(d.of.file, off, off + r as u64 - 1);
        }
        r
    }

    /// ksys_lseek -> generic_file_llseek_size: SEEK_DATA and SEEK_HOLE as for a file without holes (the data runs
    /// to i_size); EINVAL for a negative or overflowing position, ENXIO at or past i_size for DATA/HOLE.
    pub fn ksys_lseek(&mut self, files: &mut Files, fd: Fd, off: i64, whence: Whence) -> i64 {
        let Some(d) = files.fget(fd) else { return EBADF };
        let size = self.inodes[d.of.file as usize].size as i64;
        // DIVERGENCE: SEEK_DATA and SEEK_HOLE ignore the file's holes (ext4_llseek asks the extent tree: a punched
        // hole or an unwritten extent is a hole to it).
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => d.pos as i64,
            Whence::End => size,
            Whence::Data | Whence::Hole if off >= size => return -(libc::ENXIO as i64),
            Whence::Data => 0,
            Whence::Hole => {
                d.pos = size as u64;
                return size;
            }
        };
        let Some(new) = base.checked_add(off) else { return EINVAL };
        if new < 0 {
            return EINVAL;
        }
        d.pos = new as u64;
        new
    }

    /// do_sendfile from `fd` at `off` to a sink that discards the data: the source is read through the page cache
    /// (splice_read -> filemap_splice_read reads as filemap_read does).
    pub fn do_sendfile(&mut self, files: &mut Files, fd: Fd, off: u64, len: u64) -> i64 {
        let Some(d) = files.fget(fd) else { return EBADF };
        self.vfs_read(d, off, len, ReadFlags::default())
    }
}
