//! fs/open.c (6.18): open(2) (`do_sys_open`), and the argument checks of ftruncate(2) (`do_ftruncate`) and
//! fallocate(2) (`vfs_fallocate`) before the filesystem's ->setattr / ->fallocate (`super::ext4`).

use super::ext4::{s_maxbytes, Unsupported};
use super::file::{File, Files};
use crate::fs::file::FileRaState;
use crate::fs::file::OpenFile;
use crate::kernel::Kernel;
use crate::trace::op::{FallocMode, Fd, FileId, OpenFlags};

impl Kernel {
    /// do_ftruncate on a descriptor opened with `writable`: EINVAL for a negative length or a descriptor not open for
    /// writing, EFBIG past the filesystem's largest file; then do_truncate -> notify_change -> ->setattr(ATTR_SIZE).
    pub fn do_ftruncate(&mut self, file: u32, writable: bool, length: u64) -> Result<i64, Unsupported> {
        if length > i64::MAX as u64 || !writable {
            return Ok(-(libc::EINVAL as i64));
        }
        if length > s_maxbytes(self.fs_block_size(file)) {
            return Ok(-(libc::EFBIG as i64));
        }
        self.ext4_setattr_size(file, length)
    }

    /// vfs_fallocate: EINVAL for a negative offset or a length that is not positive, EBADF for a descriptor not open
    /// for writing, EFBIG past the filesystem's largest file; then ->fallocate.
    pub fn vfs_fallocate(
        &mut self,
        file: u32,
        writable: bool,
        mode: FallocMode,
        offset: u64,
        len: u64,
    ) -> Result<i64, Unsupported> {
        if offset > i64::MAX as u64 || len == 0 || len > i64::MAX as u64 {
            return Ok(-(libc::EINVAL as i64));
        }
        if !writable {
            return Ok(-(libc::EBADF as i64));
        }
        let end = offset + len;
        if end > i64::MAX as u64 || end > s_maxbytes(self.fs_block_size(file)) {
            return Ok(-(libc::EFBIG as i64));
        }
        self.ext4_fallocate(file, mode, offset, len)
    }
}

impl Kernel {
    /// do_sys_open of scenario file `file` into descriptor `fd`: a new open file description at position 0, its
    /// readahead state from the device's bdi->ra_pages (file_ra_state_init); O_TRUNC truncates to 0 whatever the
    /// access mode (do_open -> handle_truncate).
    pub fn do_sys_open(
        &mut self,
        files: &mut Files,
        fd: Fd,
        file: FileId,
        flags: OpenFlags,
    ) -> Result<i64, Unsupported> {
        let ra = FileRaState::new(self.ra_pages[self.inodes[file.0 as usize].device]);
        if flags.trunc {
            self.ext4_setattr_size(file.0, 0)?;
        }
        let of = OpenFile { file: file.0, ra, random: false, noreuse: false };
        files.install(
            fd,
            File {
                of,
                pos: 0,
                direct: flags.direct,
                readable: flags.can_read(),
                writable: flags.can_write(),
                append: flags.append,
                sync: flags.sync || flags.dsync,
            },
        );
        Ok(0)
    }
}
