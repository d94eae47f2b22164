//! Data-integrity syncs (fs/sync.c, mm/filemap.c, fs/ext4/fsync.c): fsync and fdatasync (`vfs_fsync_range` ->
//! `ext4_sync_file`: `file_write_and_wait_range`, then the journal commit (fs/jbd2.rs) or a cache flush), sync_file_range's three flags, O_SYNC /
//! O_DSYNC writes (`generic_write_sync`), and sync(2) (`ksys_sync`: every device's dirty pages with WB_SYNC_ALL,
//! waited for, then a flush of each device). Each is a small state machine: the task sleeps while writeback it
//! waits for is in flight, while the journal commits, and while a flush is served, and resumes where it stopped.
//!
//! Simplifications, each marked DIVERGENCE at its line: the cache flush is one empty flush request (rwbs FF) served
//! as a write batch of no bytes; sync(2) writes from the calling task, not through the flusher's queued work, and
//! commits no journal; sync_file_range writes with WB_SYNC_NONE even with all three flags; fdatasync is fsync (the
//! journal commits whenever the inode changed).

use crate::fs::file::Files;
use crate::fs::jbd2::CommitCont;
use crate::kernel::writeback::{Wbc, WritepagesCont};
use crate::kernel::Blocked;
use crate::kernel::{Kernel, Poll};
use crate::trace::event::EventKind;
use crate::trace::op::{Fd, SyncRangeFlags};
use crate::units::Nanos;

/// An fsync of bytes [start, end] of a file between its sleeps.
#[derive(Clone, Debug)]
pub struct FsyncCont {
    file: u32,
    start: u64,
    end: u64,
    stage: FsyncStage,
}

/// Where an fsync stands.
#[derive(Clone, Debug)]
enum FsyncStage {
    /// file_write_and_wait_range: start the writeback (the writepages call, once started).
    Write(Option<WritepagesCont>),
    /// ... and wait for it.
    Wait,
    /// jbd2_complete_transaction: the journal commits.
    Commit(CommitCont),
    /// blkdev_issue_flush, waiting for the flush (issued when `Some`).
    Flush(Option<Nanos>),
}

/// A sync_file_range(2) call between its sleeps.
#[derive(Clone, Debug)]
pub struct SyncRangeCont {
    file: u32,
    start: u64,
    end: u64,
    flags: SyncRangeFlags,
    /// 0: WAIT_BEFORE, 1: WRITE, 2: WAIT_AFTER, 3: done.
    stage: u8,
    /// WRITE's writepages call, once started.
    write: Option<WritepagesCont>,
}

/// A sync(2) call between its sleeps: the files written, then each waited for, then each device flushed.
#[derive(Clone, Debug)]
pub struct SyncCont {
    /// The file written (its writepages call, once started), until all are.
    writing: usize,
    write: Option<WritepagesCont>,
    /// The file waited for, then (past the files) the device flushed.
    next: usize,
    /// The flush in flight, when one is.
    flush: Option<Nanos>,
}

impl Kernel {
    /// __filemap_fdatawrite_range: starts writeback of the dirty folios of `file` in bytes [start, end]
    /// (WB_SYNC_ALL: all of them; WB_SYNC_NONE: those not already under writeback), the writepages call kept in
    /// `wp` while the task sleeps in it (`Err`: asleep until then; call again).
    pub fn filemap_fdatawrite_range(
        &mut self,
        wp: &mut Option<WritepagesCont>,
        file: u32,
        start: u64,
        end: u64,
        sync_all: bool,
    ) -> Result<(), Blocked> {
        let c = wp.get_or_insert_with(|| {
            let wbc = Wbc { sync_all, nr_to_write: i64::MAX, range_cyclic: false, range_start: start, range_end: end };
            self.do_writepages_start(file, wbc)
        });
        self.do_writepages_run(c)?;
        *wp = None;
        Ok(())
    }

    /// filemap_fdatawait_range: when the writeback in flight on bytes [start, end] of `file` completes, if later than
    /// now (the caller sleeps until then and asks again: a batch being collected may end later than estimated);
    /// `None` once none is in flight.
    pub fn filemap_fdatawait_until(&mut self, file: u32, start: u64, end: u64) -> Option<Nanos> {
        match self.writeback_done_at(file, start >> 12, end >> 12) {
            Some(done) if done > self.now => Some(done),
            _ => {
                self.complete_writeback(self.now);
                None
            }
        }
    }

    /// filemap_fdatawait_range without sleeping: the task's clock jumps to the end of the writeback in flight on the
    /// range (for callers that cannot sleep here, see their DIVERGENCE).
    pub fn filemap_fdatawait_range(&mut self, file: u32, start: u64, end: u64) {
        if let Some(done) = self.writeback_done_at(file, start >> 12, end >> 12) {
            self.now = self.now.max(done);
        }
        self.complete_writeback(self.now);
    }

    /// blkdev_issue_flush's request: an empty flush request issued now; returns when it completes.
    pub fn issue_flush(&mut self, dev: usize) -> Nanos {
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
        self.queue_write_request(dev, 0, 0, None, events, None)
    }

    /// vfs_fsync_range's state for `fsync_run`.
    pub fn fsync_start(&mut self, file: u32, start: u64, end: u64) -> FsyncCont {
        FsyncCont { file, start, end, stage: FsyncStage::Write(None) }
    }

    /// vfs_fsync_range -> ext4_sync_file: write and wait the range, then commit the journal when the inode changed in
    /// its running transaction (jbd2_complete_transaction: the commit is a barrier), else flush the device's cache;
    /// the inode is clean afterwards when no dirty page is left. Runs until it returns or sleeps.
    pub fn fsync_run(&mut self, c: &mut FsyncCont) -> Poll {
        let dev = self.inodes[c.file as usize].device;
        loop {
            match &mut c.stage {
                FsyncStage::Write(wp) => {
                    if let Err(Blocked(t)) = self.filemap_fdatawrite_range(wp, c.file, c.start, c.end, true) {
                        return Poll::Sleep(t);
                    }
                    c.stage = FsyncStage::Wait;
                }
                FsyncStage::Wait => {
                    if let Some(t) = self.filemap_fdatawait_until(c.file, c.start, c.end) {
                        return Poll::Sleep(t);
                    }
                    c.stage = if std::mem::take(&mut self.inodes[c.file as usize].journal_pending) {
                        // The commit closes the running transaction: every inode of the device changed in it is in.
                        for ino in self.inodes.iter_mut().filter(|i| i.device == dev) {
                            ino.journal_pending = false;
                        }
                        FsyncStage::Commit(self.commit_start(dev))
                    } else {
                        FsyncStage::Flush(None)
                    };
                }
                FsyncStage::Commit(cc) => match self.commit_run(cc) {
                    Poll::Sleep(t) => return Poll::Sleep(t),
                    Poll::Done(_) => break,
                },
                FsyncStage::Flush(issued) => {
                    let done = *issued.get_or_insert_with(|| self.issue_flush(dev));
                    if done > self.now {
                        c.stage = FsyncStage::Flush(Some(done));
                        return Poll::Sleep(done);
                    }
                    break;
                }
            }
        }
        self.inode_maybe_clean(c.file);
        Poll::Done(0)
    }

    /// sync_file_range's state: WAIT_BEFORE waits for writeback in flight, WRITE starts writeback of the dirty pages
    /// (WB_SYNC_NONE: no waiting, no flush), WAIT_AFTER waits again. `len` 0 means to the end of the file.
    pub fn sync_file_range_start(&mut self, file: u32, off: u64, len: u64, flags: SyncRangeFlags) -> SyncRangeCont {
        let end = if len == 0 { u64::MAX >> 1 } else { off + len - 1 };
        SyncRangeCont { file, start: off, end, flags, stage: 0, write: None }
    }

    /// sync_file_range: runs until it returns or sleeps.
    pub fn sync_file_range_run(&mut self, c: &mut SyncRangeCont) -> Poll {
        while c.stage < 3 {
            let wait = match c.stage {
                0 => c.flags.wait_before,
                2 => c.flags.wait_after,
                _ => false,
            };
            if wait {
                if let Some(t) = self.filemap_fdatawait_until(c.file, c.start, c.end) {
                    return Poll::Sleep(t);
                }
            }
            if c.stage == 1 && c.flags.write {
                // DIVERGENCE: always WB_SYNC_NONE; the kernel writes with WB_SYNC_ALL when WAIT_BEFORE, WRITE and
                // WAIT_AFTER are all set (SYNC_FILE_RANGE_WRITE_AND_WAIT).
                if let Err(Blocked(t)) = self.filemap_fdatawrite_range(&mut c.write, c.file, c.start, c.end, false) {
                    return Poll::Sleep(t);
                }
            }
            c.stage += 1;
        }
        Poll::Done(0)
    }

    /// ksys_sync's start.
    pub fn ksys_sync_start(&mut self) -> SyncCont {
        // DIVERGENCE: the calling task writes and waits itself; the kernel wakes the flushers (wakeup_flusher_threads)
        // and queues a WB_SYNC_ALL work per wb (sync_inodes_sb), then commits the journal (->sync_fs) before the flush.
        SyncCont { writing: 0, write: None, next: 0, flush: None }
    }

    /// ksys_sync: every file's dirty pages written (WB_SYNC_ALL), then each file's writeback waited for (the inode
    /// clean afterwards), then each device flushed; runs until it returns or sleeps.
    pub fn ksys_sync_run(&mut self, c: &mut SyncCont) -> Poll {
        let files = self.inodes.len();
        while c.writing < files {
            let file = c.writing as u32;
            if let Err(Blocked(t)) = self.filemap_fdatawrite_range(&mut c.write, file, 0, u64::MAX >> 1, true) {
                return Poll::Sleep(t);
            }
            c.writing += 1;
        }
        while c.next < files {
            let file = c.next as u32;
            if let Some(t) = self.filemap_fdatawait_until(file, 0, u64::MAX >> 1) {
                return Poll::Sleep(t);
            }
            self.inode_maybe_clean(file);
            c.next += 1;
        }
        while c.next < files + self.devices.len() {
            let dev = c.next - files;
            let done = *c.flush.get_or_insert_with(|| self.issue_flush(dev));
            if done > self.now {
                return Poll::Sleep(done);
            }
            c.flush = None;
            c.next += 1;
        }
        Poll::Done(0)
    }

    /// do_fsync (fsync(2) and fdatasync(2)): vfs_fsync_range over the whole file. `Err(r)`: the call returns `r` at
    /// once (EBADF).
    pub fn do_fsync_start(&mut self, files: &mut Files, fd: Fd) -> Result<FsyncCont, i64> {
        let Some(d) = files.fget(fd) else { return Err(-(libc::EBADF as i64)) };
        let file = d.of.file;
        // DIVERGENCE: fdatasync does what fsync does: ext4 commits for fdatasync only when the inode's data-relevant
        // state changed (i_datasync_tid), not for a change of its times alone.
        Ok(self.fsync_start(file, 0, u64::MAX >> 1))
    }

    /// ksys_sync_file_range on a descriptor. `Err(r)`: the call returns `r` at once (EBADF).
    pub fn ksys_sync_file_range_start(
        &mut self,
        files: &mut Files,
        fd: Fd,
        off: u64,
        len: u64,
        flags: SyncRangeFlags,
    ) -> Result<SyncRangeCont, i64> {
        let Some(d) = files.fget(fd) else { return Err(-(libc::EBADF as i64)) };
        let file = d.of.file;
        Ok(self.sync_file_range_start(file, off, len, flags))
    }
}
