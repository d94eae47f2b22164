//! mm/filemap.c, read side (6.18): `filemap_read`, `filemap_get_pages`, `filemap_get_read_batch`,
//! `filemap_create_folio`, waiting on a locked folio (`filemap_update_page`); and `filemap_cachestat` (cachestat(2)).
//!
//! `filemap_add_folio` (memcg charge, insertion taking a shadow entry, `workingset_refault`, `folio_add_lru`) and the
//! removal of a folio (`__filemap_remove_folio`) live here too, as in the kernel; `folio_mark_accessed`'s promotion
//! is swap.rs's.
//!
//! Simplifications, each marked DIVERGENCE at its line: reads never fail (no -EIO, no `shrink_readahead_size_eio`)
//! and a folio never leaves the mapping while a reader waits for it (no truncation race); a folio added for a write
//! (__GFP_WRITE) goes through refault detection like any other.

use super::folio::{Folio, FolioId, FOLIO_BATCH, PG_ACTIVE, PG_DIRTY, PG_READAHEAD, PG_WORKINGSET, PG_WRITEBACK};
use super::readahead::ReadaheadControl;
use super::swap::{folio_add_lru, folio_lru_list, folio_mark_accessed};
use super::workingset::Shadow;
use crate::fs::file::Files;
use crate::fs::file::OpenFile;
use crate::kernel::mmzone::Gfp;
use crate::kernel::SYSCALL_NS;
use crate::kernel::{Kernel, Poll};
use crate::trace::cachestat::Cachestat;
use crate::trace::event::EventKind;
use crate::trace::op::Fd;
use crate::units::Nanos;

/// A buffered read between its sleeps: where it is, what it read, and what it sleeps on (the batch it holds
/// meanwhile is the task's `Kernel::read_parked`).
#[derive(Clone, Copy, Debug)]
pub struct ReadCont {
    pos: u64,
    remaining: u64,
    already: u64,
    /// The position the last copy ended at (ra->prev_pos when the read returns).
    last_pos: i64,
    flags: ReadFlags,
    wait: ReadWait,
}

/// What a read sleeps on inside filemap_get_pages, and so how it goes on after the wake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadWait {
    #[default]
    None,
    /// filemap_create_folio's read: the new folio is the batch.
    NewFolio,
    /// filemap_read_folio of the batch's last folio (partially valid): the batch is returned whole.
    Updated,
    /// A folio under readahead (folio_put_wait_locked): AOP_TRUNCATED_PAGE.
    Locked,
}

/// Why filemap_get_pages returns no batch.
#[derive(Clone, Copy, Debug)]
enum GetPages {
    Errno(i64),
    Sleep(Nanos),
}

/// Flags of one read call (IOCB_*).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadFlags {
    /// IOCB_NOWAIT (RWF_NOWAIT): no waiting for I/O.
    pub nowait: bool,
}

impl Kernel {
    #[inline(always)]
    /// filemap_get_read_batch: cached folios from `index` up to `max`, stopping after a folio that is not uptodate or
    /// carries PG_readahead, or after 31 folios.
    fn get_read_batch(&self, file: u32, index: u64, max: u64, batch: &mut Vec<FolioId>) {
        batch.clear();
        let mapping = &self.inodes[file as usize].mapping;
        let mut i = index;
        while i <= max {
            let Some(id) = mapping.lookup(&self.folios, i) else { break };
            batch.push(id);
            if batch.len() == FOLIO_BATCH {
                break;
            }
            let f = self.folios.get(id);
            if !self.folios.uptodate(id, self.now) || f.test(PG_READAHEAD) {
                break;
            }
            i = f.next_index();
        }
    }

    /// filemap_create_folio: no readahead could add the page: one order-0 folio read with ->read_folio.
    fn create_folio(&mut self, file: u32, index: u64) -> FolioId {
        let f = super::folio::Folio::new(index, 0, file, 0);
        let id = self.add_to_page_cache(f);
        self.submit_folio_reads(file, &[id], false);
        id
    }

    #[inline]
    /// filemap_get_pages: a batch of uptodate folios for the read at `pos` of `count` bytes, running sync readahead
    /// on a miss and async readahead on a marked folio. When the batch ends in a folio still under I/O, the task
    /// sleeps on it (filemap_update_page), then drops it and returns the folios before it, or retries the lookup when
    /// it was the only one (AOP_TRUNCATED_PAGE), so a cold read is usually served by one call. The tracepoint fires
    /// only on the path that returns a full batch, as in the kernel. `Err(Errno(-EAGAIN))` with IOCB_NOWAIT when I/O
    /// would be waited on; `Err(Sleep)`: the task sleeps, `wait` says how the call goes on after the wake.
    fn get_pages(
        &mut self,
        of: &mut OpenFile,
        pos: u64,
        count: u64,
        flags: ReadFlags,
        batch: &mut Vec<FolioId>,
        wait: &mut ReadWait,
    ) -> Result<(), GetPages> {
        let index = pos >> 12;
        let last_index = (pos + count).div_ceil(4096);
        match std::mem::take(wait) {
            ReadWait::None => {}
            // filemap_create_folio's read done: its folio is the batch (no tracepoint on this path).
            ReadWait::NewFolio => return Ok(()),
            ReadWait::Updated => return self.got_pages(of, index, last_index),
            ReadWait::Locked => {
                if !batch.is_empty() {
                    return Ok(());
                }
            }
        }
        self.get_read_batch(of.file, index, last_index - 1, batch);
        if batch.is_empty() {
            self.vm.sync_misses += 1;
            let mut ractl = ReadaheadControl::new(of.file, index, of.random);
            self.page_cache_sync_ra(&mut ractl, &mut of.ra, last_index - index);
            self.get_read_batch(of.file, index, last_index - 1, batch);
        }
        if batch.is_empty() {
            if flags.nowait {
                return Err(GetPages::Errno(-(libc::EAGAIN as i64)));
            }
            // filemap_create_folio reads the page synchronously and returns it.
            let id = self.create_folio(of.file, index);
            batch.push(id);
            let ready = self.folios.wake_at(id, self.cur_task);
            if ready > self.now {
                *wait = ReadWait::NewFolio;
                return Err(GetPages::Sleep(ready));
            }
            return Ok(());
        }
        let last = *batch.last().unwrap();
        let f = *self.folios.get(last);
        if f.test(PG_READAHEAD) {
            // The batch holds references to its folios while readahead allocates: reclaim must keep them.
            let pins = self.pinned.len();
            self.pinned.extend_from_slice(batch);
            let mut ractl = ReadaheadControl::new(of.file, f.index(), of.random);
            self.page_cache_async_ra(&mut ractl, &mut of.ra, last, last_index - f.index());
            self.pinned.truncate(pins);
        }
        if self.folios.partial_blocks(last).is_some() && self.folios.ready_at(last) <= self.now {
            if flags.nowait {
                return Err(GetPages::Errno(-(libc::EAGAIN as i64)));
            }
            // filemap_update_page -> filemap_read_folio: the folio is locked, read and slept on; then the batch
            // is returned whole.
            self.vm.sync_misses += 1;
            let done = self.block_read_full_folio(of.file, last);
            if done > self.now {
                *wait = ReadWait::Updated;
                return Err(GetPages::Sleep(done));
            }
        }
        // DIVERGENCE: the read always succeeds: no -EIO (filemap_read_folio's error, shrink_readahead_size_eio).
        if !self.folios.uptodate(last, self.now) {
            let ready = self.folios.wake_at(last, self.cur_task);
            batch.pop();
            if flags.nowait {
                if !batch.is_empty() {
                    return Ok(());
                }
                return Err(GetPages::Errno(-(libc::EAGAIN as i64)));
            }
            // folio_put_wait_locked: sleep until the read completes, then AOP_TRUNCATED_PAGE: the folios before
            // it are returned (or the lookup is retried when there are none).
            self.vm.sync_misses += 1;
            *wait = ReadWait::Locked;
            return Err(GetPages::Sleep(ready));
        }
        self.got_pages(of, index, last_index)
    }

    #[inline]
    /// filemap_get_pages's end when it returns a batch whose folios are all uptodate: its tracepoint.
    fn got_pages(&mut self, of: &OpenFile, index: u64, last_index: u64) -> Result<(), GetPages> {
        if self.events_on() {
            let file = self.file_name(of.file);
            self.emit(EventKind::MmFilemapGetPages { file, index, last_index: last_index - 1 });
        }
        Ok(())
    }

    #[inline]
    /// filemap_read's start: EINVAL for a range past loff_t; the count capped at MAX_RW_COUNT (vfs_read). `Err(r)`:
    /// the call returns `r` at once (an error, or 0 for an empty read).
    pub fn filemap_read_start(
        &mut self,
        of: &OpenFile,
        pos: u64,
        count: u64,
        flags: ReadFlags,
    ) -> Result<ReadCont, i64> {
        if pos > i64::MAX as u64 || pos.checked_add(count).is_none_or(|e| e > i64::MAX as u64) {
            return Err(-(libc::EINVAL as i64));
        }
        let count = count.min(crate::trace::op::MAX_RW_COUNT);
        if count == 0 {
            return Err(0);
        }
        Ok(ReadCont { pos, remaining: count, already: 0, last_pos: of.ra.prev_pos, flags, wait: ReadWait::None })
    }

    #[inline]
    /// filemap_read: a buffered read, run until it returns (the bytes read, or a negative errno) or sleeps on a folio
    /// under I/O (then call again with the same state after the wake). The batch buffer lives in the kernel while
    /// the read runs, so the hit path allocates nothing; a sleeping read keeps its own.
    pub fn filemap_read(&mut self, of: &mut OpenFile, r: &mut ReadCont) -> Poll {
        let mut batch = if r.wait == ReadWait::None {
            std::mem::take(&mut self.read_batch)
        } else {
            let mut batch = std::mem::take(&mut self.read_parked[self.cur_task]);
            self.unpin(&batch);
            self.revalidate(of.file, &mut batch);
            batch
        };
        let done = self.read_loop(of, r, &mut batch);
        if let Poll::Sleep(_) = done {
            self.pinned.extend_from_slice(&batch);
            let t = self.cur_task;
            if self.read_parked.len() <= t {
                self.read_parked.resize_with(t + 1, Vec::new);
            }
            self.read_parked[t] = batch;
            return done;
        }
        self.read_batch = batch;
        // file_accessed: atime, with relatime.
        self.touch_atime(of.file);
        done
    }

    /// Model: drops one pin of each folio of `batch` (a sleeping reader's references).
    fn unpin(&mut self, batch: &[FolioId]) {
        for id in batch {
            if let Some(i) = self.pinned.iter().rposition(|p| p == id) {
                self.pinned.swap_remove(i);
            }
        }
    }

    /// Model: a sleeping reader's batch after the wake: its folios in order while each is still the file's at the index
    /// after the one before. DIVERGENCE: the kernel's reader holds references, so a folio truncated meanwhile is
    /// copied from anyway (stale data); the model ends the batch before it (reclaim skips pinned folios).
    fn revalidate(&self, file: u32, batch: &mut Vec<FolioId>) {
        let mapping = &self.inodes[file as usize].mapping;
        let mut next: Option<u64> = None;
        let keep = batch
            .iter()
            .take_while(|&&id| {
                let f = self.folios.get(id);
                let ok = f.file() == file
                    && next.is_none_or(|n| n == f.index())
                    && mapping.lookup(&self.folios, f.index()) == Some(id);
                next = Some(f.next_index());
                ok
            })
            .count();
        batch.truncate(keep);
    }

    #[inline]
    /// filemap_read's loop: get_pages, mark accessed, copy, until the request or the file ends.
    fn read_loop(&mut self, of: &mut OpenFile, r: &mut ReadCont, batch: &mut Vec<FolioId>) -> Poll {
        // The position in locals (registers) while the loop runs, back in `r` when the read sleeps.
        let (mut pos, mut remaining, mut already, mut last_pos) = (r.pos, r.remaining, r.already, r.last_pos);
        loop {
            let isize = self.inodes[of.file as usize].size;
            if pos >= isize {
                break;
            }
            match self.get_pages(of, pos, remaining, r.flags, batch, &mut r.wait) {
                Ok(()) => {}
                Err(GetPages::Sleep(t)) => {
                    (r.pos, r.remaining, r.already, r.last_pos) = (pos, remaining, already, last_pos);
                    return Poll::Sleep(t);
                }
                Err(GetPages::Errno(e)) => {
                    if already == 0 {
                        of.ra.prev_pos = last_pos;
                        return Poll::Done(e);
                    }
                    break;
                }
            }
            let isize = self.inodes[of.file as usize].size;
            if pos >= isize {
                break;
            }
            let end_offset = isize.min(pos + remaining);
            // Mark the first folio accessed unless this read continues in the folio the last one ended in.
            let first = *self.folios.get(batch[0]);
            let same = last_pos > 0
                && ((last_pos as u64 - 1) >> 12) >= first.index()
                && ((last_pos as u64 - 1) >> 12) < first.next_index()
                && (pos >> 12) >= first.index();
            for (i, &id) in batch.iter().enumerate() {
                if i > 0 || !same {
                    self.folio_mark_accessed(id);
                }
                let f = self.folios.get(id);
                let fsize = f.nr_pages() * 4096;
                let offset = pos & (fsize - 1);
                if pos >= end_offset {
                    break;
                }
                let bytes = (end_offset - pos).min(fsize - offset);
                already += bytes;
                pos += bytes;
                remaining -= bytes;
                last_pos = pos as i64;
            }
            if remaining == 0 || pos >= isize {
                break;
            }
        }
        of.ra.prev_pos = last_pos;
        Poll::Done(already as i64)
    }
}

impl Kernel {
    /// filemap_cachestat: walks pages [first_index, last_index] of the file: folios (large ones clipped to the range)
    /// count as cached, dirty (PAGECACHE_TAG_DIRTY: PG_dirty here) and under writeback; shadow entries as evicted, and
    /// as recently evicted when workingset_test_recent holds (refault distance against NR_ACTIVE_FILE as of the last
    /// stats flush). The kernel first calls mem_cgroup_flush_stats_ratelimited, which flushes only when the periodic
    /// flush is late; the model brings its periodic flush up to date (`flush_stats`) instead.
    pub fn filemap_cachestat(&mut self, file: u32, first_index: u64, last_index: u64) -> Cachestat {
        self.flush_stats();
        let mut cs = Cachestat::default();
        let clip = |index: u64, nr: u64| {
            let end = index.saturating_add(nr - 1);
            nr - first_index.saturating_sub(index) - end.saturating_sub(last_index)
        };
        let mapping = &self.inodes[file as usize].mapping;
        let straddling =
            mapping.lookup(&self.folios, first_index).filter(|&id| self.folios.get(id).index() < first_index);
        let to = last_index.saturating_add(1);
        for id in straddling.into_iter().chain(mapping.range(first_index, to)) {
            let f = self.folios.get(id);
            let nr = clip(f.index(), f.nr_pages());
            cs.nr_cache += nr;
            if f.test(PG_DIRTY) {
                cs.nr_dirty += nr;
            }
            if f.test(PG_WRITEBACK) {
                cs.nr_writeback += nr;
            }
        }
        if mapping.nr_shadows() > 0 {
            let before = mapping.shadow_at(first_index).filter(|_| !mapping.contains(&self.folios, first_index));
            let before = before.map(|s| (first_index & !((1u64 << s.order) - 1), s)).filter(|(i, _)| *i < first_index);
            for (index, shadow) in before.into_iter().chain(mapping.shadows_starting_in(first_index, to)) {
                let nr = clip(index, 1 << shadow.order);
                cs.nr_evicted += nr;
                if self.ws.test_recent(shadow) {
                    cs.nr_recently_evicted += nr;
                }
            }
        }
        cs
    }
}

impl Kernel {
    /// filemap_alloc_folio + filemap_add_folio with the mapping's gfp, which retries until it succeeds.
    pub fn add_to_page_cache(&mut self, f: Folio) -> FolioId {
        self.filemap_add_folio(f, Gfp::Mapping).expect("invariant: a retrying allocation succeeds")
    }
    /// filemap_alloc_folio + filemap_add_folio: allocates the folio's pages (`None` when a __GFP_NORETRY allocation
    /// fails), then inserts it (the caller checked the range is free) and puts it on the LRU.
    pub fn filemap_add_folio(&mut self, f: Folio, gfp: Gfp) -> Option<FolioId> {
        if !self.alloc_folio(f.order as u32, gfp) {
            return None;
        }
        let nr = f.nr_pages();
        self.flush_stats();
        // mem_cgroup_charge first: reclaim may run before the new folio is in the cache.
        self.mem_cgroup_charge(nr);
        let id = self.folios.alloc(f);
        // New folios are locked until their read completes (the caller submits it).
        self.folios.set_ready_at(id, Nanos(u64::MAX));
        let mapping = &mut self.inodes[f.file() as usize].mapping;
        // DIVERGENCE: every caller's folio goes through workingset_refault; the kernel skips it for write_begin's
        // (`!(gfp & __GFP_WRITE)`), so a write into an evicted range counts no refault and activates nothing there.
        if let Some(shadow) = mapping.insert(&self.folios, id, f.file(), &mut self.ws.shadow_nodes) {
            // workingset_refault: activate when the refault distance fits the (flushed) active list.
            let (activate, restore) = self.ws.refault(shadow, nr);
            let fl = &mut self.folios.get_mut(id).flags;
            if activate {
                *fl |= PG_ACTIVE;
            }
            if restore {
                *fl |= PG_WORKINGSET;
            }
        }
        folio_add_lru(&mut self.lru, &mut self.folios, id);
        self.peak_cached_pages = self.peak_cached_pages.max(self.lru.nr_pages[0] + self.lru.nr_pages[1]);
        self.vm.nr_added += f.nr_pages();
        if self.sink.enabled {
            let file = self.file_name(f.file());
            self.emit(EventKind::MmFilemapAddToPageCache { file, index: f.index(), order: f.order as u64 });
        }
        Some(id)
    }
    /// __filemap_remove_folio with an optional shadow entry left in the folio's slots.
    pub(crate) fn remove_folio(&mut self, id: FolioId, shadow: Option<Shadow>) {
        let f = *self.folios.get(id);
        self.mem_cgroup_uncharge(f.nr_pages());
        let list = folio_lru_list(&self.folios, id);
        self.lru.del(&mut self.folios, id, list);
        let mapping = &mut self.inodes[f.file() as usize].mapping;
        mapping.remove(&self.folios, f.index(), shadow, f.file(), &mut self.ws.shadow_nodes);
        self.folios.free(id);
        self.vm.nr_deleted += f.nr_pages();
        if self.sink.enabled {
            let name = self.file_name(f.file());
            self.emit(EventKind::MmFilemapDeleteFromPageCache { file: name, index: f.index(), order: f.order as u64 });
        }
    }
    /// filemap_remove_folio: takes a folio out of its file's page cache and the LRU, uncharges and frees it.
    pub fn filemap_remove_folio(&mut self, id: FolioId) {
        self.remove_folio(id, None);
    }
    /// folio_mark_accessed, with the PGACTIVATE count.
    pub fn folio_mark_accessed(&mut self, id: FolioId) {
        if folio_mark_accessed(&mut self.lru, &mut self.folios, id) {
            let nr = self.folios.get(id).nr_pages();
            self.vm.pgactivate += nr;
            self.ws.activation(nr);
        }
    }
}

impl Kernel {
    /// sys_cachestat (SYSCALL_DEFINE4(cachestat)): the pages holding bytes [off, off+len) (len 0: to the end of the file), their
    /// counts recorded in the run's cachestat log with the call's start and the calling task.
    pub fn ksys_cachestat(&mut self, files: &mut Files, fd: Fd, off: u64, len: u64) -> i64 {
        let Some(d) = files.fget(fd) else { return -(libc::EBADF as i64) };
        let file = d.of.file;
        // The last page: (off + len - 1) >> PAGE_SHIFT, or the end for len 0.
        let last = if len == 0 { u64::MAX } else { off.wrapping_add(len).wrapping_sub(1) >> 12 };
        let cs = self.filemap_cachestat(file, off >> 12, last);
        let rec = crate::trace::cachestat::Record {
            time_ns: self.now.0 - SYSCALL_NS,
            task: self.task.to_string(),
            file: self.file_name(file).to_string(),
            off,
            len,
            counts: cs.counts(),
        };
        self.cachestat_log.push(rec);
        0
    }
}

impl Kernel {
    /// Model: the page cache a read of pages [from, to) of `file` through an FADV_RANDOM descriptor leaves
    /// behind (one order-0 folio per page, referenced, inactive: a scenario's `Cached` start state), added in
    /// bulk when no freed folio id and no shadow is in the way, else folio by folio (the same folios, ids and LRU
    /// order either way).
    pub fn add_cached_range(&mut self, file: u32, from: u64, to: u64) {
        let n = to.saturating_sub(from);
        let make = |k: u64| Folio::new(from + k, 0, file, super::folio::PG_REFERENCED);
        let mapping = &mut self.inodes[file as usize].mapping;
        if n > 0 && mapping.holds_no_shadows() && self.folios.free_ids() == 0 {
            let first = self.folios.alloc_run(n, make).expect("no free ids");
            let done = mapping.insert_run(from, n, first);
            debug_assert!(done, "invariant: checked above");
            let list = folio_lru_list(&self.folios, first);
            self.lru.add_run(&mut self.folios, first, n, n, list);
        } else {
            for k in 0..n {
                let id = self.folios.alloc(make(k));
                self.inodes[file as usize].mapping.insert(&self.folios, id, file, &mut self.ws.shadow_nodes);
                folio_add_lru(&mut self.lru, &mut self.folios, id);
            }
        }
        self.initial_pages += n;
    }

    /// Model: a hint that page `index` of `file` is about to be looked up: its page-index slot first (`folio`
    /// false), its folio once the slot is near (`folio` true).
    #[inline]
    pub fn prefetch_page(&self, file: u32, index: u64, folio: bool) {
        let Some(ino) = self.inodes.get(file as usize) else { return };
        if folio {
            if let Some(id) = ino.mapping.folios.get(index) {
                self.folios.prefetch(id);
            }
        } else {
            ino.mapping.folios.prefetch(index);
        }
    }
}
