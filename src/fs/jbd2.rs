//! The ext4 journal's commit for a data-integrity sync (fs/jbd2/commit.c, jbd2_journal_commit_transaction, as
//! ext4_sync_file -> jbd2_complete_transaction waits for it).
//!
//! What the host does (traces/write/fsync_every_8m, every fsync after 8 MiB of new data, 3 runs alike): once the
//! data's writeback has completed, the jbd2 thread wakes (~0.17 ms later) and writes the transaction's descriptor
//! block and its metadata blocks (inode table, bitmap, group descriptor: 4 blocks) as one request at the journal's
//! head (rwbs WSM), waits for it, then the commit block with REQ_PREFLUSH | REQ_FUA (bio rwbs FWFSM), which the
//! flush machinery turns into a flush (FF), the 4 KiB write (WSM) and a second flush (FF: the loop device has no
//! FUA). The head advances by 5 blocks per commit. The very first commit of a mount also rewrites the journal
//! superblock (one block at the journal's start) and has one more metadata block. The fsync issues no flush of
//! its own afterwards (the commit was a barrier). The journal sits in the middle of the device (sector 2097152 of
//! a 2 GiB device), its first transaction 8 blocks in.
//!
//! Simplifications, each marked DIVERGENCE at its line: a fixed transaction size (no tracking of which metadata
//! blocks are dirty); commits only for an fsync (no periodic 5 s commit by the jbd2 thread, no commit for the
//! flusher's block allocations); checked only for ext4 with 4 KiB blocks.

use crate::block::{Request, SECTOR};
use crate::kernel::{Kernel, Poll};
use crate::trace::event::{EventKind, Name};
use crate::units::Nanos;

/// A journal commit between the waits for its writes.
#[derive(Clone, Copy, Debug)]
pub struct CommitCont {
    dev: usize,
    /// The journal's head: where the descriptor block goes, then the commit block.
    head: u64,
    /// Descriptor and metadata blocks (4, 5 in the first commit).
    metadata: u64,
    stage: CommitStage,
    /// When the step in flight completes (the next one waits for it).
    until: Nanos,
}

/// The commit's next step.
#[derive(Clone, Copy, Debug)]
enum CommitStage {
    /// After the jbd2 thread's wake-up: the journal superblock on the first commit.
    Wake,
    Metadata,
    Preflush,
    Write,
    Postflush,
    Done,
}

/// The jbd2 thread's wake-up after the data's writeback completed (host: 0.15-0.2 ms).
pub const JBD2_WAKE_NS: u64 = 170_000;

impl Kernel {
    /// jbd2_journal_write_metadata_buffer + submit_bh for the commit's journal buffers (under the commit's plug, then
    /// wait_on_buffer): one journal write of `blocks` blocks at `sector`, a 4 KiB bio per block, the first allocating
    /// the request (Q, G, block_io_start of its 4 KiB), the others back-merged into it (Q, M), then the request issued
    /// whole (D) and completed (C, block_io_done).
    fn journal_write(&mut self, dev: usize, sector: u64, blocks: u64, bs: u64) -> Nanos {
        let wsm: Name = Name::from("WSM");
        let per = bs / SECTOR;
        let device = self.devices[dev].name.clone();
        let r = Request { sector, nr_sectors: blocks * per, segments: blocks };
        // Under a blk-throttle limit the request forms when the throttle releases the bios.
        let at = self.devices[dev].throttle_bio(self.now, r.nr_sectors * SECTOR);
        if self.events_on() {
            let (d, w) = (device.clone(), wsm.clone());
            self.emit_at(at, EventKind::BlockBioQueue { device: d.clone(), rwbs: w.clone(), sector, nr_sector: per });
            self.emit_at(at, EventKind::BlockGetrq { device: d.clone(), rwbs: w.clone(), sector, nr_sector: per });
            self.emit_at(
                at,
                EventKind::BlockIoStart { device: d.clone(), rwbs: w.clone(), bytes: bs, sector, nr_sector: per },
            );
            for b in 1..blocks {
                let s = sector + b * per;
                self.emit_at(
                    at,
                    EventKind::BlockBioQueue { device: d.clone(), rwbs: w.clone(), sector: s, nr_sector: per },
                );
                self.emit_at(
                    at,
                    EventKind::BlockBioBackmerge { device: d.clone(), rwbs: w.clone(), sector: s, nr_sector: per },
                );
            }
            let issue =
                EventKind::BlockRqIssue { device: d, rwbs: w, bytes: blocks * bs, sector, nr_sector: r.nr_sectors };
            self.emit_at(at, issue);
        }
        self.queue_request(dev, &r, &wsm, None, Some(at))
    }

    /// journal_submit_commit_record: the commit block, a REQ_PREFLUSH | REQ_FUA write, which the flush machinery
    /// (block/blk-flush.c) runs on a device without FUA as a preflush (FF), the write (inserted and issued: I, D),
    /// and a postflush (FF), then completes the original request (C with no sectors left). This is its submission:
    /// the bio's Q, G and block_io_start, and the preflush; the rest follows in `commit_run`.
    fn commit_block_submit(&mut self, dev: usize, sector: u64, bs: u64) -> Nanos {
        let per = bs / SECTOR;
        if self.events_on() {
            let device = self.devices[dev].name.clone();
            let fw = Name::from("FWFSM");
            self.emit(EventKind::BlockBioQueue { device: device.clone(), rwbs: fw.clone(), sector, nr_sector: per });
            self.emit(EventKind::BlockGetrq { device: device.clone(), rwbs: fw.clone(), sector, nr_sector: per });
            self.emit(EventKind::BlockIoStart { device, rwbs: fw, bytes: bs, sector, nr_sector: per });
        }
        self.issue_flush(dev)
    }

    /// blk_flush_complete_seq's REQ_FSEQ_DATA step for the commit block after the preflush: inserted, issued.
    fn commit_block_write(&mut self, dev: usize, sector: u64, bs: u64) -> Nanos {
        let per = bs / SECTOR;
        let wsm = Name::from("WSM");
        let r = Request { sector, nr_sectors: per, segments: 1 };
        if self.events_on() {
            let d = self.devices[dev].name.clone();
            self.emit(EventKind::BlockRqInsert {
                device: d.clone(),
                rwbs: wsm.clone(),
                bytes: bs,
                sector,
                nr_sector: per,
            });
            self.emit(EventKind::BlockRqIssue { device: d, rwbs: wsm.clone(), bytes: bs, sector, nr_sector: per });
        }
        self.queue_request(dev, &r, &wsm, None, None)
    }

    /// jbd2_journal_commit_transaction's state for the running transaction of device `dev` (the caller waits for
    /// it: jbd2_complete_transaction).
    pub fn commit_start(&mut self, dev: usize) -> CommitCont {
        // DIVERGENCE: only an fsync commits (vfs_fsync_range); the jbd2 thread's periodic commit (every 5 s) and the
        // commits of the flusher's block allocations are not modelled.
        let j = &self.journals[dev];
        // DIVERGENCE: a fixed transaction: 4 metadata blocks (5 with the first commit's), whatever the transaction
        // holds; the kernel writes the buffers the transaction dirtied (checked only for ext4 with 4 KiB blocks).
        let metadata = if j.committed { 4 } else { 5 };
        CommitCont { dev, head: j.head, metadata, stage: CommitStage::Wake, until: Nanos(self.now.0 + JBD2_WAKE_NS) }
    }

    /// jbd2_journal_commit_transaction, run by the jbd2 thread while the caller sleeps: its wake-up, the journal
    /// superblock on the first commit (jbd2_journal_update_sb_log_tail), the descriptor and metadata blocks, then the
    /// commit block (preflush, write, postflush), each waited for. The events are the jbd2 thread's.
    pub fn commit_run(&mut self, c: &mut CommitCont) -> Poll {
        let task = std::mem::replace(&mut self.task, Name::from("jbd2"));
        let p = self.commit_steps(c);
        self.task = task;
        p
    }

    /// jbd2_journal_commit_transaction's steps, each issued once its predecessor completed.
    fn commit_steps(&mut self, c: &mut CommitCont) -> Poll {
        let bs = self.fs_block.get(c.dev).copied().unwrap_or(4096);
        loop {
            if c.until > self.now {
                return Poll::Sleep(c.until);
            }
            let dev = c.dev;
            c.until = match c.stage {
                CommitStage::Wake => {
                    c.stage = CommitStage::Metadata;
                    if c.metadata == 5 {
                        let start = self.journals[dev].start;
                        self.journal_write(dev, start, 1, bs)
                    } else {
                        self.now
                    }
                }
                CommitStage::Metadata => {
                    c.stage = CommitStage::Preflush;
                    let t = self.journal_write(dev, c.head, c.metadata, bs);
                    c.head += c.metadata * bs / SECTOR;
                    t
                }
                CommitStage::Preflush => {
                    c.stage = CommitStage::Write;
                    self.commit_block_submit(dev, c.head, bs)
                }
                CommitStage::Write => {
                    c.stage = CommitStage::Postflush;
                    self.commit_block_write(dev, c.head, bs)
                }
                CommitStage::Postflush => {
                    c.stage = CommitStage::Done;
                    self.issue_flush(dev)
                }
                CommitStage::Done => break,
            };
        }
        if self.events_on() {
            let device = self.devices[c.dev].name.clone();
            let end = Request { sector: c.head, nr_sectors: 0, segments: 0 };
            for e in crate::block::completion_events(&device, &Name::from("WSM"), &end) {
                self.emit(e);
            }
        }
        self.journals[c.dev].head = c.head + bs / SECTOR;
        self.journals[c.dev].committed = true;
        Poll::Done(0)
    }
}
