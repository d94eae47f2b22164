//! Data-integrity syncs (fs/sync.c, mm/filemap.c, fs/ext4/fsync.c): fsync and fdatasync (`vfs_fsync_range` ->
//! `ext4_sync_file`: `file_write_and_wait_range`, then the journal commit (fs/jbd2.rs) or a cache flush), sync_file_range's three flags, O_SYNC /
//! O_DSYNC writes (`generic_write_sync`), and sync(2) (`ksys_sync`: every device's dirty pages with WB_SYNC_ALL,
//! waited for, then a flush of each device).
//!
//! Simplifications (DIVERGENCE): the cache flush is one empty flush request (rwbs FF) served as a write batch of no
//! bytes; sync(2) writes from the calling task, not through the flusher's queued work, and commits no journal.

use crate::fs::writepages::{do_writepages, writeback_done_at, Wbc};
use crate::sim::kernel::Kernel;
use crate::trace::event::EventKind;
use crate::units::Nanos;

/// __filemap_fdatawrite_range: starts writeback of the dirty folios of `file` in bytes [start, end]
/// (WB_SYNC_ALL: all of them; WB_SYNC_NONE: those not already under writeback). Returns the pages started.
pub fn filemap_fdatawrite_range(k: &mut Kernel, file: u32, start: u64, end: u64, sync_all: bool) -> u64 {
    let mut wbc = Wbc { sync_all, nr_to_write: i64::MAX, range_cyclic: false, range_start: start, range_end: end };
    do_writepages(k, file, &mut wbc).0
}

/// filemap_fdatawait_range: the task sleeps until every folio of the range under writeback has completed.
pub fn filemap_fdatawait_range(k: &mut Kernel, file: u32, start: u64, end: u64) {
    if let Some(done) = writeback_done_at(k, file, start >> 12, end >> 12) {
        k.now = k.now.max(done);
    }
    crate::fs::writepages::complete_writeback(k, k.now);
}

/// blkdev_issue_flush: an empty flush request; the task waits for it.
pub fn blkdev_issue_flush(k: &mut Kernel, dev: usize) {
    let mut events = Vec::new();
    if k.events_on() {
        let device = k.devices[dev].name.clone();
        let rwbs: crate::trace::event::Name = std::sync::Arc::from("FF");
        k.emit(EventKind::BlockRqIssue {
            device: device.clone(),
            rwbs: rwbs.clone(),
            bytes: 0,
            sector: 0,
            nr_sector: 0,
        });
        events.push(EventKind::BlockRqComplete {
            device: device.clone(),
            rwbs: rwbs.clone(),
            sector: u64::MAX,
            nr_sector: 0,
            error: 0,
        });
        events.push(EventKind::BlockIoDone { device, rwbs, bytes: 0, sector: 0, nr_sector: 0 });
    }
    let done = crate::fs::writepages::queue_write_request(k, dev, 0, 0, None, events, None);
    k.now = k.now.max(done);
}

/// vfs_fsync_range -> ext4_sync_file: write and wait the range, then commit the journal when the inode changed in
/// its running transaction (jbd2_complete_transaction: the commit is a barrier), else flush the device's cache.
/// The inode is clean afterwards when no dirty page is left.
pub fn vfs_fsync_range(k: &mut Kernel, file: u32, start: u64, end: u64) {
    filemap_fdatawrite_range(k, file, start, end, true);
    filemap_fdatawait_range(k, file, start, end);
    let dev = k.inodes[file as usize].device;
    if std::mem::take(&mut k.inodes[file as usize].journal_pending) {
        crate::fs::jbd2::commit(k, dev);
        // One commit covers every inode of the device changed in the transaction.
        for ino in k.inodes.iter_mut().filter(|i| i.device == dev) {
            ino.journal_pending = false;
        }
    } else {
        blkdev_issue_flush(k, dev);
    }
    crate::fs::fs_writeback::inode_maybe_clean(k, file);
}

/// sync_file_range(2): WAIT_BEFORE waits for writeback in flight, WRITE starts writeback of the dirty pages
/// (WB_SYNC_NONE: no waiting, no flush), WAIT_AFTER waits again. `len` 0 means to the end of the file.
pub fn sync_file_range(k: &mut Kernel, file: u32, off: u64, len: u64, flags: crate::trace::op::SyncRangeFlags) {
    let end = if len == 0 { u64::MAX >> 1 } else { off + len - 1 };
    if flags.wait_before {
        filemap_fdatawait_range(k, file, off, end);
    }
    if flags.write {
        filemap_fdatawrite_range(k, file, off, end, false);
    }
    if flags.wait_after {
        filemap_fdatawait_range(k, file, off, end);
    }
}

/// ksys_sync: every file's dirty pages are written (WB_SYNC_ALL) and waited for, then each device is flushed.
pub fn ksys_sync(k: &mut Kernel) {
    for file in 0..k.inodes.len() as u32 {
        filemap_fdatawrite_range(k, file, 0, u64::MAX >> 1, true);
    }
    for file in 0..k.inodes.len() as u32 {
        filemap_fdatawait_range(k, file, 0, u64::MAX >> 1);
        crate::fs::fs_writeback::inode_maybe_clean(k, file);
    }
    for dev in 0..k.devices.len() {
        blkdev_issue_flush(k, dev);
    }
    let _ = Nanos(0);
}
