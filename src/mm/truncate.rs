//! mm/truncate.c (Linux 6.18): taking folios out of the page cache when a file shrinks, a hole is punched, or cache
//! is invalidated (`truncate_inode_pages_range`, `truncate_inode_partial_folio`, `truncate_pagecache`,
//! `truncate_pagecache_range`, `mapping_try_invalidate`, `invalidate_inode_pages2_range`), and the folio split a
//! partial large folio gets (mm/huge_memory.c `folio_split`).
//!
//! Truncation walks the range twice, as the kernel does: a first pass removes, in ascending batches, the folios that
//! lie wholly inside it and are not locked (`find_lock_entries`); then each partial folio at the range's ends is
//! handled; a second pass removes whatever is left (waiting for folios under read I/O). A partial large folio is
//! split non-uniformly (6.18 `try_folio_split`: buddy halves down to an order-0 folio holding the boundary page) and
//! the pieces at or beyond the new end of file are removed by the split itself, in ascending order: so shrinking a
//! file whose EOF page sits in an order-5 folio deletes the whole folios past it first, then pieces of orders 0, 1,
//! 2, 3 and 4 (traces/kernel/truncate_cached). Every removal emits `mm_filemap_delete_from_page_cache`, uncharges
//! the memory cgroup and leaves the LRU; truncation drops the shadow entries of the range, invalidation those wholly
//! inside it.
//!
//! A dirty (or partly written) large folio keeps its buffers, so it cannot be split: truncation then leaves it whole,
//! pages past EOF included, as the kernel does; a clean one that cannot be split is removed whole.
//!
//! `folio_zero_range` and `->invalidate_folio` change only data and buffers, which the model does not keep.
//!
//! Simplifications, each marked DIVERGENCE at its line: the split of a clean folio never fails (the kernel's fails
//! when something else holds a reference, e.g. a folio still in a per-CPU LRU batch); no per-CPU LRU batches, so
//! invalidation never fails for that reason either, and a folio it fails on is deactivated at once.

use super::folio::FOLIO_BATCH;
use super::folio::{Folio, FolioId, PCSIM_READ_IN, PG_ACTIVE, PG_DIRTY, PG_READAHEAD, PG_REFERENCED};
use super::folio::{PG_WORKINGSET, PG_WRITEBACK};
use super::swap::{folio_lru_list, LruList};
use crate::kernel::Kernel;

impl Kernel {
    /// unmap_mapping_pages: removes the PTEs of file pages [start, start + nr) from every mapping of the file.
    pub fn unmap_mapping_pages(&mut self, file: u32, start: u64, nr: u64) {
        let end = start.saturating_add(nr);
        for p in self.ptes.iter_mut().filter(|p| p.live && p.file == file) {
            let lo = start.max(p.pgoff);
            let hi = end.min(p.pgoff + p.pages);
            if lo < hi {
                p.zap(lo - p.pgoff, hi - lo);
            }
        }
    }

    /// folio_lock on a folio under read I/O: the task sleeps until the read completes.
    fn folio_lock(&mut self, id: FolioId) {
        let ready = self.folios.ready_at(id);
        if ready > self.now {
            self.now = ready;
        }
    }

    /// folio_trylock as find_lock_entries uses it: not locked now, no read I/O in flight. A folio left partly valid by a write
    /// is not uptodate but not locked either.
    fn unlocked(&self, id: FolioId) -> bool {
        self.folios.ready_at(id) <= self.now
    }

    /// folio_cancel_dirty -> folio_account_cleaned: a dirty folio being thrown away stops counting as dirty
    /// (NR_FILE_DIRTY, the file's dirty pages, WB_RECLAIMABLE).
    fn folio_cancel_dirty(&mut self, id: FolioId) {
        let f = self.folios.get_mut(id);
        if f.test(PG_DIRTY) {
            f.flags &= !PG_DIRTY;
            let (nr, file, index) = (f.nr_pages(), f.file() as usize, f.index());
            self.inodes[file].mapping.tag_dirty(index, false);
            self.vm.nr_dirty -= nr;
            self.inodes[file].nr_dirty -= nr;
            let dev = self.inodes[file].device;
            self.wb.wbs[dev].wb_reclaimable -= nr;
        }
    }

    /// folio_wait_writeback: the task sleeps until the folio's writeback completes. Returns whether it is still under
    /// writeback: DIVERGENCE: truncation does not sleep in the middle of its call, so a folio whose writeback
    /// submitter is itself asleep before submitting (blk-wbt, a tag) cannot be waited for here; the callers leave it
    /// in the page cache (the kernel's truncation waits and removes it).
    fn folio_wait_writeback(&mut self, id: FolioId) -> bool {
        let f = *self.folios.get(id);
        if f.test(PG_WRITEBACK) {
            self.filemap_fdatawait_range(f.file(), f.index() * 4096, f.next_index() * 4096 - 1);
        }
        self.folios.get(id).test(PG_WRITEBACK)
    }

    /// truncate_inode_folio: truncate_cleanup_folio (unmap the folio if mapped, folio_cancel_dirty) and
    /// filemap_remove_folio (no shadow entry).
    fn truncate_inode_folio(&mut self, id: FolioId) {
        let f = *self.folios.get(id);
        if self.folio_mapped(f.file(), f.index(), f.nr_pages()) {
            self.unmap_mapping_pages(f.file(), f.index(), f.nr_pages());
        }
        self.folio_cancel_dirty(id);
        self.filemap_remove_folio(id);
    }

    /// find_get_entries: the folios overlapping pages [start, end] in index order: the one holding `start`, then those beginning after it.
    fn folios_overlapping(&self, file: u32, start: u64, end: u64) -> Vec<FolioId> {
        let mapping = &self.inodes[file as usize].mapping;
        let first = mapping.lookup(&self.folios, start).filter(|&id| self.folios.get(id).index() < start);
        first.into_iter().chain(mapping.range(start, end.saturating_add(1))).collect()
    }

    /// find_lock_entries over pages [start, end]: the folios lying wholly inside the range that can be locked now (not
    /// under read I/O) and are not under writeback, in index order.
    fn find_lock_entries(&self, file: u32, start: u64, end: u64) -> Vec<FolioId> {
        self.inodes[file as usize]
            .mapping
            .range(start, end.saturating_add(1))
            .filter(|&id| {
                let f = self.folios.get(id);
                f.next_index() - 1 <= end && self.unlocked(id) && !f.test(PG_WRITEBACK)
            })
            .collect()
    }

    /// clear_shadow_entries for the shadow entries find_lock_entries returns in pages [start, end] (only those lying
    /// wholly inside): clears them.
    fn clear_shadows_inside(&mut self, file: u32, start: u64, end: u64) -> u64 {
        let mapping = &mut self.inodes[file as usize].mapping;
        if mapping.nr_shadows() == 0 {
            return 0;
        }
        let inside: Vec<u64> = mapping
            .shadows_starting_in(start, end.saturating_add(1))
            .into_iter()
            .filter(|(i, s)| i + (1u64 << s.order) - 1 <= end)
            .map(|(i, _)| i)
            .collect();
        for &i in &inside {
            mapping.remove_shadows(i, i + 1, file, &mut self.ws.shadow_nodes);
        }
        inside.len() as u64
    }

    /// truncate_folio_batch_exceptionals after find_get_entries: clears every shadow entry overlapping pages
    /// [start, end) (find_get_entries returns entries straddling the range's start too).
    fn clear_shadows_overlapping(&mut self, file: u32, start: u64, end: u64) {
        let mapping = &mut self.inodes[file as usize].mapping;
        if mapping.nr_shadows() == 0 || start >= end {
            return;
        }
        let list = &mut self.ws.shadow_nodes;
        if let Some(s) = mapping.shadow_at(start) {
            let first = start & !((1u64 << s.order) - 1);
            mapping.remove_shadows(first, first + 1, file, list);
        }
        mapping.remove_shadows(start, end, file, list);
    }

    /// folio_split (mm/huge_memory.c) as 6.18's try_folio_split does it for truncation: a non-uniform split of a large
    /// folio into buddy halves down to an order-0 folio holding page `at`. The folio keeps its first piece (and its
    /// flags); the other pieces copy PG_referenced, PG_active, PG_workingset and PG_dirty (not PG_readahead) and go on
    /// the folio's LRU list on its newer side (lru_add_split_folio). Pieces at or beyond the end of file are removed from
    /// the page cache in ascending order, as __folio_split does. Returns false when the folio cannot be split: it has
    /// buffers that cannot be released (dirty or under writeback, or a write left it partly valid: filemap_release_folio
    /// fails).
    fn folio_split(&mut self, id: FolioId, at: u64) -> bool {
        let f = *self.folios.get(id);
        if f.order == 0 {
            return true;
        }
        if f.test(PG_DIRTY) || f.test(PG_WRITEBACK) || self.folios.partial_blocks(id).is_some() {
            return false;
        }
        // DIVERGENCE: a clean folio always splits; the kernel's split fails (-EAGAIN) when a reference beyond the
        // mapping's and the caller's is held (a per-CPU LRU batch, another task's lookup).
        let file = f.file();
        let mut pieces: Vec<(u64, u8)> = Vec::with_capacity(f.order as usize + 1);
        let (mut base, mut order) = (f.index(), f.order);
        while order > 0 {
            order -= 1;
            let half = 1u64 << order;
            if at < base + half {
                pieces.push((base + half, order));
            } else {
                pieces.push((base, order));
                base += half;
            }
        }
        pieces.push((base, 0));
        pieces.sort_unstable();
        let list = folio_lru_list(&self.folios, id);
        self.inodes[file as usize].mapping.remove(&self.folios, f.index(), None, file, &mut self.ws.shadow_nodes);
        let tail_flags = f.flags & (PG_REFERENCED | PG_ACTIVE | PG_WORKINGSET | PG_DIRTY | PCSIM_READ_IN);
        let mut ids = Vec::with_capacity(pieces.len());
        for &(index, order) in &pieces {
            let pid = if index == f.index() {
                self.folios.get_mut(id).order = order;
                // The shrunken folio's LRU page count changes with it.
                self.lru.nr_pages[list as usize] -= f.nr_pages() - (1u64 << order);
                id
            } else {
                let pid = self.folios.alloc(Folio::new(index, order, file, tail_flags));
                self.lru.add_newer_than(&mut self.folios, pid, id, list);
                pid
            };
            self.inodes[file as usize].mapping.insert(&self.folios, pid, file, &mut self.ws.shadow_nodes);
            ids.push(pid);
        }
        let eof = self.inodes[file as usize].size.div_ceil(4096);
        for pid in ids.into_iter().skip(1) {
            if self.folios.get(pid).index() >= eof {
                self.filemap_remove_folio(pid);
            }
        }
        true
    }

    /// truncate_inode_partial_folio: the folio holding an end of the byte range [start, end] (inclusive; `u64::MAX`
    /// for the end of file). Wholly inside: removed. Otherwise the range is zeroed (data only) and a large folio split
    /// at the range's first page, and again at the page after its last when the range ends inside the folio. A folio
    /// that cannot be split is removed whole, unless it is dirty: then it stays and false is returned.
    fn truncate_inode_partial_folio(&mut self, id: FolioId, start: u64, end: u64) -> bool {
        let f = *self.folios.get(id);
        let pos = f.index() * 4096;
        let size = f.nr_pages() * 4096;
        let offset = start.saturating_sub(pos);
        let length = if pos + size <= end { size - offset } else { end + 1 - pos - offset };
        if self.folio_wait_writeback(id) {
            // Its writeback is not submitted yet (see folio_wait_writeback): it stays.
            return false;
        }
        if length == size {
            self.truncate_inode_folio(id);
            return true;
        }
        if f.order == 0 {
            return true;
        }
        if !self.folio_split(id, f.index() + offset / 4096) {
            if self.folios.get(id).test(PG_DIRTY) {
                return false;
            }
            self.truncate_inode_folio(id);
            return true;
        }
        if offset + length == size {
            return true;
        }
        let at2 = f.index() + (offset + length) / 4096;
        if let Some(id2) = self.inodes[f.file() as usize].mapping.lookup(&self.folios, at2) {
            if self.folios.get(id2).order > 0 {
                // Its result does not matter here.
                let _ = self.folio_split(id2, at2);
            }
        }
        true
    }

    /// truncate_inode_pages_range: removes the page cache of bytes [lstart, lend] (`lend` inclusive, `u64::MAX` for the
    /// end of file); partial pages at either end stay (zeroed in the kernel), partial large folios are split.
    pub fn truncate_inode_pages_range(&mut self, file: u32, lstart: u64, lend: u64) {
        {
            let mapping = &self.inodes[file as usize].mapping;
            if mapping.nrpages == 0 && mapping.nr_shadows() == 0 {
                return;
            }
        }
        let mut start = lstart.div_ceil(4096);
        let mut end = if lend == u64::MAX { u64::MAX } else { (lend + 1) >> 12 };
        // First pass: whole, unlocked folios and whole shadow entries, in ascending batches of FOLIO_BATCH entries
        // (the order of removals is ascending either way).
        if start < end {
            for id in self.find_lock_entries(file, start, end - 1) {
                self.truncate_inode_folio(id);
            }
            self.clear_shadows_inside(file, start, end - 1);
        }
        let _ = FOLIO_BATCH;
        let mut same_folio = (lstart >> 12) == (lend >> 12);
        if let Some(id) = self.inodes[file as usize].mapping.lookup(&self.folios, lstart >> 12) {
            self.folio_lock(id);
            let f = *self.folios.get(id);
            same_folio = lend < f.next_index() * 4096;
            if !self.truncate_inode_partial_folio(id, lstart, lend) {
                start = f.next_index();
                if same_folio {
                    end = f.index();
                }
            }
        }
        if !same_folio {
            if let Some(id) = self.inodes[file as usize].mapping.lookup(&self.folios, lend >> 12) {
                self.folio_lock(id);
                let index = self.folios.get(id).index();
                if !self.truncate_inode_partial_folio(id, lstart, lend) {
                    end = index;
                }
            }
        }
        // Second pass (find_get_entries): everything left in [start, end), waiting for folios under read I/O.
        if start < end {
            for id in self.folios_overlapping(file, start, end - 1) {
                self.folio_lock(id);
                if self.folio_wait_writeback(id) {
                    // Its writeback is not submitted yet: left cached (see folio_wait_writeback).
                    continue;
                }
                self.truncate_inode_folio(id);
            }
            self.clear_shadows_overlapping(file, start, end);
        }
    }

    /// truncate_pagecache: after i_size has been set to `newsize`, unmaps the pages from the new end of file on
    /// (unmap_mapping_range) and truncates the page cache there.
    pub fn truncate_pagecache(&mut self, file: u32, newsize: u64) {
        let holebegin = newsize.div_ceil(4096);
        self.unmap_mapping_pages(file, holebegin, u64::MAX);
        self.truncate_inode_pages_range(file, newsize, u64::MAX);
        self.unmap_mapping_pages(file, holebegin, u64::MAX);
    }

    /// truncate_pagecache_range: a punched hole of bytes [lstart, lend]: unmaps the whole pages inside it, then
    /// truncates the page cache of the range.
    pub fn truncate_pagecache_range(&mut self, file: u32, lstart: u64, lend: u64) {
        let unmap_start = lstart.div_ceil(4096);
        let unmap_end = lend.saturating_add(1) >> 12; // exclusive, in pages
        if unmap_end > unmap_start {
            self.unmap_mapping_pages(file, unmap_start, unmap_end - unmap_start);
        }
        self.truncate_inode_pages_range(file, lstart, lend);
    }
}

/// What an invalidation did: pages (and shadow entries) invalidated, and folios it could not evict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Invalidated {
    pub count: u64,
    pub nr_failed: u64,
}

impl Kernel {
    /// deactivate_file_folio -> lru_deactivate_file for a folio invalidation could not evict: a mapped folio is left
    /// alone; a dirty or writeback one goes to the inactive head with PG_reclaim (PG_readahead's bit); a clean one to
    /// the inactive tail. PG_active and PG_referenced are cleared (PGDEACTIVATE counted for an active one).
    fn deactivate_file_folio(&mut self, id: FolioId) {
        // DIVERGENCE: at once; the kernel queues the folio in this CPU's lru_deactivate_file batch.
        let f = *self.folios.get(id);
        if self.folio_mapped(f.file(), f.index(), f.nr_pages()) {
            return;
        }
        let list = folio_lru_list(&self.folios, id);
        self.lru.del(&mut self.folios, id, list);
        self.folios.get_mut(id).flags &= !(PG_ACTIVE | PG_REFERENCED);
        if f.test(PG_DIRTY) || f.test(PG_WRITEBACK) {
            self.lru.add(&mut self.folios, id, LruList::InactiveFile);
            self.folios.get_mut(id).flags |= PG_READAHEAD;
        } else {
            self.lru.add_tail(&mut self.folios, id, LruList::InactiveFile);
        }
        if list == LruList::ActiveFile {
            self.vm.pgdeactivate += f.nr_pages();
        }
    }

    /// mapping_try_invalidate: evicts the clean, unlocked, unmapped folios lying wholly in pages [start, end]
    /// (mapping_evict_folio refuses dirty, writeback and mapped ones; find_lock_entries skips locked ones, folios under
    /// writeback and large folios crossing either end) without leaving shadow entries, and clears the shadow entries
    /// inside the range. A folio it could not evict is deactivated and counted in `nr_failed`.
    pub fn mapping_try_invalidate(&mut self, file: u32, start: u64, end: u64) -> Invalidated {
        let mut r = Invalidated::default();
        for id in self.find_lock_entries(file, start, end) {
            let f = *self.folios.get(id);
            // DIVERGENCE: mapping_evict_folio's reference count test is the mapped test alone: no folio is ever held
            // by a per-CPU LRU batch or another task here.
            let evictable =
                !f.test(PG_DIRTY) && !f.test(PG_WRITEBACK) && !self.folio_mapped(file, f.index(), f.nr_pages());
            if evictable {
                self.filemap_remove_folio(id);
                r.count += f.nr_pages();
            } else {
                self.deactivate_file_folio(id);
                r.nr_failed += 1;
            }
        }
        r.count += self.clear_shadows_inside(file, start, end);
        r
    }

    /// invalidate_mapping_pages: mapping_try_invalidate without the failure count (drop_caches, the retry of
    /// fadvise DONTNEED). Returns the pages and shadow entries invalidated.
    pub fn invalidate_mapping_pages(&mut self, file: u32, start: u64, end: u64) -> u64 {
        self.mapping_try_invalidate(file, start, end).count
    }

    /// invalidate_inode_pages2_range: removes every folio overlapping pages [start, end], unmapping mapped ones
    /// (the rest of the range at once, on the first mapped folio) and waiting for locked ones; a dirty folio cannot be
    /// removed (ext4 has no ->launder_folio): -EBUSY. Shadow entries in the range are cleared. Used by O_DIRECT writes
    /// (fs/direct_io.rs: kiocb_invalidate_pages and kiocb_invalidate_post_direct_write); 6.18's O_DIRECT reads only
    /// write back (kiocb_write_and_wait).
    pub fn invalidate_inode_pages2_range(&mut self, file: u32, start: u64, end: u64) -> i64 {
        let mut ret = 0;
        let mut did_range_unmap = false;
        for id in self.folios_overlapping(file, start, end) {
            let f = *self.folios.get(id);
            if !did_range_unmap && self.folio_mapped(file, f.index(), f.nr_pages()) {
                let from = f.index().max(start);
                self.unmap_mapping_pages(file, from, end.saturating_sub(from).saturating_add(1));
                did_range_unmap = true;
            }
            self.folio_lock(id);
            if self.folio_wait_writeback(id) {
                // Its writeback is not submitted yet (see folio_wait_writeback): not invalidated.
                ret = -(libc::EBUSY as i64);
                continue;
            }
            if self.folio_mapped(file, f.index(), f.nr_pages()) {
                self.unmap_mapping_pages(file, f.index(), f.nr_pages());
            }
            if self.folios.get(id).test(PG_DIRTY) {
                ret = -(libc::EBUSY as i64);
                continue;
            }
            self.filemap_remove_folio(id);
        }
        self.clear_shadows_overlapping(file, start, end.saturating_add(1));
        ret
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::ExtentMap;
    use crate::kernel::Inode;
    use crate::mm::fault::Vma;
    use crate::trace::event::EventKind;
    use crate::units::Nanos;

    /// A kernel with one file of `size` bytes caching `folios` (index, order), events on.
    fn kernel(size: u64, folios: &[(u64, u8)]) -> Kernel {
        let ino = Inode::new("f", 0, size, ExtentMap::contiguous(0, size.div_ceil(4096)));
        let mut k = Kernel::new(vec![ino], Vec::new(), vec![256], true);
        k.zone = crate::kernel::mmzone::Zone::new(1 << 30, 0, 4096, 10);
        for &(index, order) in folios {
            let id = k.add_to_page_cache(Folio::new(index, order, 0, 0));
            k.folios.set_ready_at(id, Nanos(0));
        }
        k.sink.events.clear();
        k
    }

    /// The (index, order) of every delete event, in order.
    fn deletes(k: &Kernel) -> Vec<(u64, u64)> {
        k.sink
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::MmFilemapDeleteFromPageCache { index, order, .. } => Some((*index, *order)),
                _ => None,
            })
            .collect()
    }

    fn cached(k: &Kernel) -> Vec<(u64, u8)> {
        k.inodes[0].mapping.iter().map(|id| (k.folios.get(id).index(), k.folios.get(id).order)).collect()
    }

    #[test]
    fn shrinking_truncate_removes_whole_folios_first_then_split_pieces() {
        // traces/kernel/truncate_cached: order-5 folios; i_size 5 MiB + 3 KiB puts EOF in page 1280.
        let folios: Vec<(u64, u8)> = (0..8).map(|i| (1248 + 32 * i, 5)).collect();
        let mut k = kernel(16 << 20, &folios);
        let newsize = (5 << 20) + 3072;
        k.inodes[0].size = newsize;
        k.truncate_pagecache(0, newsize);
        let mut want: Vec<(u64, u64)> = (0..6).map(|i| (1312 + 32 * i, 5)).collect();
        want.extend([(1281, 0), (1282, 1), (1284, 2), (1288, 3), (1296, 4)]);
        assert_eq!(deletes(&k), want);
        assert_eq!(cached(&k), vec![(1248, 5), (1280, 0)]);
        assert_eq!(k.inodes[0].mapping.nrpages, 33);
        k.check_invariants().unwrap();
        assert_eq!(k.vm.nr_deleted, 6 * 32 + 31);
    }

    #[test]
    fn a_punched_hole_inside_one_folio_splits_it_twice() {
        // Pages [770, 780) of the order-5 folio at 768 (traces/kernel/punch_hole).
        let mut k = kernel(16 << 20, &[(736, 5), (768, 5), (800, 5)]);
        k.truncate_pagecache_range(0, 770 * 4096, 780 * 4096 - 1);
        assert_eq!(deletes(&k), vec![(770, 0), (771, 0), (772, 2), (776, 2)]);
        assert_eq!(cached(&k), vec![(736, 5), (768, 1), (780, 0), (781, 0), (782, 1), (784, 4), (800, 5)]);
        k.check_invariants().unwrap();
    }

    #[test]
    fn whole_folios_go_in_the_first_pass_and_locked_ones_in_the_second() {
        let mut k = kernel(1 << 20, &[(0, 2), (4, 2), (8, 2)]);
        // The folio at 4 is still being read until t = 1000.
        let id = k.inodes[0].mapping.lookup(&k.folios, 4).unwrap();
        k.folios.set_ready_at(id, Nanos(1000));
        k.truncate_pagecache_range(0, 0, 12 * 4096 - 1);
        assert_eq!(deletes(&k), vec![(0, 2), (8, 2), (4, 2)]);
        assert_eq!(k.now, Nanos(1000), "the truncating task waited for the read");
        assert!(cached(&k).is_empty());
    }

    /// Evicts the folios starting at `indices` by reclaim (leaving shadow entries).
    fn evict(k: &mut Kernel, indices: &[u64]) {
        for &i in indices {
            let id = k.inodes[0].mapping.lookup(&k.folios, i).unwrap();
            k.remove_mapping(id);
        }
        k.sink.events.clear();
    }

    #[test]
    fn truncation_drops_shadows_and_unmaps() {
        let mut k = kernel(1 << 20, &[(0, 0), (1, 0), (2, 0), (8, 3), (32, 0)]);
        evict(&mut k, &[8, 32]);
        assert_eq!(k.inodes[0].mapping.nr_shadows(), 2);
        let vma = Vma::new(&mut k, 0, 0, 0, 256);
        for p in 0..3 {
            k.ptes[vma.pte].map(p);
        }
        k.inodes[0].size = 4096;
        k.truncate_pagecache(0, 4096);
        assert_eq!(deletes(&k), vec![(1, 0), (2, 0)]);
        assert_eq!(k.inodes[0].mapping.nr_shadows(), 0);
        assert!(k.ptes[vma.pte].is_mapped(0) && !k.ptes[vma.pte].is_mapped(1) && !k.ptes[vma.pte].is_mapped(2));
    }

    #[test]
    fn invalidation_skips_mapped_dirty_locked_and_straddling_folios() {
        let mut k = kernel(1 << 20, &[(0, 0), (1, 0), (2, 0), (3, 0), (4, 2), (8, 0), (9, 0)]);
        evict(&mut k, &[9]);
        let vma = Vma::new(&mut k, 0, 0, 0, 256);
        k.ptes[vma.pte].map(0);
        let dirty = k.inodes[0].mapping.lookup(&k.folios, 1).unwrap();
        // Dirty as folio_mark_dirty leaves it (the test's kernel has no bdi to account it to).
        k.folios.get_mut(dirty).flags |= PG_DIRTY;
        k.inodes[0].mapping.tag_dirty(1, true);
        (k.vm.nr_dirty, k.inodes[0].nr_dirty) = (1, 1);
        let locked = k.inodes[0].mapping.lookup(&k.folios, 2).unwrap();
        k.folios.set_ready_at(locked, Nanos(50));
        // Pages 0..=5: the order-2 folio at 4 crosses the end.
        let r = k.mapping_try_invalidate(0, 0, 5);
        assert_eq!(deletes(&k), vec![(3, 0)]);
        assert_eq!(
            r,
            Invalidated { count: 1, nr_failed: 2 },
            "mapped and dirty fail; locked and straddling are skipped"
        );
        // The dirty folio was deactivated with PG_reclaim; the shadow at 9 is outside the range.
        assert!(k.folios.get(dirty).test(PG_READAHEAD));
        assert_eq!(k.invalidate_mapping_pages(0, 6, 20), 2, "page 8 and the shadow at 9");
        assert_eq!(k.inodes[0].mapping.nr_shadows(), 0);
        k.check_invariants().unwrap();
    }

    #[test]
    fn invalidate_inode_pages2_unmaps_and_refuses_dirty_folios() {
        let mut k = kernel(1 << 20, &[(0, 0), (1, 0), (2, 2)]);
        let vma = Vma::new(&mut k, 0, 0, 0, 256);
        k.ptes[vma.pte].map(0);
        k.ptes[vma.pte].map(5);
        let dirty = k.inodes[0].mapping.lookup(&k.folios, 1).unwrap();
        k.folios.get_mut(dirty).flags |= PG_DIRTY;
        // Pages [0, 3]: the order-2 folio at 2 overlaps and goes whole.
        assert_eq!(k.invalidate_inode_pages2_range(0, 0, 3), -(libc::EBUSY as i64));
        assert_eq!(deletes(&k), vec![(0, 0), (2, 2)]);
        assert!(!k.ptes[vma.pte].is_mapped(0) && !k.ptes[vma.pte].is_mapped(5));
        assert_eq!(cached(&k), vec![(1, 0)]);
    }
}
