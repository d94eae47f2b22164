//! Inode times (fs/inode.c): the mtime update of a write or page_mkwrite and relatime's atime update, which dirty
//! the inode (I_DIRTY_SYNC) through fs-writeback's __mark_inode_dirty.

use crate::fs::fs_writeback::mark_inode_dirty;
use crate::mm::page_writeback::jiffies_at;
use crate::sim::kernel::Kernel;

/// file_update_time (file_modified): mtime and ctime move to the coarse clock (one jiffy granularity: no
/// multigrain query happens in these runs); when that changes them the inode is marked I_DIRTY_SYNC, and the
/// next read will update atime (relatime: atime not after mtime).
pub fn file_update_time(k: &mut Kernel, file: u32) {
    let now = jiffies_at(k.now.0);
    let ino = &mut k.inodes[file as usize];
    if ino.mtime_tick == Some(now) {
        return;
    }
    ino.mtime_tick = Some(now);
    ino.atime_stale = true;
    mark_inode_dirty(k, file, true);
}

/// file_accessed -> touch_atime with relatime: atime is updated (I_DIRTY_SYNC) when it is not after mtime
/// (the probe writes each file after creating it, so the first read of a run updates it).
pub fn touch_atime(k: &mut Kernel, file: u32) {
    if !k.inodes[file as usize].atime_stale {
        return;
    }
    k.inodes[file as usize].atime_stale = false;
    mark_inode_dirty(k, file, true);
}
