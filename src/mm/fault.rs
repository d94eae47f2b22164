//! Page faults on file mappings (6.18): mm/memory.c `do_read_fault`, `do_fault_around`, and mm/filemap.c
//! `filemap_map_pages`, `filemap_fault`, `do_sync_mmap_readahead`, `do_async_mmap_readahead`.
//!
//! A fault first tries fault-around: map the uptodate, unmarked folios in the 16-page window
//! (fault_around_bytes 64 KiB) around the address, each whole folio at once (6.18 maps entire large folios, except
//! the one holding the file's last page);
//! only if the faulting page is still unmapped does `filemap_fault` run. When `filemap_fault` starts readahead or
//! must wait for a locked folio on the first attempt it drops the fault lock and returns VM_FAULT_RETRY; the retry
//! (FAULT_FLAG_TRIED only after a major fault) goes through fault-around again, which is what the host's traces
//! show (a `mm_filemap_map_pages` after each readahead).
//!
//! Simplifications, each marked DIVERGENCE at its line: mappings are assumed 2 MiB aligned (the kernel aligns file
//! mappings of 2 MiB or more for filesystems with large folios), so the page-table offset of a page is its offset in
//! the mapping modulo 512; no PMD mappings of order-9 folios (the kernel maps an aligned 2 MiB folio with one PMD
//! and emits no `mm_filemap_map_pages` for it); no VM_EXEC mappings, so no VM_EXEC read-around. Write faults are
//! fault_write.rs's.

use super::folio::{Folio, FolioId, PG_READAHEAD, PG_WORKINGSET};
use super::readahead::ReadaheadControl;
use crate::fs::file::OpenFile;
use crate::kernel::{Blocked, Kernel};
use crate::mm::pgtable::Ptes;
use crate::trace::event::EventKind;

/// Where a page fault stands between its sleeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaultState {
    /// Not started (or done).
    #[default]
    New,
    /// Asleep on a folio with the fault lock dropped: the fault is tried again after the wake (VM_FAULT_RETRY),
    /// `first_try` false once FAULT_FLAG_TRIED is set, `mmap_lock` once the per-VMA lock attempt is over.
    Retry { first_try: bool, mmap_lock: bool },
    /// Asleep on the folio lock of a second try, holding the fault lock: the page is mapped after the wake.
    Map,
}

/// fault_around_bytes / PAGE_SIZE.
pub const FAULT_AROUND_PAGES: u64 = 16;
/// MMAP_LOTSAMISS.
pub const MMAP_LOTSAMISS: u64 = 100;
const PTRS_PER_PTE: u64 = 512;
const HPAGE_PMD_NR: u64 = 512;
const HPAGE_PMD_ORDER: u32 = 9;

/// One mapping (a VMA) of a file: its flags; its page-table state lives in the kernel (`Ptes`, at `pte`) so
/// reclaim can check and clear it.
#[derive(Clone, Debug)]
pub struct Vma {
    /// Index of the struct file (the task's open-file arena).
    pub of: usize,
    /// vm_pgoff: file page of the mapping's first page.
    pub pgoff: u64,
    pub pages: u64,
    /// VM_SEQ_READ (MADV_SEQUENTIAL).
    pub seq: bool,
    /// VM_RAND_READ (MADV_RANDOM).
    pub rand: bool,
    /// VM_HUGEPAGE (MADV_HUGEPAGE).
    pub huge: bool,
    /// Index of this mapping's page-table state in `Kernel::ptes`.
    pub pte: usize,
    /// VM_SHARED | VM_WRITE: writes dirty the file's pages (mm/fault_write.rs); read faults map read-only
    /// (vma_wants_writenotify), so the first write to a page faults.
    pub shared_write: bool,
}

impl Vma {
    /// A mapping of `pages` pages of `file` from `pgoff`, with empty page tables registered in the kernel.
    pub fn new(k: &mut Kernel, of: usize, file: u32, pgoff: u64, pages: u64) -> Self {
        k.ptes.push(Ptes { file, pgoff, pages, live: true, ..Default::default() });
        Vma { of, pgoff, pages, seq: false, rand: false, huge: false, pte: k.ptes.len() - 1, shared_write: false }
    }
}

impl Kernel {
    /// next_uptodate_folio: whether fault-around may map the folio: uptodate, unlocked, not PG_readahead, inside
    /// i_size.
    fn mappable(&self, id: FolioId, max_idx: u64) -> bool {
        let f = self.folios.get(id);
        self.folios.uptodate(id, self.now) && !f.test(PG_READAHEAD) && f.index() < max_idx
    }

    /// filemap_map_pages over file pages [start, end] of `vma`: maps every page of each mappable folio that lies in the
    /// VMA; emits the tracepoint when at least one folio was found; lowers mmap_miss by the pages seen.
    fn filemap_map_pages(&mut self, of: &mut OpenFile, vma: &mut Vma, start: u64, end: u64) {
        let file = of.file;
        let max_idx = self.inodes[file as usize].size.div_ceil(4096);
        let mut found = false;
        let mut mmap_miss = 0u64;
        // Folios overlapping [start, end]: the one holding `start`, then those beginning inside.
        let mut ids = Vec::new();
        if let Some(id) = self.inodes[file as usize].mapping.lookup(&self.folios, start) {
            ids.push(id);
        }
        ids.extend(self.inodes[file as usize].mapping.range(start + 1, end + 1));
        // DIVERGENCE: every folio is mapped with PTEs; the kernel's filemap_map_pmd maps a PMD-aligned order-9 folio
        // with one PMD (and then emits no mm_filemap_map_pages).
        for id in ids {
            let f = *self.folios.get(id);
            if !self.mappable(id, max_idx) {
                continue;
            }
            found = true;
            // 6.18 maps a large folio whole, unless it reaches the end of the file (`file_end >= folio_next_index`
            // fails for the folio holding the last page, so it is mapped only within the window).
            let file_end = max_idx - 1;
            let (lo, hi) = if file_end >= f.next_index() {
                (f.index().max(vma.pgoff), f.next_index().min(vma.pgoff + vma.pages))
            } else {
                (
                    f.index().max(start).max(vma.pgoff),
                    f.next_index().min(end + 1).min(vma.pgoff + vma.pages).min(max_idx),
                )
            };
            for page in lo..hi {
                if !f.test(PG_WORKINGSET) && page >= start && page <= end {
                    mmap_miss += 1;
                }
                self.ptes[vma.pte].map(page - vma.pgoff);
            }
        }
        if found && self.events_on() {
            let name = self.file_name(file);
            let last_index = end.min(max_idx - 1);
            self.emit(EventKind::MmFilemapMapPages { file: name, index: start, last_index });
        }
        of.ra.mmap_miss = of.ra.mmap_miss.saturating_sub(mmap_miss);
    }
}

/// do_fault_around: the 16-page aligned window around the fault, clamped to the VMA and its page table.
fn fault_around_window(vma: &Vma, page: u64) -> (u64, u64) {
    let vma_off = page - vma.pgoff;
    // DIVERGENCE: the mapping is taken to start on a 2 MiB boundary, so a page's page-table slot is its offset in the
    // mapping modulo 512 (the kernel uses the virtual address).
    let pte_off = vma_off % PTRS_PER_PTE;
    let from_pte = (pte_off & !(FAULT_AROUND_PAGES - 1)).max(pte_off - pte_off.min(vma_off));
    let to_pte = (from_pte + FAULT_AROUND_PAGES).min(PTRS_PER_PTE).min(pte_off + vma.pages - vma_off) - 1;
    (page + from_pte - pte_off, page + to_pte - pte_off)
}

impl Kernel {
    /// do_sync_mmap_readahead: readahead for a major fault. Returns whether the fault lock was dropped (fpin).
    fn do_sync_mmap_readahead(&mut self, of: &mut OpenFile, vma: &Vma, page: u64, first_try: bool) -> bool {
        if vma.huge {
            let mut ractl = ReadaheadControl::new(of.file, page & !(HPAGE_PMD_NR - 1), of.random);
            of.ra.size = if vma.rand { HPAGE_PMD_NR } else { 2 * HPAGE_PMD_NR };
            of.ra.async_size = HPAGE_PMD_NR;
            of.ra.order = HPAGE_PMD_ORDER;
            self.page_cache_ra_order(&mut ractl, &mut of.ra);
            return first_try;
        }
        if vma.rand || of.ra.ra_pages == 0 {
            return false;
        }
        if vma.seq {
            let mut ractl = ReadaheadControl::new(of.file, page, of.random);
            let req = of.ra.ra_pages;
            self.page_cache_sync_ra(&mut ractl, &mut of.ra, req);
            return first_try;
        }
        if of.ra.mmap_miss < MMAP_LOTSAMISS * 10 {
            of.ra.mmap_miss += 1;
        }
        if of.ra.mmap_miss > MMAP_LOTSAMISS {
            return false;
        }
        // Read-around.
        // DIVERGENCE: no VM_EXEC mappings, so never the VM_EXEC case of the kernel's read-around.
        of.ra.start = page.saturating_sub(of.ra.ra_pages / 2);
        of.ra.size = of.ra.ra_pages;
        of.ra.async_size = of.ra.ra_pages / 4;
        of.ra.order = 0;
        let mut ractl = ReadaheadControl::new(of.file, of.ra.start, of.random);
        self.page_cache_ra_order(&mut ractl, &mut of.ra);
        first_try
    }

    /// do_async_mmap_readahead: a fault on a cached folio; async readahead if it is marked. Returns fpin.
    fn do_async_mmap_readahead(&mut self, of: &mut OpenFile, vma: &Vma, page: u64, first_try: bool) -> bool {
        if vma.rand || of.ra.ra_pages == 0 {
            return false;
        }
        of.ra.mmap_miss = of.ra.mmap_miss.saturating_sub(1);
        let id = self.inodes[of.file as usize].mapping.lookup(&self.folios, page).expect("caller found the folio");
        if self.folios.get(id).test(PG_READAHEAD) {
            let mut ractl = ReadaheadControl::new(of.file, page, of.random);
            let req = of.ra.ra_pages;
            self.page_cache_async_ra(&mut ractl, &mut of.ra, id, req);
            return first_try;
        }
        false
    }

    /// handle_mm_fault for a read access to file page `page` through `vma`: a mapped page is only touched (its PTE
    /// made young), an unmapped one faults (do_read_fault), which may sleep on a folio under I/O (`st` keeps where
    /// the fault stands; call again after the sleep). Ok(false) for SIGBUS (beyond EOF).
    pub fn handle_read_access(
        &mut self,
        of: &mut OpenFile,
        vma: &mut Vma,
        page: u64,
        st: &mut FaultState,
    ) -> Result<bool, Blocked> {
        if *st == FaultState::New {
            if self.ptes[vma.pte].is_mapped(page - vma.pgoff) {
                self.ptes[vma.pte].touch(page - vma.pgoff);
                return Ok(true);
            }
            self.vm.pgfault += 1;
        }
        self.do_fault(of, vma, page, true, st)
    }

    /// do_read_fault (with fault-around: filemap_map_pages first) or the __do_fault of do_shared_fault (without), then
    /// filemap_fault and finish_fault, which maps the page (read-only; a write fault makes it writable after
    /// page_mkwrite). Ok(false) on SIGBUS (beyond the end of the file). Sleeps on a folio under I/O
    /// (lock_folio_maybe_drop_mmap, filemap_read_folio): `st` says how the fault goes on after the wake (retried,
    /// VM_FAULT_RETRY, or the page mapped) and is `New` again once it is done.
    pub fn do_fault(
        &mut self,
        of: &mut OpenFile,
        vma: &mut Vma,
        page: u64,
        fault_around: bool,
        st: &mut FaultState,
    ) -> Result<bool, Blocked> {
        // The first attempt runs under the per-VMA lock; after its VM_FAULT_RETRY, do_user_addr_fault tries under
        // mmap_lock, with FAULT_FLAG_TRIED only if the fault was major; after a retry there, always with it. So a
        // fault is tried at most three times.
        let (mut first_try, mut mmap_lock) = match *st {
            FaultState::New => (true, false),
            FaultState::Retry { first_try, mmap_lock } => (first_try, mmap_lock),
            FaultState::Map => {
                // The lock was taken after the sleep on a second try: finish_fault.
                *st = FaultState::New;
                self.ptes[vma.pte].map(page - vma.pgoff);
                return Ok(true);
            }
        };
        *st = FaultState::New;
        loop {
            if fault_around {
                let (from, to) = fault_around_window(vma, page);
                self.filemap_map_pages(of, vma, from, to);
                if self.ptes[vma.pte].is_mapped(page - vma.pgoff) {
                    return Ok(true);
                }
            }
            // filemap_fault.
            let file = of.file;
            if self.events_on() {
                let name = self.file_name(file);
                self.emit(EventKind::MmFilemapFault { file: name, index: page });
            }
            if page >= self.inodes[file as usize].size.div_ceil(4096) {
                return Ok(false);
            }
            let mut fpin = false;
            let mut major = false;
            let id = match self.inodes[file as usize].mapping.lookup(&self.folios, page) {
                Some(id) => {
                    if first_try {
                        // filemap_get_folio's reference keeps the folio through readahead's allocations.
                        self.pinned.push(id);
                        fpin |= self.do_async_mmap_readahead(of, vma, page, first_try);
                        self.pinned.clear();
                    }
                    id
                }
                None => {
                    major = true;
                    self.vm.pgmajfault += 1;
                    self.vm.sync_misses += 1;
                    fpin |= self.do_sync_mmap_readahead(of, vma, page, first_try);
                    match self.inodes[file as usize].mapping.lookup(&self.folios, page) {
                        Some(id) => id,
                        None => {
                            // __filemap_get_folio(FGP_CREAT) then filemap_read_folio, synchronously.
                            let f = Folio::new(page, 0, file, 0);
                            let id = self.add_to_page_cache(f);
                            self.submit_folio_reads(file, &[id], false);
                            fpin |= first_try;
                            id
                        }
                    }
                }
            };
            if self.folios.partial_blocks(id).is_some() && self.folios.ready_at(id) <= self.now {
                // A folio a write left partly valid: page_not_uptodate -> filemap_read_folio reads the missing blocks
                // (block_read_full_folio), the folio locked until they complete; the wait is below.
                self.vm.sync_misses += 1;
                self.block_read_full_folio(file, id);
            }
            if !self.folios.uptodate(id, self.now) {
                // lock_folio_maybe_drop_mmap: sleep on the folio lock (dropping the fault lock on a first try, which
                // ends in VM_FAULT_RETRY, with FAULT_FLAG_TRIED only after a major fault).
                fpin |= first_try;
                self.vm.sync_misses += 1;
                *st = if fpin {
                    FaultState::Retry { first_try: first_try && !major && !mmap_lock, mmap_lock: true }
                } else {
                    FaultState::Map
                };
                return Err(Blocked(self.folios.wake_at(id, self.cur_task)));
            }
            if fpin {
                // VM_FAULT_RETRY: the arch handler retries (FAULT_FLAG_TRIED as above).
                first_try = first_try && !major && !mmap_lock;
                mmap_lock = true;
                continue;
            }
            // finish_fault: map the faulting page.
            self.ptes[vma.pte].map(page - vma.pgoff);
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_around_window_is_aligned_and_clamped() {
        let mut k = Kernel::new(Vec::new(), Vec::new(), Vec::new(), false);
        let v = Vma::new(&mut k, 0, 0, 0, 100);
        assert_eq!(fault_around_window(&v, 0), (0, 15));
        assert_eq!(fault_around_window(&v, 24), (16, 31));
        assert_eq!(fault_around_window(&v, 97), (96, 99));
        // A mapping that starts at file page 10: its page-table offset starts at 0.
        let w = Vma::new(&mut k, 0, 0, 10, 100);
        assert_eq!(fault_around_window(&w, 12), (10, 25));
    }
}
