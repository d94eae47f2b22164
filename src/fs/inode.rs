//! Inode times (fs/inode.c): the mtime update of a write or page_mkwrite and relatime's atime update, which dirty
//! the inode (I_DIRTY_SYNC) through fs-writeback's __mark_inode_dirty.

use crate::kernel::Kernel;
use crate::mm::page_writeback::jiffies_at;

impl Kernel {
    /// file_update_time (file_modified): mtime and ctime move to the coarse clock (one jiffy granularity: no
    /// multigrain query happens in these runs); when that changes them the inode is marked I_DIRTY_SYNC, and the
    /// next read will update atime (relatime: atime not after mtime).
    pub fn file_update_time(&mut self, file: u32) {
        // DIVERGENCE: the coarse clock only (one jiffy); 6.18's multigrain timestamps would give a fine-grained time
        // after a stat had queried ctime, which no modelled op does.
        let now = jiffies_at(self.now.0);
        let ino = &mut self.inodes[file as usize];
        if ino.mtime_tick == Some(now) {
            return;
        }
        ino.mtime_tick = Some(now);
        ino.atime_stale = true;
        self.mark_inode_dirty(file, true);
    }

    /// file_accessed -> touch_atime with relatime: atime is updated (I_DIRTY_SYNC) when it is not after mtime
    /// (the probe writes each file after creating it, so the first read of a run updates it).
    pub fn touch_atime(&mut self, file: u32) {
        if !self.inodes[file as usize].atime_stale {
            return;
        }
        self.inodes[file as usize].atime_stale = false;
        self.mark_inode_dirty(file, true);
    }
}
