//! mm/workingset.c: shadow entries left by evicted folios, the non-resident age clock, and refault detection
//! (`workingset_eviction`, `workingset_refault`, `workingset_activation`) for the file LRU.
//!
//! The shadow-node shrinker (`count_shadow_nodes`, `scan_shadow_nodes`, `shadow_lru_isolate`, driven by
//! mm/shrinker.c's `do_shrink_slab`) frees xarray nodes that hold only shadows, oldest first. In a memory cgroup it
//! allows lru_pages / 8 such nodes, counting the cgroup's LRU pages as of the last stats flush: before the first
//! flush that is 0, so every shadow node is fair game, and a looping scan's shadows are trimmed before they are
//! refaulted (traces/pressure/seq_loop_scan: 0 refaults in 3 runs).
//!
//! Shadows are kept by the evicted folio's first page with its order (the span of the kernel's multi-index entry);
//! a new folio finds the ones it covers, or the larger one covering it, which is split as `xas_split` does
//! (address_space.rs).
//!
//! Simplifications, each marked DIVERGENCE at its line: one memory domain (the memory cgroup when there is one, else
//! the machine); the slab pages count_shadow_nodes adds to the LRU pages are left out (a few hundred pages beside
//! the LRU's thousands); a file's single page at index 0 lives in a node here, not in the xarray's head
//! (address_space.rs).

use std::collections::BTreeMap;

/// A shadow entry: the non-resident age at eviction and whether the folio was in the workingset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shadow {
    pub eviction: u64,
    pub workingset: bool,
    /// The evicted folio's order (the entry spans 2^order slots).
    pub order: u8,
}

/// SHRINK_BATCH: objects a shrinker scans per call of its scan function.
pub const SHRINK_BATCH: u64 = 128;

/// The shadow_nodes list_lru of the memory domain: xarray nodes holding only shadow entries, oldest first, and the
/// shrinker's deferred work.
#[derive(Clone, Debug, Default)]
pub struct ShadowNodes {
    /// seq -> (file, node key); seqs grow, so iteration is list order (list_lru_add adds at the tail).
    list: BTreeMap<u64, (u32, u64)>,
    next: u64,
    /// shrinker->nr_deferred for this domain.
    pub nr_deferred: u64,
    /// WORKINGSET_NODERECLAIM.
    pub nodereclaim: u64,
}

impl ShadowNodes {
    /// list_lru_add_obj: returns the node's place on the list.
    pub fn add(&mut self, file: u32, key: u64) -> u64 {
        self.next += 1;
        self.list.insert(self.next, (file, key));
        self.next
    }

    /// list_lru_del_obj.
    pub fn del(&mut self, seq: u64) {
        self.list.remove(&seq);
    }

    /// WORKINGSET_NODES.
    pub fn len(&self) -> u64 {
        self.list.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The oldest listed node.
    pub fn first(&self) -> Option<(u32, u64)> {
        self.list.first_key_value().map(|(_, &v)| v)
    }
}

/// count_shadow_nodes: the nodes beyond lru_pages >> (XA_CHUNK_SHIFT - 3) may go.
pub fn count_shadow_nodes(nodes: u64, lru_pages: u64) -> u64 {
    // DIVERGENCE: lru_pages only; the kernel adds the memcg's NR_SLAB_RECLAIMABLE_B and NR_SLAB_UNRECLAIMABLE_B pages.
    nodes.saturating_sub(lru_pages >> 3)
}

/// do_shrink_slab for the shadow shrinker (seeks 0: delta = freeable / 2): how many objects to scan now, in
/// SHRINK_BATCH steps, given the deferred count; updates the deferred count. Returns the number to scan.
pub fn do_shrink_slab_budget(freeable: u64, nr_deferred: &mut u64, priority: u32) -> u64 {
    let nr = std::mem::take(nr_deferred);
    let delta = freeable / 2;
    let mut total_scan = ((nr >> priority) + delta).min(2 * freeable);
    let mut scanned = 0;
    while total_scan >= SHRINK_BATCH || total_scan >= freeable {
        let n = total_scan.min(SHRINK_BATCH);
        scanned += n;
        total_scan -= n;
        if n == 0 {
            break;
        }
    }
    let next = (nr + delta).saturating_sub(scanned).min(2 * freeable);
    *nr_deferred = next;
    scanned
}

/// The memory cgroup's statistics are read for refault decisions as they were at their last flush: the
/// periodic flush runs every FLUSH_TIME (2 s). A new cgroup reads 0 until its first flush, so refaults in its first
/// 2 s are never activated (traces/pressure/reread_after_evict_nosleep: 0 activations in 3 runs, 3744-3808 of 4096
/// after a 2.5 s pause).
pub const FLUSH_TIME_NS: u64 = 2_000_000_000;

/// Per memory domain: the clock and the counters (/proc/vmstat names).
// DIVERGENCE: one memory domain (Kernel::ws): the memory cgroup's lruvec when there is one, else the machine's; the
// kernel also ages every ancestor's lruvec (workingset_age_nonresident) and checks a shadow's memcg id at refault.
#[derive(Clone, Debug, Default)]
pub struct Workingset {
    /// lruvec->nonresident_age: pages evicted or activated so far.
    pub nonresident_age: u64,
    pub workingset_refault_file: u64,
    pub workingset_activate_file: u64,
    pub workingset_restore_file: u64,
    /// NR_ACTIVE_FILE as of the last stats flush, and when the next flush is due.
    pub flushed_active: u64,
    pub next_flush_ns: u64,
    /// When the periodic flushes come: at this time after the start, then every FLUSH_TIME.
    pub flush_phase_ns: u64,
    /// Nodes holding only shadows, for the shrinker.
    pub shadow_nodes: ShadowNodes,
}

impl Workingset {
    /// workingset_eviction: the shadow for a folio of `nr` pages leaving the cache.
    pub fn eviction(&mut self, nr: u64, workingset: bool) -> Shadow {
        let eviction = self.nonresident_age;
        self.nonresident_age += nr;
        Shadow { eviction, workingset, order: nr.trailing_zeros() as u8 }
    }

    /// workingset_activation (and the activation of a refault): ages the clock.
    pub fn activation(&mut self, nr: u64) {
        self.nonresident_age += nr;
    }

    /// Model: the periodic flushes come at `phase_ns` after the start, then every FLUSH_TIME; the first is the
    /// first that records (a new cgroup's statistics read 0 until then).
    pub fn set_flush_phase(&mut self, phase_ns: u64) {
        self.flush_phase_ns = phase_ns.min(FLUSH_TIME_NS);
        self.next_flush_ns = self.flush_phase_ns;
    }

    /// The periodic memcg stats flush: records NR_ACTIVE_FILE when a flush is due at `now_ns`.
    pub fn flush_stats(&mut self, now_ns: u64, active: u64) {
        if now_ns >= self.next_flush_ns {
            self.flushed_active = active;
            let p = self.flush_phase_ns;
            self.next_flush_ns = if now_ns < p { p } else { p + ((now_ns - p) / FLUSH_TIME_NS + 1) * FLUSH_TIME_NS };
        }
    }

    /// workingset_refault: counts the refault; returns (activate, restore) for a refault of `nr` pages.
    pub fn refault(&mut self, shadow: Shadow, nr: u64) -> (bool, bool) {
        self.workingset_refault_file += nr;
        if !self.test_recent(shadow) {
            return (false, false);
        }
        self.workingset_activate_file += nr;
        self.activation(nr);
        if shadow.workingset {
            self.workingset_restore_file += nr;
        }
        (true, shadow.workingset)
    }

    /// workingset_test_recent: whether the shadow's refault distance fits the workingset (NR_ACTIVE_FILE as of the
    /// last stats flush; no swap, so no anon pages count). Used by refaults and by cachestat's nr_recently_evicted.
    pub fn test_recent(&self, shadow: Shadow) -> bool {
        let distance = self.nonresident_age.wrapping_sub(shadow.eviction);
        distance <= self.flushed_active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refaults_activate_within_the_active_size_after_a_flush() {
        let mut w = Workingset::default();
        w.set_flush_phase(FLUSH_TIME_NS);
        w.flush_stats(0, 100);
        let s = w.eviction(1, false);
        w.nonresident_age += 50;
        assert_eq!(w.refault(s, 1), (false, false), "before the first flush the cgroup reads 0 active pages");
        w.flush_stats(FLUSH_TIME_NS, 100);
        let s = w.eviction(1, true);
        w.nonresident_age += 50;
        assert_eq!(w.refault(s, 1), (true, true));
        assert_eq!((w.workingset_refault_file, w.workingset_activate_file, w.workingset_restore_file), (2, 1, 1));
    }

    #[test]
    fn flushes_follow_the_phase_then_every_period() {
        let mut w = Workingset::default();
        w.set_flush_phase(300_000_000);
        w.flush_stats(299_999_999, 7);
        assert_eq!((w.flushed_active, w.next_flush_ns), (0, 300_000_000));
        w.flush_stats(300_000_000, 7);
        assert_eq!((w.flushed_active, w.next_flush_ns), (7, 2_300_000_000));
        // A call long after: the last flush before it recorded (the current figures stand for it), the next is on
        // the same grid.
        w.flush_stats(5_000_000_000, 9);
        assert_eq!((w.flushed_active, w.next_flush_ns), (9, 6_300_000_000));
        // The root (no phase set): flushed before the run, then every 2 s.
        let mut r = Workingset::default();
        r.flush_stats(0, 5);
        assert_eq!((r.flushed_active, r.next_flush_ns), (5, FLUSH_TIME_NS));
    }

    #[test]
    fn the_shadow_shrinker_scans_half_the_freeable_nodes_in_batches() {
        // Before the cgroup's first stats flush it reads 0 LRU pages: every node is freeable.
        assert_eq!(count_shadow_nodes(300, 0), 300);
        assert_eq!(count_shadow_nodes(300, 16384), 0);
        assert_eq!(count_shadow_nodes(3000, 16384), 3000 - 2048);
        let mut deferred = 0;
        // 255 nodes: delta 127 is below a batch and below freeable: nothing scanned, all deferred.
        assert_eq!(do_shrink_slab_budget(255, &mut deferred, 12), 0);
        assert_eq!(deferred, 127);
        // 256 nodes: one batch of 128; 127 >> 12 = 0 of the deferred work is added, and 127 stays deferred.
        assert_eq!(do_shrink_slab_budget(256, &mut deferred, 12), 128);
        assert_eq!(deferred, 127);
        // At priority 0 the deferred work counts in full: 127 + 5 = 132, capped at 2 x 10 = 20 and scanned at once
        // (20 >= freeable); 112 stays deferred, capped at 20.
        assert_eq!(do_shrink_slab_budget(10, &mut deferred, 0), 20);
        assert_eq!(deferred, 20);
        // Few nodes: scanned only when half of them reaches all of them, i.e. never at priority 12 without deferral.
        let mut d = 0;
        assert_eq!(do_shrink_slab_budget(1, &mut d, 12), 0);
    }
}
