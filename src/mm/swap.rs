//! mm/swap.c and include/linux/mm_inline.h: the file LRU lists of the classic two-list LRU (the host runs without
//! MGLRU) and `folio_mark_accessed`'s two-touch promotion.
//!
//! The lists are doubly linked through the folios themselves (`Folio::lru_prev/lru_next`, as struct folio's `lru`
//! list_head), newest at the head; reclaim takes from the tail. Only the file lists exist (no swap, so anonymous
//! memory is out of scope). One `Lruvec` per memory domain.
//!
//! Simplifications, each marked DIVERGENCE at its line: the per-CPU folio batches (`folio_add_lru`,
//! `folio_activate` queue up to 31 folios before they reach the lists) are not modelled: folios reach the lists at
//! once, so the order can differ by up to a batch, and nothing is ever held in a batch (where the kernel's
//! invalidation or a folio split can fail on the batch's reference). Reclaim is vmscan.rs's, shadows and refault
//! activation workingset.rs's.

use super::folio::{FolioId, FolioSlab, NIL, PG_ACTIVE, PG_DIRTY, PG_REFERENCED};

/// enum lru_list, file half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LruList {
    InactiveFile = 0,
    ActiveFile = 1,
}

/// struct lruvec, file lists only: heads, tails and page counts (NR_INACTIVE_FILE, NR_ACTIVE_FILE).
#[derive(Clone, Debug)]
pub struct Lruvec {
    head: [u32; 2],
    tail: [u32; 2],
    /// Pages on each list.
    pub nr_pages: [u64; 2],
    /// Folios on each list.
    pub nr_folios: [u64; 2],
}

impl Default for Lruvec {
    fn default() -> Self {
        Lruvec { head: [NIL; 2], tail: [NIL; 2], nr_pages: [0; 2], nr_folios: [0; 2] }
    }
}

impl Lruvec {
    /// lruvec_add_folio: puts the folio at the head of `list`.
    pub fn add(&mut self, slab: &mut FolioSlab, id: FolioId, list: LruList) {
        let l = list as usize;
        let old = self.head[l];
        {
            let f = slab.get_mut(id);
            f.lru_prev = NIL;
            f.lru_next = old;
        }
        if old == NIL {
            self.tail[l] = id.0;
        } else {
            slab.get_mut(FolioId(old)).lru_prev = id.0;
        }
        self.head[l] = id.0;
        self.nr_pages[l] += slab.get(id).nr_pages();
        self.nr_folios[l] += 1;
    }

    /// Model: links folios `first..first + n` (of `pages` pages in all, not on any list) onto the head of `list`
    /// in id order, as `n` calls of `add` would: the last one ends at the head.
    pub fn add_run(&mut self, slab: &mut FolioSlab, first: FolioId, n: u64, pages: u64, list: LruList) {
        if n == 0 {
            return;
        }
        let l = list as usize;
        let (lo, hi) = (first.0, first.0 + (n as u32 - 1));
        for id in lo..=hi {
            let f = slab.get_mut(FolioId(id));
            f.lru_next = if id == lo { self.head[l] } else { id - 1 };
            f.lru_prev = if id == hi { NIL } else { id + 1 };
        }
        if self.head[l] == NIL {
            self.tail[l] = lo;
        } else {
            slab.get_mut(FolioId(self.head[l])).lru_prev = lo;
        }
        self.head[l] = hi;
        self.nr_pages[l] += pages;
        self.nr_folios[l] += n;
    }

    /// lruvec_add_folio_tail: puts the folio at the tail (the oldest end) of `list`.
    pub fn add_tail(&mut self, slab: &mut FolioSlab, id: FolioId, list: LruList) {
        let l = list as usize;
        let old = self.tail[l];
        {
            let f = slab.get_mut(id);
            f.lru_prev = old;
            f.lru_next = NIL;
        }
        if old == NIL {
            self.head[l] = id.0;
        } else {
            slab.get_mut(FolioId(old)).lru_next = id.0;
        }
        self.tail[l] = id.0;
        self.nr_pages[l] += slab.get(id).nr_pages();
        self.nr_folios[l] += 1;
    }

    /// list_add_tail(&folio->lru, &anchor->lru): links the folio right before `anchor` in list order, i.e. on its
    /// newer side (lru_add_split_folio puts the pieces of a split folio there).
    pub fn add_newer_than(&mut self, slab: &mut FolioSlab, id: FolioId, anchor: FolioId, list: LruList) {
        let l = list as usize;
        let newer = slab.get(anchor).lru_prev;
        {
            let f = slab.get_mut(id);
            f.lru_prev = newer;
            f.lru_next = anchor.0;
        }
        slab.get_mut(anchor).lru_prev = id.0;
        if newer == NIL {
            self.head[l] = id.0;
        } else {
            slab.get_mut(FolioId(newer)).lru_next = id.0;
        }
        self.nr_pages[l] += slab.get(id).nr_pages();
        self.nr_folios[l] += 1;
    }

    /// lruvec_del_folio: unlinks the folio from `list`.
    pub fn del(&mut self, slab: &mut FolioSlab, id: FolioId, list: LruList) {
        let l = list as usize;
        let (prev, next) = {
            let f = slab.get(id);
            (f.lru_prev, f.lru_next)
        };
        if prev == NIL {
            self.head[l] = next;
        } else {
            slab.get_mut(FolioId(prev)).lru_next = next;
        }
        if next == NIL {
            self.tail[l] = prev;
        } else {
            slab.get_mut(FolioId(next)).lru_prev = prev;
        }
        let f = slab.get_mut(id);
        f.lru_prev = NIL;
        f.lru_next = NIL;
        self.nr_pages[l] -= f.nr_pages();
        self.nr_folios[l] -= 1;
    }

    /// The oldest folio of `list`.
    pub fn tail(&self, list: LruList) -> Option<FolioId> {
        let t = self.tail[list as usize];
        (t != NIL).then_some(FolioId(t))
    }

    /// The folios of `list` from the oldest (tail) to the newest.
    pub fn iter_from_tail<'a>(&self, slab: &'a FolioSlab, list: LruList) -> impl Iterator<Item = FolioId> + 'a {
        let mut at = self.tail[list as usize];
        std::iter::from_fn(move || {
            if at == NIL {
                return None;
            }
            let id = FolioId(at);
            at = slab.get(id).lru_prev;
            Some(id)
        })
    }

    /// Checks the lists' links and counts (test and debug builds).
    pub fn check(&self, slab: &FolioSlab) -> Result<(), String> {
        for list in [LruList::InactiveFile, LruList::ActiveFile] {
            let (mut folios, mut pages, mut next) = (0u64, 0u64, NIL);
            for id in self.iter_from_tail(slab, list) {
                let f = slab.get(id);
                if f.lru_next != next {
                    return Err(format!("invariant: LRU {list:?} link broken at folio {}", id.0));
                }
                if f.test(PG_ACTIVE) != (list == LruList::ActiveFile) {
                    return Err(format!("invariant: folio {} on {list:?} with PG_active {}", id.0, f.test(PG_ACTIVE)));
                }
                next = id.0;
                folios += 1;
                pages += f.nr_pages();
                if folios > self.nr_folios[list as usize] {
                    return Err(format!("invariant: LRU {list:?} longer than its count"));
                }
            }
            if folios != self.nr_folios[list as usize] || pages != self.nr_pages[list as usize] {
                return Err(format!("invariant: LRU {list:?} counts {folios}/{pages} != recorded"));
            }
        }
        Ok(())
    }
}

/// folio_lru_list: the list a folio is on, by its PG_active flag.
pub fn folio_lru_list(slab: &FolioSlab, id: FolioId) -> LruList {
    if slab.get(id).test(PG_ACTIVE) {
        LruList::ActiveFile
    } else {
        LruList::InactiveFile
    }
}

/// folio_add_lru: a new folio goes to the head of the inactive list (the active one if PG_active is set).
pub fn folio_add_lru(lru: &mut Lruvec, slab: &mut FolioSlab, id: FolioId) {
    // DIVERGENCE: straight onto the list; the kernel queues the folio in this CPU's lru_add batch (31 folios) and
    // moves the batch when it fills or is drained.
    let list = folio_lru_list(slab, id);
    lru.add(slab, id, list);
}

/// folio_mark_accessed: first touch sets PG_referenced; a second touch while inactive activates the folio
/// (moves it to the active list, clears PG_referenced; PGACTIVATE). Returns whether it was activated.
pub fn folio_mark_accessed(lru: &mut Lruvec, slab: &mut FolioSlab, id: FolioId) -> bool {
    let f = *slab.get(id);
    if !f.test(PG_REFERENCED) {
        slab.get_mut(id).flags |= PG_REFERENCED;
        false
    } else if !f.test(PG_ACTIVE) {
        // folio_activate -> lru_activate: off the inactive list, PG_active, onto the active head.
        // DIVERGENCE: at once; the kernel queues it in this CPU's activate batch first.
        lru.del(slab, id, LruList::InactiveFile);
        slab.get_mut(id).flags = (f.flags | PG_ACTIVE) & !PG_REFERENCED;
        lru.add(slab, id, LruList::ActiveFile);
        true
    } else {
        false
    }
}

/// folio_rotate_reclaimable -> lru_move_tail: a folio whose writeback ended with PG_reclaim set goes to the tail
/// of the inactive list (PG_active cleared), to be reclaimed first, unless it was redirtied meanwhile.
/// DIVERGENCE: at once; the kernel queues it in this CPU's lru_move_tail batch. Not counted (no PGROTATED).
pub fn folio_rotate_reclaimable(lru: &mut Lruvec, slab: &mut FolioSlab, id: FolioId) {
    let f = *slab.get(id);
    if f.test(PG_DIRTY) {
        return;
    }
    let list = folio_lru_list(slab, id);
    lru.del(slab, id, list);
    slab.get_mut(id).flags &= !PG_ACTIVE;
    lru.add_tail(slab, id, LruList::InactiveFile);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::folio::Folio;

    #[test]
    fn a_run_added_in_bulk_is_linked_as_one_by_one() {
        let (mut s1, mut s2) = (FolioSlab::default(), FolioSlab::default());
        let (mut l1, mut l2) = (Lruvec::default(), Lruvec::default());
        // One folio already on the list, then a run of five.
        for (s, l) in [(&mut s1, &mut l1), (&mut s2, &mut l2)] {
            let id = s.alloc(Folio::new(100, 0, 0, 0));
            l.add(s, id, LruList::InactiveFile);
        }
        for k in 0..5 {
            let id = s1.alloc(Folio::new(k, 0, 1, 0));
            l1.add(&mut s1, id, LruList::InactiveFile);
        }
        let first = s2.alloc_run(5, |k| Folio::new(k, 0, 1, 0)).unwrap();
        l2.add_run(&mut s2, first, 5, 5, LruList::InactiveFile);
        assert_eq!(format!("{l1:?}"), format!("{l2:?}"));
        for id in 0..6 {
            assert_eq!(s1.get(FolioId(id)), s2.get(FolioId(id)), "folio {id}");
        }
        // On an empty list too.
        let (mut s3, mut l3) = (FolioSlab::default(), Lruvec::default());
        let first = s3.alloc_run(3, |k| Folio::new(k, 0, 0, 0)).unwrap();
        l3.add_run(&mut s3, first, 3, 3, LruList::ActiveFile);
        assert_eq!((l3.head[1], l3.tail[1], l3.nr_pages[1]), (2, 0, 3));
        assert_eq!((s3.get(FolioId(0)).lru_next, s3.get(FolioId(2)).lru_prev), (NIL, NIL));
    }

    #[test]
    fn two_touches_activate() {
        let mut slab = FolioSlab::default();
        let mut lru = Lruvec::default();
        let ids: Vec<FolioId> = (0..4).map(|i| slab.alloc(Folio::new(i, 0, 0, 0))).collect();
        for &id in &ids {
            folio_add_lru(&mut lru, &mut slab, id);
        }
        assert_eq!(lru.tail(LruList::InactiveFile), Some(ids[0]), "oldest at the tail");
        assert!(!folio_mark_accessed(&mut lru, &mut slab, ids[1]));
        assert!(folio_mark_accessed(&mut lru, &mut slab, ids[1]));
        assert!(!folio_mark_accessed(&mut lru, &mut slab, ids[1]), "already active");
        assert_eq!(lru.nr_folios, [3, 1]);
        assert_eq!(lru.iter_from_tail(&slab, LruList::InactiveFile).collect::<Vec<_>>(), vec![ids[0], ids[2], ids[3]]);
        lru.del(&mut slab, ids[2], LruList::InactiveFile);
        lru.check(&slab).unwrap();
        assert_eq!(lru.nr_pages, [2, 1]);
        // Split pieces go on the newer side of their folio; a deactivated one to the tail.
        let p = slab.alloc(Folio::new(8, 0, 0, 0));
        lru.add_newer_than(&mut slab, p, ids[0], LruList::InactiveFile);
        lru.del(&mut slab, ids[3], LruList::InactiveFile);
        lru.add_tail(&mut slab, ids[3], LruList::InactiveFile);
        assert_eq!(lru.iter_from_tail(&slab, LruList::InactiveFile).collect::<Vec<_>>(), vec![ids[3], ids[0], p]);
        lru.check(&slab).unwrap();
    }
}
