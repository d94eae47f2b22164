//! `struct address_space` (include/linux/fs.h): a file's page cache, page index -> folio, with the range walks of
//! mm/filemap.c (`page_cache_next_miss`, `page_cache_prev_miss`) the readahead code uses.
//!
//! The kernel's xarray is modelled by an ordered map keyed by each folio's first index; a lookup of any index inside
//! a large folio finds it through the nearest key at or below. Shadow entries (issue 4) are not kept yet, so a
//! miss is simply an absent index.

use std::collections::BTreeMap;

use super::folio::{FolioId, FolioSlab};

#[derive(Clone, Debug, Default)]
pub struct AddressSpace {
    /// First page index of each folio -> folio.
    folios: BTreeMap<u64, FolioId>,
    /// Pages cached (sum of folio sizes).
    pub nrpages: u64,
}

impl AddressSpace {
    /// The folio covering page `index` (filemap_get_folio / xa_load).
    pub fn lookup(&self, slab: &FolioSlab, index: u64) -> Option<FolioId> {
        let (_, &id) = self.folios.range(..=index).next_back()?;
        let f = slab.get(id);
        (index < f.next_index()).then_some(id)
    }

    pub fn contains(&self, slab: &FolioSlab, index: u64) -> bool {
        self.lookup(slab, index).is_some()
    }

    /// Whether any page of [index, index + nr) is cached (filemap_add_folio's -EEXIST check).
    pub fn any_in(&self, slab: &FolioSlab, index: u64, nr: u64) -> bool {
        if self.lookup(slab, index).is_some() {
            return true;
        }
        self.folios.range(index..index + nr).next().is_some()
    }

    /// Inserts a folio known not to overlap any cached page.
    pub fn insert(&mut self, slab: &FolioSlab, id: FolioId) {
        let f = slab.get(id);
        self.nrpages += f.nr_pages();
        let old = self.folios.insert(f.index, id);
        debug_assert!(old.is_none(), "invariant: one folio per index");
    }

    /// Removes the folio starting at `index`.
    pub fn remove(&mut self, slab: &FolioSlab, index: u64) -> Option<FolioId> {
        let id = self.folios.remove(&index)?;
        self.nrpages -= slab.get(id).nr_pages();
        Some(id)
    }

    /// Folios in index order.
    pub fn iter(&self) -> impl Iterator<Item = FolioId> + '_ {
        self.folios.values().copied()
    }

    /// Folios whose first index is in [from, to).
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = FolioId> + '_ {
        self.folios.range(from..to).map(|(_, &id)| id)
    }

    /// page_cache_next_miss: the first index in [index, index + max_scan) with no folio, else index + max_scan.
    pub fn next_miss(&self, slab: &FolioSlab, index: u64, max_scan: u64) -> u64 {
        let mut i = index;
        let end = index.saturating_add(max_scan);
        while i < end {
            match self.lookup(slab, i) {
                None => return i,
                Some(id) => i = slab.get(id).next_index(),
            }
        }
        end
    }

    /// page_cache_prev_miss: walks down from `index` (inclusive) at most `max_scan` entries; returns the first
    /// missing index, `u64::MAX` when it walked below 0, or the last index visited when all were present.
    pub fn prev_miss(&self, slab: &FolioSlab, index: u64, max_scan: u64) -> u64 {
        let mut i = index;
        for n in 0..max_scan {
            if n > 0 {
                if i == 0 {
                    return u64::MAX;
                }
                i -= 1;
            }
            if !self.contains(slab, i) {
                return i;
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::folio::Folio;
    use crate::units::Nanos;

    fn space(folios: &[(u64, u8)]) -> (AddressSpace, FolioSlab) {
        let mut slab = FolioSlab::default();
        let mut a = AddressSpace::default();
        for &(index, order) in folios {
            let id = slab.alloc(Folio { index, order, ready_at: Nanos(0), file: 0, flags: 0 });
            a.insert(&slab, id);
        }
        (a, slab)
    }

    #[test]
    fn lookups_inside_large_folios() {
        let (a, s) = space(&[(0, 2), (4, 0), (8, 3)]);
        assert_eq!(a.nrpages, 13);
        assert!(a.contains(&s, 3) && a.contains(&s, 4) && !a.contains(&s, 5) && a.contains(&s, 15));
        assert!(!a.contains(&s, 16));
        assert!(a.any_in(&s, 5, 4) && !a.any_in(&s, 5, 3));
    }

    #[test]
    fn misses_follow_the_kernel() {
        let (a, s) = space(&[(0, 2), (4, 0), (8, 3)]);
        assert_eq!(a.next_miss(&s, 0, 100), 5);
        assert_eq!(a.next_miss(&s, 8, 100), 16);
        assert_eq!(a.next_miss(&s, 8, 4), 12);
        // Cached back to page 0: walks below 0.
        assert_eq!(a.prev_miss(&s, 4, 100), u64::MAX);
        assert_eq!(a.prev_miss(&s, 9, 100), 7);
        // All present within max_scan: the last index visited.
        assert_eq!(a.prev_miss(&s, 15, 4), 12);
    }
}
