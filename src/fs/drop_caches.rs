//! fs/drop_caches.c: `echo N > /proc/sys/vm/drop_caches`.

use crate::kernel::Kernel;
use crate::trace::op::DropWhat;

impl Kernel {
    /// drop_caches_sysctl_handler: for the page cache, drop_pagecache_sb -> invalidate_mapping_pages on every inode
    /// (clean, unlocked, unmapped folios go, without leaving shadow entries); the slab caches hold nothing the
    /// model keeps.
    pub fn drop_caches(&mut self, what: DropWhat) {
        // DIVERGENCE: 2 and 3 run no shrinker; the kernel's drop_slab runs every one at priority 0, the shadow-node
        // shrinker included (it frees the shadow-only nodes beyond its limit).
        if matches!(what, DropWhat::PageCache | DropWhat::All) {
            for file in 0..self.inodes.len() as u32 {
                self.invalidate_mapping_pages(file, 0, u64::MAX);
            }
        }
    }
}
