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
//! DIVERGENCE: a fixed transaction size (no tracking of which metadata blocks are dirty), no periodic 5 s commit,
//! no commit for the flusher's block allocations; checked only for ext4 with 4 KiB blocks.

use crate::block::{request_events, Request, SECTOR};
use crate::sim::kernel::Kernel;
use crate::trace::event::{EventKind, Name};
use crate::units::Nanos;

/// The jbd2 thread's wake-up after the data's writeback completed (host: 0.15-0.2 ms).
pub const JBD2_WAKE_NS: u64 = 170_000;

/// One device's journal: where the next transaction is written, and whether a commit happened yet.
#[derive(Clone, Debug)]
pub struct Journal {
    /// First sector of the journal.
    pub start: u64,
    /// Sector of the journal's head (the next descriptor block).
    pub head: u64,
    pub committed: bool,
}

impl Journal {
    /// The probe's scratch ext4 journal on a device of `size` bytes with `block` byte blocks.
    pub fn new(size: u64, block: u64) -> Journal {
        let start = size / SECTOR / 2;
        Journal { start, head: start + 8 * block / SECTOR, committed: false }
    }
}

/// Issues one journal write of `blocks` blocks at `sector` and waits for it.
fn journal_write(k: &mut Kernel, dev: usize, sector: u64, blocks: u64, bs: u64, rwbs: &Name) {
    let r = Request { sector, nr_sectors: blocks * bs / SECTOR, segments: blocks };
    let dev_name = k.devices[dev].name.clone();
    if k.events_on() {
        for e in request_events(&dev_name, rwbs, &r) {
            k.emit(e);
        }
    }
    let events = if k.events_on() { crate::block::completion_events(&dev_name, rwbs, &r).to_vec() } else { Vec::new() };
    let done = crate::fs::writepages::queue_write_request(k, dev, r.nr_sectors, None, events);
    k.now = k.now.max(done);
}

/// jbd2_journal_commit_transaction for the running transaction of device `dev`, waited for by the caller.
pub fn commit(k: &mut Kernel, dev: usize) {
    let bs = k.fs_block.get(dev).copied().unwrap_or(4096);
    let task = std::mem::replace(&mut k.task, Name::from("jbd2"));
    k.now = Nanos(k.now.0 + JBD2_WAKE_NS);
    let wsm: Name = Name::from("WSM");
    let j = k.journals[dev].clone();
    let mut head = j.head;
    let mut metadata = 4;
    if !j.committed {
        // jbd2_journal_update_sb_log_tail: the journal superblock first.
        journal_write(k, dev, j.start, 1, bs, &wsm);
        metadata = 5;
    }
    journal_write(k, dev, head, metadata, bs, &wsm);
    head += metadata * bs / SECTOR;
    // The commit block: REQ_PREFLUSH | REQ_FUA, without FUA support a flush, the write, and a flush.
    if k.events_on() {
        let device = k.devices[dev].name.clone();
        k.emit(EventKind::BlockBioQueue { device, rwbs: Name::from("FWFSM"), sector: head, nr_sector: bs / SECTOR });
    }
    crate::fs::sync::blkdev_issue_flush(k, dev);
    journal_write(k, dev, head, 1, bs, &wsm);
    crate::fs::sync::blkdev_issue_flush(k, dev);
    head += bs / SECTOR;
    k.journals[dev].head = head;
    k.journals[dev].committed = true;
    k.task = task;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_of_a_2gib_device_starts_in_its_middle() {
        let j = Journal::new(2 << 30, 4096);
        assert_eq!((j.start, j.head), (2097152, 2097216));
    }
}
