//! Data-integrity syncs (fs/sync.c, mm/filemap.c, fs/ext4/fsync.c): fsync and fdatasync (`vfs_fsync_range` ->
//! `ext4_sync_file`: `file_write_and_wait_range`, then the journal commit (fs/jbd2.rs) or a cache flush), sync_file_range's three flags, O_SYNC /
//! O_DSYNC writes (`generic_write_sync`), and sync(2) (`ksys_sync`: every device's dirty pages with WB_SYNC_ALL,
//! waited for, then a flush of each device).
//!
//! Simplifications, each marked DIVERGENCE at its line: the cache flush is one empty flush request (rwbs FF) served
//! as a write batch of no bytes; sync(2) writes from the calling task, not through the flusher's queued work, and
//! commits no journal; sync_file_range writes with WB_SYNC_NONE even with all three flags; fdatasync is fsync (the
//! journal commits whenever the inode changed).

use crate::fs::file::Files;
use crate::fs::writepages::Wbc;
use crate::kernel::{Kernel, Poll};
use crate::trace::event::EventKind;
use crate::trace::op::{Fd, SyncRangeFlags};
use crate::units::Nanos;

/// An fsync of bytes [start, end] of a file between its sleeps.
#[derive(Clone, Copy, Debug)]
pub struct FsyncCont {
    file: u32,
    start: u64,
    end: u64,
}

impl Kernel {
    /// vfs_fsync_range's state for `fsync_run`.
    pub fn fsync_start(&mut self, file: u32, start: u64, end: u64) -> FsyncCont {
        FsyncCont { file, start, end }
    }

    /// vfs_fsync_range: runs an fsync until it returns or sleeps.
    pub fn fsync_run(&mut self, c: &mut FsyncCont) -> Poll {
        self.vfs_fsync_range(c.file, c.start, c.end);
        Poll::Done(0)
    }

    /// __filemap_fdatawrite_range: starts writeback of the dirty folios of `file` in bytes [start, end]
    /// (WB_SYNC_ALL: all of them; WB_SYNC_NONE: those not already under writeback). Returns the pages started.
    pub fn filemap_fdatawrite_range(&mut self, file: u32, start: u64, end: u64, sync_all: bool) -> u64 {
        let mut wbc = Wbc { sync_all, nr_to_write: i64::MAX, range_cyclic: false, range_start: start, range_end: end };
        self.do_writepages(file, &mut wbc).0
    }

    /// filemap_fdatawait_range: the task sleeps until every folio of the range under writeback has completed.
    pub fn filemap_fdatawait_range(&mut self, file: u32, start: u64, end: u64) {
        if let Some(done) = self.writeback_done_at(file, start >> 12, end >> 12) {
            self.now = self.now.max(done);
        }
        self.complete_writeback(self.now);
    }

    /// blkdev_issue_flush: an empty flush request; the task waits for it.
    pub fn blkdev_issue_flush(&mut self, dev: usize) {
        let mut events = Vec::new();
        if self.events_on() {
            let device = self.devices[dev].name.clone();
            let rwbs: crate::trace::event::Name = std::sync::Arc::from("FF");
            self.emit(EventKind::BlockRqIssue {
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
        // DIVERGENCE: served as a write request of no bytes in the device's write batches (the device model has no
        // flush of its own).
        let done = self.queue_write_request(dev, 0, 0, None, events, None);
        self.now = self.now.max(done);
    }

    /// vfs_fsync_range -> ext4_sync_file: write and wait the range, then commit the journal when the inode changed in
    /// its running transaction (jbd2_complete_transaction: the commit is a barrier), else flush the device's cache.
    /// The inode is clean afterwards when no dirty page is left.
    pub fn vfs_fsync_range(&mut self, file: u32, start: u64, end: u64) {
        self.filemap_fdatawrite_range(file, start, end, true);
        self.filemap_fdatawait_range(file, start, end);
        let dev = self.inodes[file as usize].device;
        if std::mem::take(&mut self.inodes[file as usize].journal_pending) {
            self.commit(dev);
            // One commit covers every inode of the device changed in the transaction.
            for ino in self.inodes.iter_mut().filter(|i| i.device == dev) {
                ino.journal_pending = false;
            }
        } else {
            self.blkdev_issue_flush(dev);
        }
        self.inode_maybe_clean(file);
    }

    /// sync_file_range: WAIT_BEFORE waits for writeback in flight, WRITE starts writeback of the dirty pages
    /// (WB_SYNC_NONE: no waiting, no flush), WAIT_AFTER waits again. `len` 0 means to the end of the file.
    pub fn sync_file_range(&mut self, file: u32, off: u64, len: u64, flags: crate::trace::op::SyncRangeFlags) {
        let end = if len == 0 { u64::MAX >> 1 } else { off + len - 1 };
        if flags.wait_before {
            self.filemap_fdatawait_range(file, off, end);
        }
        if flags.write {
            // DIVERGENCE: always WB_SYNC_NONE; the kernel writes with WB_SYNC_ALL when WAIT_BEFORE, WRITE and
            // WAIT_AFTER are all set (SYNC_FILE_RANGE_WRITE_AND_WAIT).
            self.filemap_fdatawrite_range(file, off, end, false);
        }
        if flags.wait_after {
            self.filemap_fdatawait_range(file, off, end);
        }
    }

    /// ksys_sync: every file's dirty pages are written (WB_SYNC_ALL) and waited for, then each device is flushed.
    pub fn ksys_sync(&mut self) {
        // DIVERGENCE: the calling task writes and waits itself; the kernel wakes the flushers (wakeup_flusher_threads)
        // and queues a WB_SYNC_ALL work per wb (sync_inodes_sb), then commits the journal (->sync_fs) before the flush.
        for file in 0..self.inodes.len() as u32 {
            self.filemap_fdatawrite_range(file, 0, u64::MAX >> 1, true);
        }
        for file in 0..self.inodes.len() as u32 {
            self.filemap_fdatawait_range(file, 0, u64::MAX >> 1);
            self.inode_maybe_clean(file);
        }
        for dev in 0..self.devices.len() {
            self.blkdev_issue_flush(dev);
        }
        let _ = Nanos(0);
    }
}

impl Kernel {
    /// do_fsync (fsync(2) and fdatasync(2)): vfs_fsync_range over the whole file.
    pub fn do_fsync(&mut self, files: &mut Files, fd: Fd) -> i64 {
        let Some(d) = files.fget(fd) else { return -(libc::EBADF as i64) };
        let file = d.of.file;
        // DIVERGENCE: fdatasync does what fsync does: ext4 commits for fdatasync only when the inode's data-relevant
        // state changed (i_datasync_tid), not for a change of its times alone.
        self.vfs_fsync_range(file, 0, u64::MAX >> 1);
        0
    }

    /// ksys_sync_file_range on a descriptor.
    pub fn ksys_sync_file_range(
        &mut self,
        files: &mut Files,
        fd: Fd,
        off: u64,
        len: u64,
        flags: SyncRangeFlags,
    ) -> i64 {
        let Some(d) = files.fget(fd) else { return -(libc::EBADF as i64) };
        let file = d.of.file;
        self.sync_file_range(file, off, len, flags);
        0
    }
}
