//! Writing dirty folios out (fs/ext4/inode.c `ext4_writepages`, 6.18): its walk of the dirty folios (the cyclic
//! `writeback_index`, DIRTY and TOWRITE tags), folio writeback start and end (mm/page-writeback.c
//! `__folio_start_writeback`, `__folio_end_writeback` with `wb_writeout_inc`), and the write requests the block
//! layer builds from them (bios of physically contiguous folios, merged by the plug, split at max_sectors_kb).
//!
//! Simplifications, each marked DIVERGENCE at its line: ext4's delayed allocation places blocks where the extent map
//! (the probe's final FIEMAP, or the default layout) says, with no metadata writes and no journal; a folio is
//! written whole (ext4 writes only its dirty blocks' pages: the same thing for folios dirtied whole); a bio
//! released by blk-throttle meets no blk-wbt limit; the writepages CPU time is charged after all the requests are
//! issued. A call is a small state machine (`WritepagesCont`): with WB_SYNC_ALL it sleeps on a folio under writeback
//! in the middle of its walk, and its submission sleeps in blk-wbt and for a tag (page_io.rs); the writer (a task, or
//! the flusher) resumes it where it stopped.

use crate::kernel::writeback::{Wbc, WritepagesCont};
use crate::kernel::{Blocked, Kernel};
use crate::mm::folio::{PG_DIRTY, PG_WRITEBACK};
use crate::mm::page_writeback::jiffies_at;
use crate::units::Nanos;

impl Kernel {
    /// do_writepages -> ext4_writepages for `file`, up to its first sleep: due completions and the bandwidth
    /// estimate's restamp come first. `do_writepages_run` goes on.
    pub fn do_writepages_start(&mut self, file: u32, wbc: Wbc) -> WritepagesCont {
        let dev = self.inodes[file as usize].device;
        // Completions (and a delayed bandwidth update) due by now come first.
        self.complete_writeback(self.now);
        {
            // wb_bandwidth_estimate_start: after a second without writeback, restamp the bandwidth estimate.
            let w = &mut self.wb.wbs[dev];
            let inodes = w.writeback_inodes;
            let now = jiffies_at(self.now.0);
            crate::mm::page_writeback::wb_bandwidth_estimate_start(
                &mut w.pg.bw,
                now,
                w.wb_dirtied,
                w.wb_written,
                inodes,
            );
        }
        let (first, last) = if wbc.range_cyclic {
            (self.inodes[file as usize].writeback_index, u64::MAX)
        } else {
            (wbc.range_start >> 12, wbc.range_end >> 12)
        };
        WritepagesCont {
            file,
            wbc,
            first,
            last,
            wrapped: false,
            pos: first,
            next_index: first,
            folios: Vec::new(),
            written: 0,
            submit: None,
        }
    }

    /// do_writepages -> ext4_writepages: starts writeback on the file's dirty folios in index order (from
    /// mapping->writeback_index when cyclic, wrapping once), at most `nr_to_write` pages (folio granularity, all of them
    /// with WB_SYNC_ALL), and submits the requests; sleeps (`Err`) on a folio under writeback (WB_SYNC_ALL) and in
    /// the submission, and goes on from there when called again. Returns the pages written and the last completion.
    pub fn do_writepages_run(&mut self, c: &mut WritepagesCont) -> Result<(u64, Nanos), Blocked> {
        let file = c.file;
        let dev = self.inodes[file as usize].device;
        if c.submit.is_none() {
            self.ext4_writepages_walk(c)?;
            if c.wbc.range_cyclic {
                self.inodes[file as usize].writeback_index = if c.folios.is_empty() { 0 } else { c.next_index };
            }
            // wbc_to_write_flags: REQ_BACKGROUND for the flusher's background and kupdate passes (cyclic, WB_SYNC_NONE).
            let background = c.wbc.range_cyclic && !c.wbc.sync_all;
            c.submit = Some(Box::new(self.submit_write_start(file, &c.folios, c.wbc.sync_all, background)));
        }
        let last_done = self.submit_write_run(c.submit.as_mut().unwrap())?;
        // DIVERGENCE: the CPU time comes after the requests were issued (the kernel issues them as it goes).
        self.now = Nanos(self.now.0 + c.written * WRITEPAGES_PAGE_NS);
        // "if there's constant writeback being submitted, this makes sure writeback bandwidth is updated once in a
        // while": wb_update_bandwidth every BANDWIDTH_INTERVAL (no trace event; the throttle reads avg_write_bandwidth).
        let now = jiffies_at(self.now.0);
        let stamp = self.wb.wbs[dev].pg.bw.bw_time_stamp;
        if crate::mm::page_writeback::time_after(now, stamp.wrapping_add(crate::mm::page_writeback::BANDWIDTH_INTERVAL))
        {
            self.wb_update_bandwidth(dev, now);
        }
        Ok((c.written, last_done))
    }

    /// wb_update_bandwidth (mm/page-writeback.c) on device `dev`'s wb at jiffies `now`, keeping the bdi's
    /// tot_write_bandwidth in step.
    pub(crate) fn wb_update_bandwidth(&mut self, dev: usize, now: u64) {
        let has_dirty_io = self.wb.wbs[dev].has_dirty_io();
        let w = &mut self.wb.wbs[dev];
        let delta = crate::mm::page_writeback::wb_update_bandwidth(&mut w.pg.bw, now, w.wb_dirtied, w.wb_written);
        if has_dirty_io {
            w.bdi.tot_write_bandwidth = (w.bdi.tot_write_bandwidth as i64 + delta).max(0) as u64;
        }
    }

    /// wb_update_bandwidth_workfn: the delayed bandwidth update of every device whose bw_dwork is due by `upto` (it runs
    /// as a kworker at its timer's tick: the completions before that tick count, later ones do not).
    pub(crate) fn run_bw_dwork(&mut self, upto: Nanos) {
        for dev in 0..self.wb.wbs.len() {
            if let Some(at) = self.wb.wbs[dev].bw_dwork.filter(|&at| at <= upto) {
                self.wb.wbs[dev].bw_dwork = None;
                let fire = jiffies_at(at.0);
                // Run in time order with the other updates (do_writepages and balance_dirty_pages process the due
                // completions first); one found behind a later stamp (the flusher's clock moved past it inside a
                // step) is dropped rather than run backwards.
                if crate::mm::page_writeback::time_after_eq(fire, self.wb.wbs[dev].pg.bw.bw_time_stamp) {
                    self.wb_update_bandwidth(dev, fire);
                }
            }
        }
    }

    /// ext4_writepages' walk (mpage_prepare_extent_to_map over the DIRTY or TOWRITE tag): takes the dirty folios
    /// from `c.pos` on; with WB_SYNC_ALL a folio still under writeback is waited for (folio_wait_writeback: the walk
    /// sleeps there) and then taken again.
    fn ext4_writepages_walk(&mut self, c: &mut WritepagesCont) -> Result<(), Blocked> {
        let file = c.file;
        if !c.folios.is_empty() {
            self.writepages_recheck(c);
        }
        loop {
            let to = if c.wrapped { c.first - 1 } else { c.last };
            // The walk visits only folios tagged dirty (the kernel's tagged lookup), from c.pos on.
            let mut from = c.pos;
            while let Some(index) = self.inodes[file as usize].mapping.next_dirty(from, to.saturating_add(1)) {
                let id = self.inodes[file as usize]
                    .mapping
                    .lookup(&self.folios, index)
                    .expect("invariant: a dirty tag marks a cached folio");
                let f = *self.folios.get(id);
                c.pos = f.index();
                from = f.next_index();
                debug_assert!(f.test(PG_DIRTY), "invariant: the dirty tag follows PG_dirty");
                if f.test(PG_WRITEBACK) {
                    if !c.wbc.sync_all {
                        continue;
                    }
                    // Data integrity: folio_wait_writeback (asleep until its writeback ends: asked again after the
                    // wake, a batch being collected may end later than estimated), then write it again.
                    if let Some(done) = self.writeback_done_at(file, f.index(), f.index()) {
                        if done > self.now {
                            return Err(Blocked(done));
                        }
                    }
                    self.complete_writeback(self.now);
                }
                c.folios.push(id);
                c.written += f.nr_pages();
                c.next_index = f.next_index();
                c.pos = f.next_index();
                from = c.pos;
                c.wbc.nr_to_write -= f.nr_pages() as i64;
                if c.wbc.nr_to_write <= 0 && !c.wbc.sync_all {
                    return Ok(());
                }
            }
            if c.wrapped || !c.wbc.range_cyclic || c.first == 0 {
                return Ok(());
            }
            c.wrapped = true;
            c.pos = 0;
        }
    }
}

impl Kernel {
    /// Model: after the walk slept, the folios it had taken are looked at again, as the kernel's walk looks at a
    /// folio once it holds its lock (mpage_prepare_extent_to_map: gone from the mapping, no longer dirty, or under
    /// writeback started by another writer meanwhile: not this call's to write). The kernel holds the taken folios
    /// locked while it sleeps, so the other writer (another fsync, the flusher) would have waited for them instead;
    /// DIVERGENCE: here it may write them first, and this call leaves them to it.
    fn writepages_recheck(&mut self, c: &mut WritepagesCont) {
        let file = c.file;
        let before = c.written;
        let (folios, mapping) = (&self.folios, &self.inodes[file as usize].mapping);
        c.folios.retain(|&id| {
            let f = folios.get(id);
            f.file() == file
                && mapping.lookup(folios, f.index()) == Some(id)
                && f.test(PG_DIRTY)
                && !f.test(PG_WRITEBACK)
        });
        c.written = c.folios.iter().map(|&id| self.folios.get(id).nr_pages()).sum();
        c.wbc.nr_to_write += before as i64 - c.written as i64;
    }
}

/// CPU time of writepages per page written (ext4_do_writepages: folio walk, block mapping, bio building), charged
/// to whoever writes (the flusher, or a task in fsync or sync_file_range): on the host a background iteration of
/// 3072 pages (96 order-5 folios) took 0.55-0.6 ms from writeback_single_inode_start to writeback_written when
/// not preempted (traces/write/buffered_1g). The requests are all issued at the start (a DIVERGENCE, marked where
/// the time is charged).
pub const WRITEPAGES_PAGE_NS: u64 = 190;
