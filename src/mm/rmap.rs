//! mm/rmap.c: the reverse map walks reclaim and writeback make over a folio's mappings (every mapping of its file
//! whose range covers it): the accessed bits (`folio_referenced`), unmapping (`try_to_unmap`), write protection at
//! writeback (`folio_mkclean`).
//!
//! Simplifications, each marked DIVERGENCE at its line: `folio_referenced` honours every mapping (no
//! `vma_has_recency` skip of VM_SEQ_READ / VM_RAND_READ mappings, no VM_LOCKED).

use crate::kernel::Kernel;
use crate::mm::pgtable::covered;

impl Kernel {
    /// folio_referenced (mm/rmap.c): walks every mapping of the folio's file, clearing the young bits of the folio's
    /// PTEs; returns whether any page is mapped and in how many mappings any PTE of the folio was young
    /// (folio_referenced_one adds one to `pra->referenced` per VMA, however many of its PTEs were young).
    pub fn folio_referenced(&mut self, file: u32, index: u64, nr: u64) -> (bool, u64) {
        let (mut mapped, mut referenced) = (false, 0);
        // DIVERGENCE: every live mapping counts; the kernel's invalid_folio_referenced_vma skips mappings without
        // recency (MADV_SEQUENTIAL, MADV_RANDOM, FADV_NOREUSE files), leaving their young bits set. No VM_LOCKED
        // (mlock) handling either: the model has no mlock.
        for p in self.ptes.iter_mut().filter(|p| p.live && p.file == file) {
            let mut young = false;
            for page in covered(p, index, nr) {
                if let Some(y) = p.test_clear_young(page - p.pgoff) {
                    mapped = true;
                    young |= y;
                }
            }
            referenced += young as u64;
        }
        (mapped, referenced)
    }
    /// folio_mapped: whether any page of the folio has a PTE.
    pub fn folio_mapped(&self, file: u32, index: u64, nr: u64) -> bool {
        self.ptes
            .iter()
            .filter(|p| p.live && p.file == file)
            .any(|p| covered(p, index, nr).any(|page| p.is_mapped(page - p.pgoff)))
    }
    /// try_to_unmap: removes every PTE of the folio's pages.
    pub fn try_to_unmap(&mut self, file: u32, index: u64, nr: u64) {
        for p in self.ptes.iter_mut().filter(|p| p.live && p.file == file) {
            let r = covered(p, index, nr);
            if !r.is_empty() {
                p.zap(r.start - p.pgoff, r.end - r.start);
            }
        }
    }
    /// folio_mkclean (mm/rmap.c): write-protects every PTE of the folio's pages, so the next write to them faults and
    /// dirties the folio again (folio_clear_dirty_for_io, before writeback).
    pub fn folio_mkclean(&mut self, file: u32, index: u64, nr: u64) {
        for p in self.ptes.iter_mut().filter(|p| p.live && p.file == file) {
            for page in covered(p, index, nr) {
                p.write_protect(page - p.pgoff);
            }
        }
    }
}
