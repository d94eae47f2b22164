//! Writeback I/O (fs/ext4/page-io.c, 6.18): `ext4_bio_write_folio` and `ext4_io_submit` turning folios taken by
//! writepages.rs into bios and write requests (physically contiguous folios form a bio, cut where ext4 maps a new
//! extent; the block layer splits it at max_sectors and 128 segments), the submitter's waits in the block layer
//! (blk-wbt's `wbt_wait` and the tag allocation), and `ext4_end_bio` -> `folio_end_writeback` at completion.
//!
//! Simplifications, each marked DIVERGENCE at its line: a bio released by blk-throttle meets no blk-wbt limit; the
//! waiters of blk-wbt and of tags are not queued in order (whoever submits next after a batch ends goes first).

use crate::kernel::writeback::SubmitCont;
use crate::kernel::{Blocked, Kernel};
use crate::mm::folio::{FolioId, PG_DIRTY, PG_READAHEAD, PG_WRITEBACK};
use crate::mm::page_writeback::{jiffies_at, wb_domain_writeout_add, writeout_period};
use crate::trace::event::EventKind;
use crate::units::Nanos;

/// Blocks ext4 maps per ext4_map_blocks call in writeback (MAX_WRITEPAGES_EXTENT_LEN): each mapped extent goes out
/// as bios of its own, so a writeback bio never crosses a multiple of it in the file (traces/write: the flusher's
/// 3072-page passes are bios of 16384 + 8192 or 8192 + 16384 sectors, cut at file offsets that are multiples of
/// 8 MiB with 4 KiB blocks).
pub const MAX_WRITEPAGES_EXTENT_LEN: u64 = 2048;

impl Kernel {
    /// __folio_start_writeback for each folio (PG_writeback set, dirty cleared, accounted), then the bios they make:
    /// the submission `submit_write_run` carries out.
    pub(crate) fn submit_write_start(
        &mut self,
        file: u32,
        folios: &[FolioId],
        sync: bool,
        background: bool,
    ) -> SubmitCont {
        let dev = self.inodes[file as usize].device;
        // REQ_SYNC for data-integrity writeback (wbc_to_write_flags).
        let rwbs = if sync { self.rwbs_ws.clone() } else { self.rwbs_w.clone() };
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
            self.inodes[file as usize].mapping.tag_dirty(f.index(), false);
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
        self.wb.next_submit += 1;
        SubmitCont {
            id: self.wb.next_submit,
            file,
            dev,
            rwbs,
            background,
            runs,
            owners,
            next_owner: 0,
            run: 0,
            reqs: Vec::new(),
            req: 0,
            released: self.now,
            last: self.now,
        }
    }

    /// ext4_io_submit -> submit_bio for each bio in turn: blk-throttle releases it (now or later), the block layer
    /// splits it into requests (block_split before each piece but the last), each waiting in blk-wbt and for a tag
    /// (`Err`: the submitter sleeps, and goes on with that request when called again). Registers the completions;
    /// returns the last completion.
    pub(crate) fn submit_write_run(&mut self, s: &mut SubmitCont) -> Result<Nanos, Blocked> {
        let dev = s.dev;
        let dev_name = self.devices[dev].name.clone();
        while s.run < s.runs.len() {
            let run = s.runs[s.run];
            if s.req == 0 && s.reqs.is_empty() {
                // submit_bio: one bio per run (Q), through blk-throttle.
                crate::block::build_requests(std::slice::from_ref(&run), self.devices[dev].max_sectors, &mut s.reqs);
                s.released = self.devices[dev].throttle_bio(self.now, run.1 * crate::block::SECTOR);
                if self.events_on() {
                    self.emit(EventKind::BlockBioQueue {
                        device: dev_name.clone(),
                        rwbs: s.rwbs.clone(),
                        sector: run.0,
                        nr_sector: run.1,
                    });
                }
            }
            while s.req < s.reqs.len() {
                let r = s.reqs[s.req];
                // DIVERGENCE: a throttled bio meets blk-wbt when blk-throttle's dispatch work submits it; the model
                // applies no wbt limit to it (the throttle releases whole bios far below wbt's limits here).
                if self.devices[dev].throttle.is_none() {
                    if let Some(until) = self.wbt_wait(dev, s.background) {
                        self.submit_blocked(s, until);
                        return Err(Blocked(until));
                    }
                }
                let at = s.released.max(self.now);
                if self.events_on() {
                    if s.req + 1 < s.reqs.len() {
                        self.emit_at(
                            at,
                            EventKind::BlockSplit {
                                device: dev_name.clone(),
                                rwbs: s.rwbs.clone(),
                                sector: r.sector,
                                new_sector: r.sector + r.nr_sectors,
                            },
                        );
                    }
                    for e in crate::block::request_events(&dev_name, &s.rwbs, &r).into_iter().skip(1) {
                        self.emit_at(at, e);
                    }
                }
                // The folios whose first sector lies in this request end writeback at its completion.
                let first = s.next_owner;
                while s.owners.get(s.next_owner).is_some_and(|o| (r.sector..r.sector + r.nr_sectors).contains(&o.0)) {
                    s.next_owner += 1;
                }
                let ids: Vec<FolioId> = s.owners[first..s.next_owner].iter().map(|o| o.1).collect();
                let done = self.queue_request(dev, &r, &s.rwbs.clone(), Some((s.file, ids)), Some(at));
                s.last = s.last.max(done);
                s.req += 1;
            }
            s.run += 1;
            s.req = 0;
            s.reqs.clear();
        }
        debug_assert_eq!(
            s.next_owner,
            s.owners.len(),
            "invariant: every folio's first sector is in one of its requests"
        );
        self.wb.blocked_submits.retain(|b| b.id != s.id);
        Ok(s.last)
    }

    /// Model: records the submission asleep until `until` with its folios not yet in a request, so that a task
    /// waiting for their writeback (writeback_done_at) waits for the submission too.
    fn submit_blocked(&mut self, s: &SubmitCont, until: Nanos) {
        let (mut first, mut last) = (u64::MAX, 0);
        for &(_, id) in &s.owners[s.next_owner..] {
            let f = self.folios.get(id);
            first = first.min(f.index());
            last = last.max(f.next_index());
        }
        let b = crate::kernel::backing_dev::BlockedSubmit { id: s.id, file: s.file, first, last, until };
        match self.wb.blocked_submits.iter_mut().find(|x| x.id == s.id) {
            Some(x) => *x = b,
            None => self.wb.blocked_submits.push(b),
        }
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

    /// wbt_wait (block/blk-wbt.c, rq_qos_throttle), then blk_mq_get_tag: the submitter of a buffered write request
    /// sleeps while the device has as many write requests in flight as blk-wbt allows it (block/wbt.rs), or as many
    /// requests as it has tags (nr_requests), until a batch ends: `Some(t)`, asked again at `t`. None: it goes on.
    pub fn wbt_wait(&mut self, dev: usize, background: bool) -> Option<Nanos> {
        // DIVERGENCE: waiters are not queued in order (rq_qos_wait's and the tags' wait queues): whoever submits next
        // after a batch ends goes first.
        self.close_write_batches(self.now);
        let d = &mut self.devices[dev];
        let inflight = d.writes_in_flight();
        let qd = d.nr_requests;
        d.wbt.advance(self.now, inflight > 0, qd);
        let recent_wait = self.wb.wbs[dev].last_bdp_sleep.is_some_and(|t| self.now.0 < t.0 + 1_000_000_000);
        let d = &mut self.devices[dev];
        let tags_free = d.requests_in_flight(self.now) < qd;
        if inflight < d.wbt.limit(self.now, qd, background, recent_wait) && tags_free {
            d.wbt.wrote();
            return None;
        }
        match d.next_write_batch_close() {
            Some(end) if end > self.now => Some(end),
            _ => {
                d.wbt.wrote();
                None
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
        // A folio under writeback whose submitter sleeps before submitting it: asked again when the submitter goes
        // on (just after it, when that is now).
        let unsubmitted = self
            .wb
            .blocked_submits
            .iter()
            .filter(|b| b.file == file && b.first <= last && b.last > first)
            .map(|b| b.until.max(Nanos(self.now.0 + 1)));
        let closed =
            self.wb.in_flight().filter(|(_, f, ids)| overlaps(*f, ids)).map(|(at, _, _)| at).chain(unsubmitted);
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
    #[inline]
    pub fn complete_writeback(&mut self, upto: Nanos) {
        // Nothing in flight and no bandwidth update queued (every read-only step): nothing to do.
        if self.wb.completions.is_empty()
            && !self.wb.has_pending_writes()
            && self.wb.wbs.iter().all(|w| w.bw_dwork.is_none())
        {
            return;
        }
        self.complete_writeback_due(upto);
    }

    /// complete_writeback when something may be due.
    fn complete_writeback_due(&mut self, upto: Nanos) {
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
                if f.test(PG_READAHEAD) {
                    // folio_end_writeback: PG_reclaim (PG_readahead's bit, set by a deactivation while dirty or
                    // under writeback) is cleared and the folio rotated to the inactive tail.
                    self.folios.get_mut(id).flags &= !PG_READAHEAD;
                    crate::mm::swap::folio_rotate_reclaimable(&mut self.lru, &mut self.folios, id);
                }
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
