//! `struct address_space` (include/linux/fs.h): a file's page cache, page index -> folio, with the range walks of
//! mm/filemap.c (`page_cache_next_miss`, `page_cache_prev_miss`) the readahead code uses.
//!
//! Pages are found through `xarray::PageIndex` (O(1) lookups, ordered walks). Shadow entries of evicted folios are
//! kept beside it, by their first page; the xarray nodes' slot occupancy (`node->count`, `node->nr_values`) is kept
//! per node so that nodes holding only shadows can be listed for the shadow-node shrinker (workingset.c). The walks
//! use the xarray cursor emulation in `xa_cursor.rs`.

use super::folio::{FolioId, FolioSlab};
use super::shadow_map::ShadowMap;
use super::workingset::{Shadow, ShadowNodes};
use super::xa_cursor::{Slot, XaCursor};
use super::xarray::PageIndex;

#[derive(Clone, Debug, Default)]
pub struct AddressSpace {
    /// Page index -> folio.
    pub(super) folios: PageIndex,
    /// Pages cached (sum of folio sizes).
    pub nrpages: u64,
    /// Folios of order 6 or more (stored at the xarray's shift-6 level), so the cursor knows the tree's height
    /// without scanning.
    pub(super) large: u64,
    /// Shadow entries of evicted folios, by their first page (looked up only, never iterated into output).
    shadows: ShadowMap,
    /// xarray nodes with any slot in use, by `node_key` (looked up only).
    nodes: hashbrown::HashMap<u64, XaNode>,
    /// The PAGECACHE_TAG_DIRTY mark: the first page of each dirty folio, so writeback walks the dirty folios
    /// (find_get_folios_tag) without visiting the clean ones.
    dirty: std::collections::BTreeSet<u64>,
}

/// The slot occupancy of one xarray node: which of its 64 slots hold anything (entries, siblings, child nodes:
/// `node->count`) and which hold shadow values (`node->nr_values`), and its place on the shadow-node list.
#[derive(Clone, Copy, Debug, Default)]
struct XaNode {
    occupied: u64,
    values: u64,
    /// Key on `ShadowNodes::list` while the node holds only shadows (0: not listed).
    lru: u64,
}

/// Level-1 nodes (shift 6) are keyed apart from leaves.
const LEVEL1: u64 = 1 << 62;

/// The node holding a folio of `order` at `index` and the slots it occupies there (orders 0..=11).
fn node_slots(index: u64, order: u8) -> (u64, u64) {
    // DIVERGENCE: every entry lives in a node, even a file's single entry at index 0, which the kernel keeps in the
    // xarray's head (no node: a lone shadow there is never on the shadow-node list).
    let (key, first, n) = if order < 6 {
        (index >> 6, index & 63, 1u64 << order)
    } else {
        (LEVEL1 | (index >> 12), (index >> 6) & 63, 1u64 << (order - 6))
    };
    let mask = if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << first };
    (key, mask)
}

impl AddressSpace {
    /// The folio covering page `index` (filemap_get_folio / xa_load).
    #[inline]
    /// xa_set_mark / xa_clear_mark of PAGECACHE_TAG_DIRTY on the folio starting at `index` (folio_mark_dirty,
    /// folio_clear_dirty_for_io, folio_cancel_dirty).
    pub fn tag_dirty(&mut self, index: u64, dirty: bool) {
        if dirty {
            self.dirty.insert(index);
        } else {
            self.dirty.remove(&index);
        }
    }

    /// find_get_folios_tag(PAGECACHE_TAG_DIRTY): the first page of the first dirty folio starting in [from, to).
    pub fn next_dirty(&self, from: u64, to: u64) -> Option<u64> {
        if from >= to {
            return None;
        }
        self.dirty.range(from..to).next().copied()
    }

    /// Model: the dirty tag agrees with the folios' PG_dirty (an invariant check).
    pub fn check_dirty_tags(&self, slab: &FolioSlab) -> Result<(), String> {
        let flagged: std::collections::BTreeSet<u64> =
            self.iter().map(|id| slab.get(id)).filter(|f| f.test(super::folio::PG_DIRTY)).map(|f| f.index()).collect();
        if flagged != self.dirty {
            return Err(format!(
                "invariant: {} folios dirty, {} tagged dirty (first difference at {:?})",
                flagged.len(),
                self.dirty.len(),
                flagged.symmetric_difference(&self.dirty).next()
            ));
        }
        Ok(())
    }

    pub fn lookup(&self, _slab: &FolioSlab, index: u64) -> Option<FolioId> {
        self.folios.get(index)
    }

    pub fn contains(&self, slab: &FolioSlab, index: u64) -> bool {
        self.lookup(slab, index).is_some()
    }

    /// Whether any page of [index, index + nr) is cached (filemap_add_folio's -EEXIST check).
    pub fn any_in(&self, slab: &FolioSlab, index: u64, nr: u64) -> bool {
        if self.lookup(slab, index).is_some() {
            return true;
        }
        self.folios.next_start(index, index.saturating_add(nr)).is_some()
    }

    /// __filemap_add_folio's store: inserts a folio known not to overlap any cached page, replacing the shadow
    /// entries in its range; returns the shadow the kernel passes to workingset_refault (the last conflicting
    /// entry). A larger shadow around the folio is split (xas_split) and keeps its other parts.
    pub fn insert(&mut self, slab: &FolioSlab, id: FolioId, file: u32, list: &mut ShadowNodes) -> Option<Shadow> {
        let f = *slab.get(id);
        self.nrpages += f.nr_pages();
        self.large += (f.order >= 6) as u64;
        debug_assert!(self.folios.get(f.index()).is_none(), "invariant: one folio per index");
        self.folios.insert(f.index(), f.order, id);
        if f.test(super::folio::PG_DIRTY) {
            self.dirty.insert(f.index());
        }
        let old = self.take_shadow(f.index(), f.order, file, list);
        let (key, mask) = node_slots(f.index(), f.order);
        self.update_slots(key, mask, true, false, file, list);
        old
    }

    /// Model: no shadow entry and no xarray node with one (`insert_run` can be used).
    pub fn holds_no_shadows(&self) -> bool {
        self.shadows.is_empty() && self.nodes.is_empty()
    }

    /// Model: inserts order-0 folios `first..first + n` at pages `index..index + n` as `n` calls of `insert` would,
    /// in bulk; `false` (nothing done) unless the mapping has never held a shadow and the folios are clean.
    pub fn insert_run(&mut self, index: u64, n: u64, first: FolioId) -> bool {
        if !self.holds_no_shadows() {
            return false;
        }
        self.folios.insert_run(index, n, first);
        self.nrpages += n;
        true
    }

    /// page_cache_delete: removes the folio starting at `index`, leaving `shadow` in its slots if given (reclaim's
    /// __remove_mapping), else emptying them.
    pub fn remove(
        &mut self,
        slab: &FolioSlab,
        index: u64,
        shadow: Option<Shadow>,
        file: u32,
        list: &mut ShadowNodes,
    ) -> Option<FolioId> {
        let id = self.folios.get(index).filter(|&id| slab.get(id).index() == index)?;
        let order = slab.get(id).order;
        self.folios.remove(index, order);
        self.dirty.remove(&index);
        self.nrpages -= slab.get(id).nr_pages();
        self.large -= (order >= 6) as u64;
        let (key, mask) = node_slots(index, order);
        if let Some(s) = shadow {
            self.shadows.insert(index, Shadow { order, ..s });
        }
        self.update_slots(key, mask, shadow.is_some(), shadow.is_some(), file, list);
        Some(id)
    }

    /// Drops every shadow entry whose first page is in [from, to) (truncation's clearing of exceptional entries).
    pub fn remove_shadows(&mut self, from: u64, to: u64, file: u32, list: &mut ShadowNodes) {
        for (i, s) in self.shadows_starting_in(from, to) {
            self.shadows.remove(&i);
            let (key, mask) = node_slots(i, s.order);
            self.update_slots(key, mask, false, false, file, list);
        }
    }

    /// The shadow entries whose first page is in [from, to), in index order (for cachestat and truncation).
    pub fn shadows_starting_in(&self, from: u64, to: u64) -> Vec<(u64, Shadow)> {
        if self.shadows.is_empty() || from >= to {
            return Vec::new();
        }
        let mut v: Vec<(u64, Shadow)> = if to - from <= self.shadows.len() as u64 * 4 {
            (from..to).filter_map(|i| self.shadows.get(&i).map(|s| (i, *s))).collect()
        } else {
            self.shadows.iter().filter(|(&i, _)| i >= from && i < to).map(|(&i, s)| (i, *s)).collect()
        };
        v.sort_unstable_by_key(|(i, _)| *i);
        v
    }

    /// Shadow entries held (pages they cover are not counted).
    pub fn nr_shadows(&self) -> usize {
        self.shadows.len()
    }

    /// The shadow entry covering page `index`, if any.
    pub fn shadow_at(&self, index: u64) -> Option<Shadow> {
        self.shadows.covering(index)
    }

    /// Removes the shadows a new folio of `order` at `index` overwrites; returns the last one.
    fn take_shadow(&mut self, index: u64, order: u8, file: u32, list: &mut ShadowNodes) -> Option<Shadow> {
        if self.shadows.is_empty() {
            return None;
        }
        let nr = 1u64 << order;
        // A larger shadow containing the range is split into entries of the new folio's order.
        if let Some(big) = self.shadow_at(index).filter(|s| s.order > order) {
            let start = index & !((1u64 << big.order) - 1);
            self.shadows.remove(&start);
            let (key, mask) = node_slots(start, big.order);
            self.update_slots(key, mask, false, false, file, list);
            for piece in (start..start + (1u64 << big.order)).step_by(nr as usize) {
                if piece != index {
                    self.shadows.insert(piece, Shadow { order, ..big });
                    let (key, mask) = node_slots(piece, order);
                    self.update_slots(key, mask, true, true, file, list);
                }
            }
            return Some(big);
        }
        let mut found = None;
        for i in index..index + nr {
            if let Some(s) = self.shadows.remove(&i) {
                let (key, mask) = node_slots(i, s.order);
                self.update_slots(key, mask, false, false, file, list);
                found = Some(s);
            }
        }
        found
    }

    /// Whether anything (a page or a shadow) lies in pages [start, start + 64): the leaf node there exists.
    fn leaf_exists(&self, start: u64) -> bool {
        self.folios.get(start).is_some()
            || self.folios.next_start(start, start + 64).is_some()
            || (!self.shadows.is_empty() && (start..start + 64).any(|p| self.shadows.contains_key(&p)))
    }

    /// A node's slot occupancy and shadow slots, recomputed from the page index and the shadows.
    fn node_truth(&self, key: u64) -> (u64, u64) {
        let (mut occ, mut values) = (0u64, 0u64);
        if key & LEVEL1 == 0 {
            let base = key << 6;
            for s in 0..64u64 {
                let p = base + s;
                if self.folios.get(p).is_some() {
                    occ |= 1 << s;
                } else if self.shadow_at(p).is_some_and(|sh| sh.order < 6) {
                    occ |= 1 << s;
                    values |= 1 << s;
                }
            }
        } else {
            let base = (key & !LEVEL1) << 12;
            for s in 0..64u64 {
                let start = base + s * 64;
                if self.shadows.get(&start).is_some_and(|sh| sh.order >= 6)
                    || self.shadow_at(start).is_some_and(|sh| sh.order >= 6)
                {
                    occ |= 1 << s;
                    values |= 1 << s;
                } else if self.leaf_exists(start) {
                    occ |= 1 << s;
                }
            }
        }
        (occ, values)
    }

    /// xas_store's node accounting for slots `mask` of node `key`: `occupied` says whether they now hold anything,
    /// `value` whether that is a shadow; then workingset_update_node lists or unlists the node. Only nodes holding
    /// a shadow are tracked (the others can never be shadow-only): a node's entry is made from the page index and
    /// the shadows when it gets its first shadow, and dropped with its last. A leaf's parent (level-1 node, when
    /// tracked) holds a pointer to the leaf while anything lies in the leaf's range.
    fn update_slots(&mut self, key: u64, mask: u64, occupied: bool, value: bool, file: u32, list: &mut ShadowNodes) {
        // No tracked node (a mapping that never held a shadow: every cached file's set-up): nothing to update.
        if !value && self.nodes.is_empty() {
            return;
        }
        if !self.nodes.contains_key(&key) {
            if value {
                let (occupied, values) = self.node_truth(key);
                self.nodes.insert(key, XaNode { occupied, values, lru: 0 });
            } else {
                self.update_parent(key, file, list);
                return;
            }
        }
        let node = self.nodes.get_mut(&key).unwrap();
        if occupied {
            node.occupied |= mask;
        } else {
            node.occupied &= !mask;
        }
        if value {
            node.values |= mask;
        } else {
            node.values &= !mask;
        }
        self.settle(key, file, list);
        self.update_parent(key, file, list);
    }

    /// workingset_update_node: lists, unlists or drops a tracked node after a change.
    fn settle(&mut self, key: u64, file: u32, list: &mut ShadowNodes) {
        let Some(node) = self.nodes.get_mut(&key) else { return };
        let shadow_only = node.occupied != 0 && node.occupied == node.values;
        if shadow_only && node.lru == 0 {
            node.lru = list.add(file, key);
        } else if !shadow_only && node.lru != 0 {
            list.del(node.lru);
            node.lru = 0;
        }
        if node.values == 0 {
            self.nodes.remove(&key);
        }
    }

    /// After a change in leaf `key`: a tracked parent's pointer slot follows whether the leaf still exists.
    fn update_parent(&mut self, key: u64, file: u32, list: &mut ShadowNodes) {
        if key & LEVEL1 != 0 {
            return;
        }
        let parent = LEVEL1 | (key >> 6);
        if !self.nodes.contains_key(&parent) {
            return;
        }
        let exists = self.leaf_exists(key << 6);
        let bit = 1u64 << (key & 63);
        let node = self.nodes.get_mut(&parent).unwrap();
        if exists {
            node.occupied |= bit;
        } else {
            node.occupied &= !bit;
        }
        self.settle(parent, file, list);
    }

    /// Recounts the xarray nodes from the folios and shadows: the slot bitmaps must agree, no shadow may cover a
    /// cached page, and exactly the shadow-only nodes are listed. Returns the number of listed nodes.
    pub fn check_nodes(&self, slab: &FolioSlab) -> Result<u64, String> {
        let mut keys: Vec<u64> = Vec::new();
        let mut shadows: Vec<(u64, u8)> = self.shadows.iter().map(|(&i, s)| (i, s.order)).collect();
        shadows.sort_unstable();
        for &(i, order) in &shadows {
            if self.any_in(slab, i, 1u64 << order) {
                return Err(format!("invariant: a shadow at page {i} (order {order}) covers cached pages"));
            }
            let (key, _) = node_slots(i, order);
            keys.push(key);
        }
        keys.sort_unstable();
        keys.dedup();
        if keys.len() != self.nodes.len() {
            return Err(format!("invariant: {} nodes hold shadows, {} tracked", keys.len(), self.nodes.len()));
        }
        let mut listed = 0;
        for key in keys {
            let (occupied, values) = self.node_truth(key);
            let n = self.nodes.get(&key).ok_or_else(|| format!("invariant: node {key:#x} missing"))?;
            if (n.occupied, n.values) != (occupied, values) {
                return Err(format!(
                    "invariant: node {key:#x} slots {:#x}/{:#x}, expected {occupied:#x}/{values:#x}",
                    n.occupied, n.values
                ));
            }
            if (n.lru != 0) != (occupied == values) {
                return Err(format!(
                    "invariant: node {key:#x} listed {} but shadow-only {}",
                    n.lru != 0,
                    occupied == values
                ));
            }
            listed += (n.lru != 0) as u64;
        }
        Ok(listed)
    }

    /// shadow_lru_isolate: frees a shadow-only node, dropping all its shadow entries; returns whether it was one.
    pub fn free_shadow_node(&mut self, key: u64, file: u32, list: &mut ShadowNodes) -> bool {
        let Some(node) = self.nodes.get(&key).copied() else { return false };
        if node.occupied == 0 || node.occupied != node.values {
            return false;
        }
        let (base, step) = if key & LEVEL1 == 0 { (key << 6, 1) } else { ((key & !LEVEL1) << 12, 64) };
        for s in 0..64u64 {
            if node.values & (1 << s) != 0 {
                self.shadows.remove(&(base + s * step));
            }
        }
        self.update_slots(key, u64::MAX, false, false, file, list);
        true
    }

    /// Folios in index order.
    pub fn iter(&self) -> impl Iterator<Item = FolioId> + '_ {
        self.folios.range(0, u64::MAX).map(|(_, id)| id)
    }

    /// Folios whose first index is in [from, to).
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = FolioId> + '_ {
        self.folios.range(from, to).map(|(_, id)| id)
    }

    /// Bytes of the page index (the folios themselves are in the slab).
    pub fn index_bytes(&self) -> usize {
        self.folios.bytes()
    }

    /// page_cache_next_miss: walks the xarray forward from `index` at most `max_scan` entries and returns the
    /// index of the first empty slot, or index + max_scan. The walk is the kernel's (`XaCursor`), including its
    /// quirk: started inside a large folio, the cursor's slot offset moves to the folio's first slot while its index
    /// does not, so the returned index is skewed by the distance into the folio until the walk leaves the node.
    pub fn next_miss(&self, slab: &FolioSlab, index: u64, max_scan: u64) -> u64 {
        let mut xas = XaCursor::new(&self.folios, self.large > 0, slab, index);
        for n in 0..max_scan {
            let e = if n == 0 { xas.load() } else { xas.next() };
            if e == Slot::Null {
                return xas.index;
            }
            if xas.index == 0 {
                return 0;
            }
        }
        index.wrapping_add(max_scan)
    }

    /// page_cache_prev_miss: walks backward from `index` at most `max_scan` entries; returns the index of the first
    /// empty slot, `u64::MAX` when the walk went below 0, or the last index visited when all were present (same
    /// cursor semantics as `next_miss`).
    pub fn prev_miss(&self, slab: &FolioSlab, index: u64, max_scan: u64) -> u64 {
        let mut xas = XaCursor::new(&self.folios, self.large > 0, slab, index);
        for n in 0..max_scan {
            let e = if n == 0 { xas.load() } else { xas.prev() };
            if e == Slot::Null || xas.index == u64::MAX {
                break;
            }
        }
        xas.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::folio::Folio;

    fn space(folios: &[(u64, u8)]) -> (AddressSpace, FolioSlab) {
        let mut slab = FolioSlab::default();
        let mut a = AddressSpace::default();
        for &(index, order) in folios {
            let id = slab.alloc(Folio::new(index, order, 0, 0));
            a.insert(&slab, id, 0, &mut ShadowNodes::default());
        }
        (a, slab)
    }

    fn shadow(order: u8) -> Shadow {
        Shadow { eviction: 7, workingset: false, order }
    }

    #[test]
    fn nodes_holding_only_shadows_are_listed_and_freed_whole() {
        let mut slab = FolioSlab::default();
        let mut a = AddressSpace::default();
        let mut list = ShadowNodes::default();
        // Pages 0..128: two leaf nodes under one level-1 node.
        let ids: Vec<_> = (0..32u64)
            .map(|i| {
                let id = slab.alloc(Folio::new(i * 4, 2, 0, 0));
                a.insert(&slab, id, 0, &mut list);
                id
            })
            .collect();
        assert!(list.is_empty());
        // Evict the first node's 16 folios: it becomes shadow-only on the last one.
        for i in 0..16u64 {
            assert!(list.is_empty(), "node 0 still holds pages after {i} evictions");
            a.remove(&slab, i * 4, Some(shadow(2)), 0, &mut list);
        }
        assert_eq!(list.len(), 1);
        assert_eq!(list.first(), Some((0, 0)));
        // A refault into the node takes it off the list; the shadow it replaced is returned.
        let id = slab.alloc(Folio::new(8, 2, 0, 0));
        assert_eq!(a.insert(&slab, id, 0, &mut list), Some(shadow(2)));
        assert!(list.is_empty());
        a.remove(&slab, 8, None, 0, &mut list);
        assert_eq!(list.len(), 1, "an emptied slot does not count: the node holds shadows only again");
        // The shrinker frees the node with its 15 shadows; the parent still points at node 1 and is not listed.
        assert!(a.free_shadow_node(0, 0, &mut list));
        assert!(list.is_empty());
        assert_eq!(a.nr_shadows(), 0);
        assert!(a.shadow_at(4).is_none());
        let _ = ids;
    }

    #[test]
    fn a_small_folio_inside_a_large_shadow_splits_it() {
        let mut slab = FolioSlab::default();
        let mut a = AddressSpace::default();
        let mut list = ShadowNodes::default();
        let id = slab.alloc(Folio::new(0, 3, 0, 0));
        a.insert(&slab, id, 0, &mut list);
        a.remove(&slab, 0, Some(shadow(3)), 0, &mut list);
        assert_eq!(list.len(), 1);
        let id = slab.alloc(Folio::new(2, 1, 0, 0));
        assert_eq!(a.insert(&slab, id, 0, &mut list).map(|s| s.order), Some(3));
        // xas_split: order-1 pieces at 0, 4 and 6 keep the old shadow's value.
        assert_eq!(a.nr_shadows(), 3);
        assert_eq!(a.shadow_at(1).map(|s| (s.order, s.eviction)), Some((1, 7)));
        assert_eq!(a.shadow_at(7).map(|s| s.order), Some(1));
        assert!(a.shadow_at(2).is_none());
        assert!(list.is_empty());
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
        // The kernel returns 0 for a walk from a cached page 0 (its wrap-around check fires at index 0).
        assert_eq!(a.next_miss(&s, 0, 100), 0);
        // From inside the folio at 0: skewed by one.
        assert_eq!(a.next_miss(&s, 1, 100), 6);
        assert_eq!(a.next_miss(&s, 8, 100), 16);
        assert_eq!(a.next_miss(&s, 8, 4), 12);
        // Cached back to page 0: walks below 0.
        assert_eq!(a.prev_miss(&s, 4, 100), u64::MAX);
        // From inside the folio at 8: the first empty slot (7) is reported with the skew, as 8.
        assert_eq!(a.prev_miss(&s, 9, 100), 8);
        assert_eq!(a.prev_miss(&s, 8, 100), 7);
        // Skewed: from 11 (in the folio at 8) the empty slot 7 is read at index 10.
        assert_eq!(a.prev_miss(&s, 11, 4), 10);
        // All present within max_scan: the last index visited.
        let (b, t) = space(&[(0, 0), (1, 0), (2, 0), (3, 0)]);
        assert_eq!(b.prev_miss(&t, 3, 2), 2);
        // Started inside the folio at 8, the walk reads slot 7 (empty) at index 14.
        assert_eq!(a.prev_miss(&s, 15, 4), 14);
    }

    #[test]
    fn next_miss_keeps_the_kernels_skew_inside_a_large_folio() {
        // interleaved_one_fd fixture: folios 0-3 (order 0), 4 and 8 (order 2); the kernel's
        // page_cache_next_miss(5) returned 13: the cursor's offset restarts at slot 4 while its index is 5.
        let (a, s) = space(&[(0, 0), (1, 0), (2, 0), (3, 0), (4, 2), (8, 2)]);
        assert_eq!(a.next_miss(&s, 5, 32), 13);
        assert_eq!(a.next_miss(&s, 4, 32), 12);
        assert_eq!(a.next_miss(&s, 12, 32), 12);
    }

    #[test]
    fn walks_cross_nodes_and_large_entries() {
        // An order-9 folio at 512 lives in the shift-6 node; pages 0..63 in a shift-0 node.
        let mut folios: Vec<(u64, u8)> = (0..64).map(|i| (i, 0)).collect();
        folios.push((512, 9));
        let (a, s) = space(&folios);
        assert_eq!(a.next_miss(&s, 1, 1000), 64);
        assert_eq!(a.next_miss(&s, 512, 1000), 1024);
        assert_eq!(a.prev_miss(&s, 63, 1000), u64::MAX);
        assert_eq!(a.prev_miss(&s, 512, 1000), 511);
        // From inside the order-9 folio the skew is in 64-page slots: the empty slot before it reads as 599.
        assert_eq!(a.prev_miss(&s, 600, 1000), 599);
    }
}
