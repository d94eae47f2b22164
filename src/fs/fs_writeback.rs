//! fs/fs-writeback.c (6.18): the flusher of each device (`wb_workfn` -> `wb_do_writeback` -> `wb_writeback`), its
//! inode lists (b_dirty, b_io, b_more_io) and work items, the dirtying of inodes (`__mark_inode_dirty`), the
//! background and periodic (kupdate) passes, and `writeback_sb_inodes` with `writeback_chunk_size` and
//! `requeue_inode`. The folios themselves are written by writepages.rs.
//!
//! ```text
//!  __mark_inode_dirty ──> b_dirty (newest at the front) ──queue_io (expired, oldest first)──> b_io ──> written
//!                                  ^                                                         │ chunk used up
//!                                  └──── redirty_tail (stopped early) ──── b_more_io <───────┘
//! ```
//!
//! Simplifications, each marked DIVERGENCE at its line: a flusher step runs one wb_writeback iteration, or until it
//! sleeps, atomic against the tasks in between; no WB_start_all work and no I_SYNC contention (syncs write from the calling task); a non-periodic,
//! non-background work's expiry cutoff is the time of each queue_io; `requeue_inode` keeps only its main cases; an
//! fsync takes a clean inode off the lists at once.

use crate::kernel::backing_dev::WbWork;
use crate::kernel::writeback::{InodeCont, IterCont, Wbc};
use crate::kernel::{Blocked, Kernel};
use crate::mm::page_writeback::{jiffies_at, HZ};
use crate::trace::event::EventKind;
use crate::units::Nanos;

/// MIN_WRITEBACK_PAGES: writeback_chunk_size rounds to 4 MiB.
pub const MIN_WRITEBACK_PAGES: i64 = 4096 >> 2;
/// DIRTY_SCOPE: a chunk is at most dirty_limit / 8.
pub const DIRTY_SCOPE: u64 = 8;

impl Kernel {
    /// show_inode_state: the inode's I_DIRTY_* state as the kernel prints it.
    pub fn inode_state(&self, file: u32) -> &'static str {
        let ino = &self.inodes[file as usize];
        match (ino.dirty_sync, ino.dirty_pages) {
            (false, false) => "none",
            (true, false) => "I_DIRTY_SYNC",
            (false, true) => "I_DIRTY_PAGES",
            (true, true) => "I_DIRTY_SYNC|I_DIRTY_PAGES",
        }
    }

    /// __mark_inode_dirty with I_DIRTY_SYNC (`sync`: an inode timestamp changed, traced by writeback_dirty_inode_start
    /// and writeback_dirty_inode around ->dirty_inode) or I_DIRTY_PAGES. A clean inode goes to the front of b_dirty with
    /// dirtied_when = now (writeback_dirty_inode_enqueue); the first dirty inode of an idle wb arms the periodic flush
    /// (wb_wakeup_delayed, dirty_writeback_interval later).
    pub fn mark_inode_dirty(&mut self, file: u32, sync: bool) {
        let dev = self.inodes[file as usize].device;
        let flags = if sync { "I_DIRTY_SYNC" } else { "I_DIRTY_PAGES" };
        if sync && self.events_on() {
            let device = self.devices[dev].name.clone();
            let name = self.file_name(file);
            let state: crate::trace::event::Name = std::sync::Arc::from(self.inode_state(file));
            let flags: crate::trace::event::Name = std::sync::Arc::from(flags);
            self.emit(EventKind::WritebackDirtyInodeStart {
                device: device.clone(),
                file: name.clone(),
                state: state.clone(),
                flags: flags.clone(),
            });
            self.emit(EventKind::WritebackDirtyInode { device, file: name, state, flags });
        }
        let ino = &mut self.inodes[file as usize];
        let had = (ino.dirty_sync, ino.dirty_pages);
        if sync {
            ino.dirty_sync = true;
            ino.journal_pending = true;
        } else {
            ino.dirty_pages = true;
        }
        if (ino.dirty_sync, ino.dirty_pages) == had || ino.dirtied_when.is_some() {
            return;
        }
        let idle = !self.wb.wbs[dev].has_dirty_io();
        self.inodes[file as usize].dirtied_when = Some(self.now);
        self.wb.wbs[dev].b_dirty.push_front(file);
        if idle && self.wb.interval_cs > 0 {
            let at = Nanos(self.now.0 + self.wb.interval_ns());
            self.wb.wbs[dev].wake_at(at, true);
        }
        if self.events_on() {
            let device = self.devices[dev].name.clone();
            let name = self.file_name(file);
            let dirtied_when = jiffies_at(self.now.0);
            let state = std::sync::Arc::from(self.inode_state(file));
            self.emit(EventKind::WritebackDirtyInodeEnqueue { device, file: name, dirtied_when, state });
        }
    }

    /// wb_start_background_writeback -> wb_wakeup: the flusher runs now (writeback_wake_background).
    pub fn wb_start_background_writeback(&mut self, dev: usize) {
        if self.events_on() {
            let device = self.devices[dev].name.clone();
            self.emit(EventKind::WritebackWakeBackground { device });
        }
        let now = self.now;
        self.wb.wbs[dev].wake_at(now, true);
    }

    /// wb_over_bg_thresh: the global dirty pages over the background threshold, or the wb's reclaimable pages over
    /// its share of it.
    pub fn wb_over_bg_thresh(&mut self, dev: usize) -> bool {
        let mem = self.dirtyable_memory();
        let (bg, _) = crate::mm::page_writeback::global_dirty_limits(&mem, &self.wb.vm, false, &self.wb.dom);
        if self.vm.nr_dirty > bg {
            return true;
        }
        let (_, thresh) = crate::mm::page_writeback::global_dirty_limits(&mem, &self.wb.vm, false, &self.wb.dom);
        let dtc = crate::mm::page_writeback::DirtyThrottleControl {
            avail: crate::mm::page_writeback::global_dirtyable_memory(&mem, false),
            dirty: self.vm.nr_dirty,
            thresh,
            bg_thresh: bg,
            ..Default::default()
        };
        let wb = &mut self.wb;
        let w = &mut wb.wbs[dev];
        let wb_bg = crate::mm::page_writeback::wb_calc_thresh(
            &dtc,
            bg,
            &wb.dom,
            &mut w.pg.completions,
            &w.bdi,
            w.pg.bw.avg_write_bandwidth,
        );
        w.wb_reclaimable > wb_bg
    }

    /// wb_workfn, one step of device `dev`'s flusher: finish due completions, pick the work (queued works,
    /// then the periodic kupdate pass, then the background pass), run one iteration of wb_writeback, and yield.
    pub fn wb_workfn_step(&mut self, dev: usize) {
        // DIVERGENCE: a step runs until the flusher sleeps (in blk-wbt, for a tag, on a folio under writeback) or ends
        // an iteration, atomic against the tasks in between (the kernel's kworker runs beside them and is preempted
        // anywhere); its CPU time moves the flusher's clock (writepages.rs).
        self.wb.wbs[dev].next_run = None;
        self.complete_writeback(self.now);
        if self.wb.wbs[dev].cur.is_none() {
            let work = self.next_work(dev);
            match work {
                Some(w) => {
                    self.wb.wbs[dev].cur = Some(w);
                    self.wb.wbs[dev].running = true;
                }
                None => {
                    self.wb.wbs[dev].running = false;
                    // Nothing to do: re-arm the periodic flush while dirty inodes remain.
                    if self.wb.wbs[dev].has_dirty_io() && self.wb.interval_cs > 0 {
                        let at = Nanos(self.now.0 + self.wb.interval_ns());
                        self.wb.wbs[dev].wake_at(at, false);
                    }
                    return;
                }
            }
        }
        let more = match self.wb_writeback_iteration(dev) {
            Ok(more) => more,
            Err(Blocked(t)) => {
                // Asleep in the middle of the iteration: it goes on at the wake.
                self.wb.wbs[dev].wake_at(t, false);
                return;
            }
        };
        if !more {
            // wb_do_writeback: the work's pages (trace_writeback_pages_written).
            let w = self.wb.wbs[dev].cur.take().unwrap();
            if self.events_on() {
                let device = self.devices[dev].name.clone();
                self.emit(EventKind::WritebackPagesWritten { device, pages: w.written });
            }
            // wb_do_writeback checks the background flush last: after it wb_workfn returns unless works are queued,
            // and the flusher sleeps until wb_wakeup_delayed's timer or a wb_wakeup (balance_dirty_pages over the
            // background threshold). Running the background pass again at once would loop at this instant when it
            // cannot progress (every dirty folio under writeback: WB_SYNC_NONE skips them).
            if w.for_background && self.wb.wbs[dev].work_list.is_empty() {
                self.wb.wbs[dev].running = false;
                if self.wb.wbs[dev].has_dirty_io() && self.wb.interval_cs > 0 {
                    let at = Nanos(self.now.0 + self.wb.interval_ns());
                    self.wb.wbs[dev].wake_at(at, false);
                }
                return;
            }
        }
        // Yield: run again at this step's end (a new work, or the next iteration; do_writepages' CPU time included).
        let at = self.now;
        self.wb.wbs[dev].wake_at(at, false);
    }

    /// get_next_work_item + wb_check_old_data_flush + wb_check_background_flush: the next work, a queued one, else
    /// the periodic (kupdate) pass when it is due, else the background pass when over the background threshold.
    fn next_work(&mut self, dev: usize) -> Option<WbWork> {
        // DIVERGENCE: no wb_check_start_all: nothing sets WB_start_all (wakeup_flusher_threads is not called: sync(2)
        // writes from the calling task, reclaim refuses dirty folios).
        if let Some(w) = self.wb.wbs[dev].work_list.pop_front() {
            return Some(w);
        }
        let now = jiffies_at(self.now.0);
        let interval = self.wb.interval_cs * HZ / 100;
        if interval > 0 && now.wrapping_sub(self.wb.wbs[dev].last_old_flush) >= interval {
            self.wb.wbs[dev].last_old_flush = now;
            // get_nr_dirty_pages: NR_FILE_DIRTY + dirty inodes.
            let nr = self.vm.nr_dirty + self.inodes.iter().filter(|i| i.dirtied_when.is_some()).count() as u64;
            if nr > 0 {
                return Some(WbWork {
                    nr_pages: nr as i64,
                    sync_all: false,
                    for_kupdate: true,
                    for_background: false,
                    range_cyclic: true,
                    reason: "periodic",
                    written: 0,
                });
            }
        }
        if self.wb_over_bg_thresh(dev) {
            return Some(WbWork {
                nr_pages: i64::MAX,
                sync_all: false,
                for_kupdate: false,
                for_background: true,
                range_cyclic: true,
                reason: "background",
                written: 0,
            });
        }
        None
    }

    /// trace_writeback_start / trace_writeback_written: the event of a work (`start` picks which).
    fn emit_work(&mut self, dev: usize, w: &WbWork, start: bool) {
        if !self.events_on() {
            return;
        }
        let device = self.devices[dev].name.clone();
        let (nr_pages, sync_mode, kupdate) = (w.nr_pages, w.sync_all as u64, w.for_kupdate as u64);
        let (range_cyclic, background) = (w.range_cyclic as u64, w.for_background as u64);
        let reason = std::sync::Arc::from(w.reason);
        let e = if start {
            EventKind::WritebackStart { device, nr_pages, sync_mode, kupdate, range_cyclic, background, reason }
        } else {
            EventKind::WritebackWritten { device, nr_pages, sync_mode, kupdate, range_cyclic, background, reason }
        };
        self.emit(e);
    }

    /// wb_writeback, one iteration of its loop for the current work; returns whether the work goes on. `Err`: the
    /// flusher sleeps in the middle of it, and goes on from there when called again.
    fn wb_writeback_iteration(&mut self, dev: usize) -> Result<bool, Blocked> {
        if self.wb.wbs[dev].iter.is_none() {
            let w = self.wb.wbs[dev].cur.clone().unwrap();
            if w.nr_pages <= 0 {
                return Ok(false);
            }
            if (w.for_background || w.for_kupdate) && !self.wb.wbs[dev].work_list.is_empty() {
                return Ok(false);
            }
            if w.for_background && !self.wb_over_bg_thresh(dev) {
                return Ok(false);
            }
            self.emit_work(dev, &w, true);
            let mut queued = false;
            if self.wb.wbs[dev].b_io.is_empty() {
                let now = self.now.0;
                // DIVERGENCE: the cutoff of a work that is neither kupdate nor background would be now; the kernel's is
                // when wb_writeback started on the work. (Nothing queues such works in the model yet: work_list stays
                // empty: sync(2) writes from its task, sync.rs.)
                let dirtied_before = if w.for_kupdate {
                    Some(Nanos(now.saturating_sub(self.wb.expire_cs * 10_000_000)))
                } else {
                    Some(Nanos(now))
                };
                self.queue_io(dev, &w, dirtied_before);
                queued = true;
            }
            self.wb.wbs[dev].iter = Some(IterCont { queued, start: self.now, total: 0, inode: None });
        }
        let progress = self.writeback_sb_inodes(dev)?;
        let it = self.wb.wbs[dev].iter.take().unwrap();
        let w = self.wb.wbs[dev].cur.clone().unwrap();
        self.emit_work(dev, &w, false);
        if progress > 0 || !it.queued {
            return Ok(true);
        }
        // Nothing written and nothing busy to wait on: done.
        // DIVERGENCE: the kernel waits for an I_SYNC inode of b_more_io (inode_sleep_on_writeback) before giving up;
        // no inode is ever under I_SYNC elsewhere in the model.
        Ok(false)
    }

    /// queue_io: b_more_io goes to b_io, then the inodes of b_dirty dirtied before `dirtied_before` (oldest first);
    /// traces writeback_queue_io.
    fn queue_io(&mut self, dev: usize, w: &WbWork, dirtied_before: Option<Nanos>) {
        let wb = &mut self.wb.wbs[dev];
        let mut moved = 0u64;
        while let Some(f) = wb.b_more_io.pop_back() {
            wb.b_io.push_front(f);
            moved += 1;
        }
        let older = dirtied_before.unwrap_or(self.now);
        let mut expired = Vec::new();
        while let Some(&f) = wb.b_dirty.back() {
            let when = self.inodes[f as usize].dirtied_when.unwrap_or(Nanos(0));
            if when > older {
                break;
            }
            wb.b_dirty.pop_back();
            expired.push(f);
        }
        // move_expired_inodes: the oldest ends at the back of b_io (written first).
        for f in expired.iter().rev() {
            wb.b_io.push_front(*f);
        }
        let enqueue = moved + expired.len() as u64;
        if self.events_on() {
            let device = self.devices[dev].name.clone();
            let age = ((self.now.0 - older.0) / 1_000_000) as i64;
            self.emit(EventKind::WritebackQueueIo {
                device,
                older: jiffies_at(older.0),
                age,
                enqueue,
                reason: std::sync::Arc::from(w.reason),
            });
        }
    }
}

/// writeback_chunk_size: WB_SYNC_ALL writes everything; otherwise min(avg bandwidth / 2, dirty_limit / 8,
/// nr_pages) rounded up to a multiple of 1024 pages (round_down(x + 1024, 1024)).
pub fn writeback_chunk_size(avg_write_bandwidth: u64, dirty_limit: u64, w: &WbWork) -> i64 {
    if w.sync_all {
        return i64::MAX;
    }
    let pages = ((avg_write_bandwidth / 2).min(dirty_limit / DIRTY_SCOPE) as i64).min(w.nr_pages);
    (pages + MIN_WRITEBACK_PAGES) / MIN_WRITEBACK_PAGES * MIN_WRITEBACK_PAGES
}

impl Kernel {
    /// writeback_sb_inodes: writes the inodes at the back of b_io, a chunk each, until b_io is empty, the work's
    /// pages are done or 100 ms have passed; requeue_inode decides where each goes. Returns the pages written (plus
    /// one per inode left clean). `Err`: asleep in an inode's writepages (the iteration's state keeps it).
    fn writeback_sb_inodes(&mut self, dev: usize) -> Result<i64, Blocked> {
        loop {
            let mut it = self.wb.wbs[dev].iter.take().unwrap();
            let mut ic = match it.inode.take() {
                Some(ic) => ic,
                None => {
                    let Some(file) = self.wb.wbs[dev].b_io.pop_back() else {
                        let total = it.total;
                        self.wb.wbs[dev].iter = Some(it);
                        return Ok(total);
                    };
                    // DIVERGENCE: no I_SYNC test (an inode under writeback elsewhere goes to b_more_io, or is waited
                    // for with WB_SYNC_ALL): syncs write from their task without taking the inode (sync.rs).
                    let w = self.wb.wbs[dev].cur.clone().unwrap();
                    let chunk =
                        writeback_chunk_size(self.wb.wbs[dev].pg.bw.avg_write_bandwidth, self.wb.dom.dirty_limit, &w);
                    let wbc = Wbc {
                        sync_all: w.sync_all,
                        nr_to_write: chunk,
                        range_cyclic: true,
                        range_start: 0,
                        range_end: 0,
                    };
                    let index = self.inodes[file as usize].writeback_index;
                    let dirtied = self.inodes[file as usize].dirtied_when.unwrap_or(self.now);
                    let wp = self.do_writepages_start(file, wbc);
                    InodeCont { file, chunk, index, dirtied, wp }
                }
            };
            let wrote = match self.do_writepages_run(&mut ic.wp) {
                Ok((wrote, _)) => wrote as i64,
                Err(b) => {
                    it.inode = Some(ic);
                    self.wb.wbs[dev].iter = Some(it);
                    return Err(b);
                }
            };
            let InodeCont { file, chunk, index, dirtied, wp } = ic;
            self.wb.wbs[dev].cur.as_mut().unwrap().nr_pages -= chunk - wp.wbc.nr_to_write;
            it.total += wrote;
            let still_dirty = self.has_dirty_folios(file);
            if self.events_on() {
                let device = self.devices[dev].name.clone();
                let name = self.file_name(file);
                let state = if still_dirty { "I_DIRTY_PAGES|I_SYNC" } else { "I_SYNC" };
                self.emit(EventKind::WritebackSingleInode {
                    device,
                    file: name,
                    state: std::sync::Arc::from(state),
                    dirtied_when: jiffies_at(dirtied.0),
                    index,
                    to_write: chunk,
                    wrote: wrote as u64,
                });
            }
            self.wb.wbs[dev].cur.as_mut().unwrap().written += wrote;
            // requeue_inode.
            // DIVERGENCE: requeue_inode without its other cases: a WB_SYNC_ALL pass does not restamp dirtied_when, a
            // slice used up goes to b_more_io even when the inode was redirtied after the cutoff
            // (inode_dirtied_after), and redirty_tail always restamps dirtied_when, where the kernel restamps it only
            // when it is older than the newest inode on b_dirty.
            if still_dirty {
                if wp.wbc.nr_to_write <= 0 {
                    // Used its whole slice: requeue_io, after the other inodes of b_io.
                    self.wb.wbs[dev].b_more_io.push_front(file);
                } else {
                    // redirty_tail: back on b_dirty as the newest, dirtied now.
                    self.inodes[file as usize].dirtied_when = Some(self.now);
                    self.wb.wbs[dev].b_dirty.push_front(file);
                }
            } else {
                let ino = &mut self.inodes[file as usize];
                ino.dirtied_when = None;
                (ino.dirty_sync, ino.dirty_pages) = (false, false);
                it.total += 1;
            }
            let total = it.total;
            let start = it.start;
            self.wb.wbs[dev].iter = Some(it);
            if total > 0 {
                if self.now.0 >= start.0 + 1_000_000_000 / 10 {
                    return Ok(total);
                }
                if self.wb.wbs[dev].cur.as_ref().unwrap().nr_pages <= 0 {
                    return Ok(total);
                }
            }
        }
    }

    /// mapping_tagged(mapping, PAGECACHE_TAG_DIRTY), from the inode's dirty page count.
    fn has_dirty_folios(&self, file: u32) -> bool {
        self.inodes[file as usize].nr_dirty > 0
    }

    /// Model: after a data-integrity sync, an inode with no dirty page left leaves the writeback lists (its dirty state was
    /// written); the flusher finds nothing for it.
    pub fn inode_maybe_clean(&mut self, file: u32) {
        // DIVERGENCE: the kernel's fsync leaves the inode on the wb's lists, I_DIRTY_PAGES set, until the flusher's
        // next pass finds it clean (requeue_inode); the model takes it off at once.
        if self.inodes[file as usize].nr_dirty > 0 || self.inodes[file as usize].dirtied_when.is_none() {
            return;
        }
        let ino = &mut self.inodes[file as usize];
        ino.dirtied_when = None;
        (ino.dirty_sync, ino.dirty_pages) = (false, false);
        let dev = self.inodes[file as usize].device;
        let w = &mut self.wb.wbs[dev];
        for list in [&mut w.b_dirty, &mut w.b_io, &mut w.b_more_io] {
            list.retain(|&f| f != file);
        }
    }
}
