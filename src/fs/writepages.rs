//! Writing dirty folios out (fs/ext4/inode.c `ext4_writepages`, 6.18): its walk of the dirty folios (the cyclic
//! `writeback_index`, DIRTY and TOWRITE tags), folio writeback start and end (mm/page-writeback.c
//! `__folio_start_writeback`, `__folio_end_writeback` with `wb_writeout_inc`), and the write requests the block
//! layer builds from them (bios of physically contiguous folios, merged by the plug, split at max_sectors_kb).
//!
//! Simplifications, each marked DIVERGENCE at its line: ext4's delayed allocation places blocks where the extent map
//! (the probe's final FIEMAP, or the default layout) says, with no metadata writes and no journal; a folio is
//! written whole (ext4 writes only its dirty blocks' pages: the same thing for folios dirtied whole); a bio
//! released by blk-throttle meets no blk-wbt limit; the writepages CPU time is charged after all the requests are
//! issued. The submitter waits for blk-wbt (`wbt_wait`), not for a tag (block/mod.rs).

use crate::kernel::Kernel;
use crate::mm::folio::{FolioId, PG_DIRTY, PG_WRITEBACK};
use crate::mm::page_writeback::{jiffies_at, wb_domain_writeout_add, writeout_period};
use crate::trace::event::EventKind;
use crate::units::Nanos;

/// writeback_control: what one writepages call may do.
#[derive(Clone, Copy, Debug)]
pub struct Wbc {
    /// WB_SYNC_ALL (data integrity: tagged, waits) or WB_SYNC_NONE.
    pub sync_all: bool,
    pub nr_to_write: i64,
    pub range_cyclic: bool,
    /// Byte range for non-cyclic writeback (fsync, sync_file_range).
    pub range_start: u64,
    pub range_end: u64,
}

impl Kernel {
    /// do_writepages -> ext4_writepages for `file`: starts writeback on its dirty folios in index order (from
    /// mapping->writeback_index when cyclic, wrapping once), at most `nr_to_write` pages (folio granularity, all of them
    /// with WB_SYNC_ALL), and submits the requests. Returns the pages written and the last completion time.
    pub fn do_writepages(&mut self, file: u32, wbc: &mut Wbc) -> (u64, Nanos) {
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
        let r = self.do_writepages_inner(file, wbc);
        // "if there's constant writeback being submitted, this makes sure writeback bandwidth is updated once in a
        // while": wb_update_bandwidth every BANDWIDTH_INTERVAL (no trace event; the throttle reads avg_write_bandwidth).
        let now = jiffies_at(self.now.0);
        let stamp = self.wb.wbs[dev].pg.bw.bw_time_stamp;
        if crate::mm::page_writeback::time_after(now, stamp.wrapping_add(crate::mm::page_writeback::BANDWIDTH_INTERVAL))
        {
            self.wb_update_bandwidth(dev, now);
        }
        r
    }

    /// wb_update_bandwidth (mm/page-writeback.c) on device `dev`'s wb at jiffies `now`, keeping the bdi's
    /// tot_write_bandwidth in step.
    fn wb_update_bandwidth(&mut self, dev: usize, now: u64) {
        let has_dirty_io = self.wb.wbs[dev].has_dirty_io();
        let w = &mut self.wb.wbs[dev];
        let delta = crate::mm::page_writeback::wb_update_bandwidth(&mut w.pg.bw, now, w.wb_dirtied, w.wb_written);
        if has_dirty_io {
            w.bdi.tot_write_bandwidth = (w.bdi.tot_write_bandwidth as i64 + delta).max(0) as u64;
        }
    }

    /// wb_update_bandwidth_workfn: the delayed bandwidth update of every device whose bw_dwork is due by `upto` (it runs
    /// as a kworker at its timer's tick: the completions before that tick count, later ones do not).
    fn run_bw_dwork(&mut self, upto: Nanos) {
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

    /// ext4_writepages for do_writepages.
    fn do_writepages_inner(&mut self, file: u32, wbc: &mut Wbc) -> (u64, Nanos) {
        let (first, last) = if wbc.range_cyclic {
            (self.inodes[file as usize].writeback_index, u64::MAX)
        } else {
            (wbc.range_start >> 12, wbc.range_end >> 12)
        };
        let mut folios: Vec<FolioId> = Vec::new();
        let mut written = 0u64;
        let mut next_index = first;
        let mut scan = |k: &mut Kernel, from: u64, to: u64, folios: &mut Vec<FolioId>, wbc: &mut Wbc| -> bool {
            let ids: Vec<FolioId> = k.inodes[file as usize].mapping.range(from, to.saturating_add(1)).collect();
            for id in ids {
                let f = *k.folios.get(id);
                if !f.test(PG_DIRTY) {
                    continue;
                }
                if f.test(PG_WRITEBACK) {
                    if !wbc.sync_all {
                        continue;
                    }
                    // Data integrity: folio_wait_writeback, then write it again.
                    if let Some(done) = k.writeback_done_at(file, f.index(), f.index()) {
                        k.now = k.now.max(done);
                    }
                    k.complete_writeback(k.now);
                }
                folios.push(id);
                written += f.nr_pages();
                next_index = f.next_index();
                wbc.nr_to_write -= f.nr_pages() as i64;
                if wbc.nr_to_write <= 0 && !wbc.sync_all {
                    return true;
                }
            }
            false
        };
        let done = scan(self, first, last, &mut folios, wbc);
        if !done && wbc.range_cyclic && first > 0 {
            scan(self, 0, first - 1, &mut folios, wbc);
        }
        if wbc.range_cyclic {
            self.inodes[file as usize].writeback_index = if folios.is_empty() { 0 } else { next_index };
        }
        // wbc_to_write_flags: REQ_BACKGROUND for the flusher's background and kupdate passes (cyclic, WB_SYNC_NONE).
        let background = wbc.range_cyclic && !wbc.sync_all;
        let last_done = self.submit_write(file, &folios, wbc.sync_all, background);
        // DIVERGENCE: the CPU time comes after the requests were issued (the kernel issues them as it goes).
        self.now = Nanos(self.now.0 + written * WRITEPAGES_PAGE_NS);
        (written, last_done)
    }
}

/// CPU time of writepages per page written (ext4_do_writepages: folio walk, block mapping, bio building), charged
/// to whoever writes (the flusher, or a task in fsync or sync_file_range): on the host a background iteration of
/// 3072 pages (96 order-5 folios) took 0.55-0.6 ms from writeback_single_inode_start to writeback_written when
/// not preempted (traces/write/buffered_1g). The requests are all issued at the start (a DIVERGENCE, marked where
/// the time is charged).
pub const WRITEPAGES_PAGE_NS: u64 = 190;

/// Blocks ext4 maps per ext4_map_blocks call in writeback (MAX_WRITEPAGES_EXTENT_LEN): each mapped extent goes out
/// as bios of its own, so a writeback bio never crosses a multiple of it in the file (traces/write: the flusher's
/// 3072-page passes are bios of 16384 + 8192 or 8192 + 16384 sectors, cut at file offsets that are multiples of
/// 8 MiB with 4 KiB blocks).
pub const MAX_WRITEPAGES_EXTENT_LEN: u64 = 2048;

impl Kernel {
    /// __folio_start_writeback for each folio, then the bios and requests: physically contiguous folios form one bio,
    /// cut where ext4 maps a new extent (MAX_WRITEPAGES_EXTENT_LEN blocks); the block layer splits each bio into
    /// requests at max_sectors and 128 segments (block_split). Registers the completions; returns the last completion.
    fn submit_write(&mut self, file: u32, folios: &[FolioId], sync: bool, background: bool) -> Nanos {
        if folios.is_empty() {
            return self.now;
        }
        let dev = self.inodes[file as usize].device;
        let map_pages = (MAX_WRITEPAGES_EXTENT_LEN * self.fs_block_size(file) / 4096).max(1);
        let mut runs: Vec<(u64, u64, u64)> = Vec::new();
        let mut owners: Vec<(u64, FolioId)> = Vec::new();
        for &id in folios {
            let f = *self.folios.get(id);
            let nr = f.nr_pages();
            // __folio_start_writeback: PG_writeback set, dirty cleared (folio_clear_dirty_for_io, which write-protects
            // the folio's PTEs: folio_mkclean), accounted.
            // DIVERGENCE: the whole folio is written; ext4 writes only the pages of its dirty blocks (the same for a
            // folio dirtied whole, as every write here dirties).
            self.folios.get_mut(id).flags = (f.flags & !PG_DIRTY) | PG_WRITEBACK;
            if !self.ptes.is_empty() {
                self.folio_mkclean(file, f.index(), nr);
            }
            self.vm.nr_dirty -= nr;
            let ino = &mut self.inodes[file as usize];
            ino.nr_dirty -= nr;
            if ino.nr_writeback == 0 {
                // wb_inode_writeback_start: the mapping gets its first WRITEBACK tag.
                self.wb.wbs[dev].writeback_inodes += 1;
            }
            ino.nr_writeback += nr;
            self.wb.nr_writeback += nr;
            let w = &mut self.wb.wbs[dev];
            w.wb_reclaimable -= nr;
            w.wb_writeback += nr;
            // DIVERGENCE: segments per 64 KiB of a folio, as for reads (block/mod.rs).
            let seg = (nr * 8).min(crate::block::MAX_SEGMENT_SECTORS);
            let mut index = f.index();
            // DIVERGENCE: delayed allocation takes the blocks the extent map gives (the probe's final FIEMAP or the
            // default layout), without mballoc, metadata writes or a journal handle.
            owners.push((self.inodes[file as usize].extents.map(index).0, id));
            let new_extent = index % map_pages == 0;
            while index < f.next_index() {
                let (sector, left) = self.inodes[file as usize].extents.map(index);
                let n = left.min(f.next_index() - index);
                match runs.last_mut() {
                    Some(r) if r.0 + r.1 == sector && r.2 == seg && !(new_extent && index == f.index()) => r.1 += n * 8,
                    _ => runs.push((sector, n * 8, seg)),
                }
                index += n;
            }
        }
        // REQ_SYNC for data-integrity writeback (wbc_to_write_flags).
        let rwbs = if sync { self.rwbs_ws.clone() } else { self.rwbs_w.clone() };
        let dev_name = self.devices[dev].name.clone();
        let mut last = self.now;
        // Requests follow the folios' order: each takes the next folios whose first sector it holds.
        let mut next_owner = 0;
        let mut reqs = Vec::new();
        for run in &runs {
            // submit_bio: one bio per run (Q), through blk-throttle (released now or later), split into requests (X
            // before each piece but the last).
            reqs.clear();
            crate::block::build_requests(std::slice::from_ref(run), self.devices[dev].max_sectors, &mut reqs);
            let at = self.devices[dev].throttle_bio(self.now, run.1 * crate::block::SECTOR);
            if self.events_on() {
                self.emit(EventKind::BlockBioQueue {
                    device: dev_name.clone(),
                    rwbs: rwbs.clone(),
                    sector: run.0,
                    nr_sector: run.1,
                });
            }
            for (i, r) in reqs.iter().enumerate() {
                if self.events_on() {
                    if i + 1 < reqs.len() {
                        self.emit_at(
                            at,
                            EventKind::BlockSplit {
                                device: dev_name.clone(),
                                rwbs: rwbs.clone(),
                                sector: r.sector,
                                new_sector: r.sector + r.nr_sectors,
                            },
                        );
                    }
                    for e in crate::block::request_events(&dev_name, &rwbs, r).into_iter().skip(1) {
                        self.emit_at(at, e);
                    }
                }
                // The folios whose first sector lies in this request end writeback at its completion.
                let first = next_owner;
                while owners.get(next_owner).is_some_and(|o| (r.sector..r.sector + r.nr_sectors).contains(&o.0)) {
                    next_owner += 1;
                }
                let ids: Vec<FolioId> = owners[first..next_owner].iter().map(|o| o.1).collect();
                // DIVERGENCE: a throttled bio meets blk-wbt when blk-throttle's dispatch work submits it; the model
                // applies no wbt limit to it (the throttle releases whole bios far below wbt's limits here).
                if self.devices[dev].throttle.is_none() {
                    self.wbt_wait(dev, background);
                }
                let done = self.queue_request(dev, r, &rwbs, Some((file, ids)), Some(at));
                last = last.max(done);
            }
        }
        debug_assert_eq!(next_owner, owners.len(), "invariant: every folio's first sector is in one of its requests");
        last
    }

    /// blk_mq_submit_bio -> the driver, for one write request of `nr_sectors` on `dev`: ends the device's batch first
    /// if it is due, queues the request in the batch not ended yet (or a new one) when it reaches the device, at `at`
    /// (its bio's release by blk-throttle; None: the request is a bio of its own, throttled now), and holds its
    /// completion (the folios' end of writeback, the completion events) until that batch's end is known. Returns the
    /// batch's end as known now (what a task waiting for this request sleeps until).
    pub fn queue_write_request(
        &mut self,
        dev: usize,
        sector: u64,
        nr_sectors: u64,
        folios: Option<(u32, Vec<FolioId>)>,
        events: Vec<EventKind>,
        at: Option<Nanos>,
    ) -> Nanos {
        self.close_write_batches(self.now);
        let at = at.unwrap_or_else(|| self.devices[dev].throttle_bio(self.now, nr_sectors * crate::block::SECTOR));
        let (batch, estimate) = self.devices[dev].queue_write(at, sector, nr_sectors);
        self.wb.add_pending(crate::kernel::backing_dev::PendingWrite { dev, batch, folios, events });
        estimate
    }

    /// wbt_wait (block/blk-wbt.c, rq_qos_throttle): the submitter of a buffered write request sleeps while the device
    /// has as many write requests in flight as blk-wbt allows it (block/wbt.rs), until a batch ends.
    pub fn wbt_wait(&mut self, dev: usize, background: bool) {
        // DIVERGENCE: waiters are not queued in order (rq_qos_wait's wait queue): whoever submits next after a batch
        // ends goes first.
        loop {
            self.close_write_batches(self.now);
            let d = &mut self.devices[dev];
            let inflight = d.writes_in_flight();
            let qd = d.nr_requests;
            d.wbt.advance(self.now, inflight > 0, qd);
            let recent_wait = self.wb.wbs[dev].last_bdp_sleep.is_some_and(|t| self.now.0 < t.0 + 1_000_000_000);
            let d = &mut self.devices[dev];
            if inflight < d.wbt.limit(self.now, qd, background, recent_wait) {
                d.wbt.wrote();
                return;
            }
            match d.next_write_batch_close() {
                Some(end) if end > self.now => self.now = end,
                _ => return,
            }
        }
    }

    /// Model: queue_write_request for a request `r` whose completion events are the usual ones (block_rq_complete,
    /// block_io_done with `rwbs`).
    pub fn queue_request(
        &mut self,
        dev: usize,
        r: &crate::block::Request,
        rwbs: &crate::trace::event::Name,
        folios: Option<(u32, Vec<FolioId>)>,
        at: Option<Nanos>,
    ) -> Nanos {
        let events = if self.events_on() {
            crate::block::completion_events(&self.devices[dev].name, rwbs, r).to_vec()
        } else {
            Vec::new()
        };
        self.queue_write_request(dev, r.sector, r.nr_sectors, folios, events, at)
    }

    /// blk_mq_end_request for the requests of every device's write batch whose end is due by `upto`: they complete
    /// then, in submission order.
    pub fn close_write_batches(&mut self, upto: Nanos) {
        if !self.wb.has_pending_writes() {
            return;
        }
        for dev in 0..self.devices.len() {
            while let Some((batch, _, end)) = self.devices[dev].close_write_batch(upto) {
                for p in self.wb.take_pending(dev, batch) {
                    if let Some((file, ids)) = p.folios {
                        self.wb.add_completion(end, dev, file, ids);
                    }
                    for e in p.events {
                        self.emit_at(end, e);
                    }
                }
            }
        }
    }

    /// Model: when the last writeback in flight of `file`'s pages [first, last] completes (what
    /// filemap_fdatawait_range waits for), if any; for a batch still being collected, its end as known now.
    pub fn writeback_done_at(&self, file: u32, first: u64, last: u64) -> Option<Nanos> {
        let overlaps = |f: u32, ids: &Vec<FolioId>| {
            f == file
                && ids.iter().any(|&id| {
                    let fo = self.folios.get(id);
                    fo.index() <= last && fo.next_index() > first
                })
        };
        let closed = self.wb.in_flight().filter(|(_, f, ids)| overlaps(*f, ids)).map(|(at, _, _)| at);
        let open = self
            .wb
            .pending_writeback()
            .filter(|(_, _, f, ids)| overlaps(*f, ids))
            .filter_map(|(dev, batch, _, _)| self.devices[dev].write_batch_estimate(batch));
        closed.chain(open).max()
    }

    /// ext4_end_bio -> folio_end_writeback: runs every writeback completion due by `upto` (blk_mq_end_request):
    /// PG_writeback cleared, NR_WRITEBACK down, NR_WRITTEN and the wb's WB_WRITTEN up, the writeout fractions
    /// (wb_domain_writeout_add), and the blocks count as allocated on disk.
    pub fn complete_writeback(&mut self, upto: Nanos) {
        self.close_write_batches(upto);
        while let Some((at, dev, file, ids)) = self.wb.pop_completion(upto) {
            self.run_bw_dwork(at);
            let now = jiffies_at(at.0);
            if self.wb.dom.period_time != 0 && crate::mm::page_writeback::time_after_eq(now, self.wb.dom.period_time) {
                writeout_period(&mut self.wb.dom, now);
            }
            for id in ids {
                let f = *self.folios.get(id);
                debug_assert!(
                    f.test(PG_WRITEBACK) && f.file() == file,
                    "invariant: a completion's folios are its file's, under writeback"
                );
                let nr = f.nr_pages();
                self.folios.get_mut(id).flags &= !PG_WRITEBACK;
                self.wb.nr_writeback -= nr;
                self.wb.nr_written += nr;
                let w = &mut self.wb.wbs[dev];
                w.wb_writeback -= nr;
                w.wb_written += nr;
                let max_prop_frac = w.bdi.max_prop_frac;
                wb_domain_writeout_add(
                    &mut self.wb.dom,
                    &mut self.wb.wbs[dev].pg.completions,
                    max_prop_frac,
                    nr as i64,
                    now,
                );
                let ino = &mut self.inodes[file as usize];
                ino.allocated = ino.allocated.max(f.next_index() * 4096);
                ino.nr_writeback -= nr;
                if ino.nr_writeback == 0 {
                    // wb_inode_writeback_end: the last WRITEBACK tag is gone; the bandwidth estimate is updated
                    // BANDWIDTH_INTERVAL later (queue_delayed_work: not requeued while pending).
                    let w = &mut self.wb.wbs[dev];
                    w.writeback_inodes -= 1;
                    if w.bw_dwork.is_none() {
                        let fire = now.wrapping_add(crate::mm::page_writeback::BANDWIDTH_INTERVAL);
                        w.bw_dwork = Some(crate::mm::page_writeback::jiffy_start(fire));
                    }
                }
            }
        }
        self.run_bw_dwork(upto);
    }
}
