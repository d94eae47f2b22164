//! O_DIRECT writes (fs/iomap/direct-io.c `iomap_dio_rw` for ext4, mm/filemap.c `kiocb_invalidate_pages`,
//! `kiocb_invalidate_post_direct_write`, mm/truncate.c `invalidate_inode_pages2_range`): 512-byte alignment or
//! EINVAL; the cached range is written back and waited for, then dropped; the bios go straight to the device
//! (REQ_SYNC: rwbs WS) and the task waits; the range is invalidated again after the write; i_size grows.
//!
//! Simplifications (DIVERGENCE): no FUA for O_DSYNC (ext4 falls back to a journal commit + flush when the write
//! allocates, which the model does not write either); unwritten-extent conversion is not modelled.

use crate::kernel::Kernel;

impl Kernel {
    /// iomap_dio_rw for a write of `len` bytes at `pos` of `file`. Returns the bytes written or -EINVAL.
    pub fn direct_write(&mut self, file: u32, pos: u64, len: u64) -> i64 {
        if pos % 512 != 0 || len % 512 != 0 {
            return -(libc::EINVAL as i64);
        }
        if len == 0 {
            return 0;
        }
        let end = pos + len - 1;
        self.filemap_fdatawrite_range(file, pos, end, true);
        self.filemap_fdatawait_range(file, pos, end);
        // kiocb_invalidate_pages; -EBUSY (a folio dirtied again meanwhile) would fall back to a buffered write.
        let _ = self.invalidate_inode_pages2_range(file, pos >> 12, end >> 12);
        self.dio_bio_write(file, pos, len);
        // kiocb_invalidate_post_direct_write.
        let _ = self.invalidate_inode_pages2_range(file, pos >> 12, end >> 12);
        let ino = &mut self.inodes[file as usize];
        ino.size = ino.size.max(pos + len);
        ino.allocated = ino.allocated.max(pos + len);
        len as i64
    }
}
