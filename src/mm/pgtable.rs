//! The page tables of a file mapping, as reclaim's rmap walk sees them: per page, present, young (accessed) and
//! writable bits (include/linux/pgtable.h's ptep_test_and_clear_young and friends, on the model's sparse bitmaps).

/// The PTEs of one mapping: present and young (accessed) bits per page, in 64-page words keyed by word number
/// (sparse: a mapping may be huge and touched in few places; looked up only, never iterated into output).
#[derive(Clone, Debug, Default)]
pub struct Ptes {
    pub file: u32,
    pub pgoff: u64,
    pub pages: u64,
    /// False after munmap.
    pub live: bool,
    pub(crate) mapped: hashbrown::HashMap<u64, u64>,
    pub(crate) young: hashbrown::HashMap<u64, u64>,
    pub(crate) writable: hashbrown::HashMap<u64, u64>,
}

impl Ptes {
    pub fn is_mapped(&self, off: u64) -> bool {
        self.mapped.get(&(off / 64)).is_some_and(|w| w & (1 << (off % 64)) != 0)
    }
    /// Maps a page (its PTE starts young, as x86 sets prefaulted PTEs).
    pub fn map(&mut self, off: u64) {
        *self.mapped.entry(off / 64).or_default() |= 1 << (off % 64);
        self.touch(off);
    }
    pub fn is_writable(&self, off: u64) -> bool {
        self.writable.get(&(off / 64)).is_some_and(|w| w & (1 << (off % 64)) != 0)
    }
    /// Makes a mapped page's PTE writable (and dirty: the write that faulted goes through).
    pub fn make_writable(&mut self, off: u64) {
        *self.writable.entry(off / 64).or_default() |= 1 << (off % 64);
    }
    /// Write-protects a page (folio_mkclean: the next write faults again).
    pub fn write_protect(&mut self, off: u64) {
        if let Some(w) = self.writable.get_mut(&(off / 64)) {
            *w &= !(1 << (off % 64));
        }
    }
    /// The hardware sets the accessed bit of a mapped page on access.
    pub fn touch(&mut self, off: u64) {
        *self.young.entry(off / 64).or_default() |= 1 << (off % 64);
    }
    /// Drops the PTEs of [off, off+len) (MADV_DONTNEED, munmap, try_to_unmap).
    pub fn zap(&mut self, off: u64, len: u64) {
        // DIVERGENCE: the young bits are dropped; the kernel's zap_present_folio_ptes calls folio_mark_accessed for a
        // young PTE of a mapping with recency (and folio_mark_dirty for a dirty one: here the write fault dirtied the
        // folio already).
        let end = off.saturating_add(len).min(self.pages);
        for o in off..end {
            if let Some(w) = self.mapped.get_mut(&(o / 64)) {
                *w &= !(1 << (o % 64));
            }
            if let Some(w) = self.young.get_mut(&(o / 64)) {
                *w &= !(1 << (o % 64));
            }
            self.write_protect(o);
        }
    }
    /// Tests and clears the accessed bit (ptep_clear_flush_young); `None` when the page is not mapped.
    pub(crate) fn test_clear_young(&mut self, off: u64) -> Option<bool> {
        if !self.is_mapped(off) {
            return None;
        }
        let w = self.young.entry(off / 64).or_default();
        let y = *w & (1 << (off % 64)) != 0;
        *w &= !(1 << (off % 64));
        Some(y)
    }
}

/// vma_address: the file pages of [index, index+nr) that mapping `p` covers (the range rmap_walk visits; maybe
/// empty).
pub(crate) fn covered(p: &Ptes, index: u64, nr: u64) -> std::ops::Range<u64> {
    index.max(p.pgoff)..(index + nr).min(p.pgoff + p.pages)
}
