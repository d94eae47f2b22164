//! mm/vmscan.c, the reclaim policy every reclaimer shares (6.12 source; the host's 6.18 runs the same classic-LRU
//! code): `shrink_node` with `prepare_scan_control`'s deactivation rule (`inactive_is_low`), `shrink_lruvec` with
//! `get_scan_count`'s file-only answer (lru_size >> priority in SWAP_CLUSTER_MAX batches), `shrink_inactive_list` +
//! `shrink_folio_list` (`folio_check_references`, `__remove_mapping` leaving a shadow entry), `shrink_active_list`,
//! the shadow-node shrinker through `shrink_slab`, and `do_try_to_free_pages` for the allocator's direct reclaim
//! (`try_to_free_pages`) and the memory cgroup's (`try_to_free_mem_cgroup_pages`). kswapd's half is kswapd.rs.
//!
//! Statistics are read as of the memory cgroup's last periodic flush (every 2 s), as the kernel's ratelimited flush
//! does; a new cgroup reads zeros until its first flush.
//!
//! Simplifications, each marked DIVERGENCE at its line: file LRU only (no anon, no swap, no MGLRU); no retry with
//! forced deactivation (`sc->force_deactivate`) when a pass skipped the active list and reclaimed nothing; dirty
//! folios met by reclaim are refused (no writeback from reclaim) and folios under writeback are kept without
//! PG_reclaim; no VM_EXEC mappings; the root's shadow-node shrinker never runs; a constant CPU cost per folio.

use super::folio::{FolioId, PG_ACTIVE, PG_REFERENCED, PG_WORKINGSET};
use super::swap::LruList;
use super::workingset::{count_shadow_nodes, do_shrink_slab_budget};
use crate::kernel::Kernel;
use crate::units::Nanos;

/// SWAP_CLUSTER_MAX: pages isolated per batch.
pub const SWAP_CLUSTER_MAX: u64 = 32;
/// DEF_PRIORITY: reclaim scans lru_size >> priority per round, priority 12 down to 0.
pub const DEF_PRIORITY: u32 = 12;
/// MAX_RECLAIM_RETRIES.
pub const MAX_RECLAIM_RETRIES: u32 = 16;
/// CPU time of scanning one folio (isolation, the reference check, unmapping the page cache entry, freeing).
// DIVERGENCE: a constant, like the syscall and copy costs, not measured on the host.
pub const RECLAIM_FOLIO_NS: u64 = 500;

/// Who is reclaiming (current_is_kswapd(), cgroup_reclaim()).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reclaimer {
    Kswapd,
    /// Direct reclaim of the machine's memory by an allocating task.
    Direct,
    /// Direct reclaim of the memory cgroup by a charging task.
    Memcg,
}

/// struct scan_control, the fields the model uses.
#[derive(Clone, Debug)]
pub struct ScanControl {
    pub reclaimer: Reclaimer,
    pub nr_to_reclaim: u64,
    pub priority: u32,
    /// Pages of the inactive list examined (sc->nr_scanned, reset by the caller).
    pub nr_scanned: u64,
    /// Pages reclaimed since the scan control was set up.
    pub nr_reclaimed: u64,
    /// DEACTIVATE_FILE, from prepare_scan_control.
    may_deactivate: bool,
}

impl ScanControl {
    pub fn new(reclaimer: Reclaimer, nr_to_reclaim: u64) -> Self {
        ScanControl {
            reclaimer,
            nr_to_reclaim,
            priority: DEF_PRIORITY,
            nr_scanned: 0,
            nr_reclaimed: 0,
            may_deactivate: false,
        }
    }
}

impl Kernel {
    /// flush_memcg_stats_dwork: the periodic stats flush, a snapshot of what reclaim and refaults read. A new memory
    /// cgroup reads zeros until its first periodic flush; the root's statistics were flushed before the run.
    pub fn flush_stats(&mut self) {
        let now = self.now.0;
        if now >= self.ws.next_flush_ns {
            let active = self.lru.nr_pages[1];
            self.ws.flush_stats(now, active);
            self.lru_stats.flushed = [self.lru.nr_pages[0], active, self.ws.workingset_activate_file];
        }
    }
}

/// inactive_is_low (on the flushed statistics): inactive * int_sqrt(10 * GiB) < active.
fn inactive_is_low(inactive: u64, active: u64) -> bool {
    let gb = (inactive + active) >> 18;
    let ratio = if gb > 0 { (10 * gb).isqrt() } else { 1 };
    inactive * ratio < active
}

impl Kernel {
    /// prepare_scan_control: deactivate file pages when refaults were activated since the last reclaim or the
    /// inactive list is low.
    fn prepare_scan_control(&mut self, sc: &mut ScanControl) {
        self.flush_stats();
        let s = &self.lru_stats;
        sc.may_deactivate = s.flushed[2] != s.refaults || inactive_is_low(s.flushed[0], s.flushed[1]);
    }

    /// snapshot_refaults: remembers the activations this reclaim has seen.
    pub fn snapshot_refaults(&mut self) {
        self.lru_stats.refaults = self.lru_stats.flushed[2];
    }

    /// shrink_node: one pass over the lruvec at `sc.priority`; reclaim progress revives a hopeless kswapd.
    pub fn shrink_node(&mut self, sc: &mut ScanControl) {
        let before = sc.nr_reclaimed;
        self.prepare_scan_control(sc);
        self.shrink_lruvec(sc);
        // shrink_node_memcgs: the slab shrinkers run after the LRU at every priority.
        self.shrink_slab(sc.priority);
        if sc.nr_reclaimed > before {
            self.kswapd.failures = 0;
        }
    }

    /// shrink_lruvec with get_scan_count's file-only answer (lru_size >> priority per list): 32-page batches of the
    /// inactive then the active list, until this pass reclaimed `nr_to_reclaim` (except global direct reclaim at
    /// DEF_PRIORITY, which scans its whole target).
    fn shrink_lruvec(&mut self, sc: &mut ScanControl) {
        // DIVERGENCE: file lists only: no anon lists to scan or balance against (no swap on the host), no MGLRU.
        let mut nr = [self.lru.nr_pages[0] >> sc.priority, self.lru.nr_pages[1] >> sc.priority];
        let proportional_reclaim = sc.reclaimer == Reclaimer::Direct && sc.priority == DEF_PRIORITY;
        let mut nr_reclaimed = 0;
        while nr[0] > 0 || nr[1] > 0 {
            if nr[0] > 0 {
                let n = nr[0].min(SWAP_CLUSTER_MAX);
                nr[0] -= n;
                nr_reclaimed += self.shrink_inactive_list(sc, n);
            }
            if nr[1] > 0 {
                let n = nr[1].min(SWAP_CLUSTER_MAX);
                nr[1] -= n;
                // DIVERGENCE: a skipped active list is not noted (the kernel's sc->skipped_deactivate, which makes
                // do_try_to_free_pages retry with forced deactivation).
                if sc.may_deactivate {
                    self.shrink_active_list(sc, n);
                }
            }
            // No anon lists: once the goal is met there is no proportion to keep, so stop.
            if nr_reclaimed >= sc.nr_to_reclaim && !proportional_reclaim {
                break;
            }
        }
        sc.nr_reclaimed += nr_reclaimed;
    }

    /// do_try_to_free_pages: shrink_node at falling priority until `nr_to_reclaim` pages are reclaimed; returns them.
    fn do_try_to_free_pages(&mut self, sc: &mut ScanControl) -> u64 {
        loop {
            sc.nr_scanned = 0;
            self.shrink_node(sc);
            if sc.nr_reclaimed >= sc.nr_to_reclaim || sc.priority == 0 {
                break;
            }
            sc.priority -= 1;
        }
        // DIVERGENCE: no second pass: when nothing was reclaimed the kernel retries from the initial priority with
        // sc->force_deactivate if a pass skipped deactivation (sc->skipped_deactivate), and again for memory.low
        // protected cgroups; the model returns what it has.
        self.snapshot_refaults();
        sc.nr_reclaimed
    }

    /// try_to_free_pages: the allocating task's direct reclaim of SWAP_CLUSTER_MAX pages (ALLOCSTALL_MOVABLE: page
    /// cache folios are movable allocations). Returns the pages reclaimed.
    pub fn try_to_free_pages(&mut self) -> u64 {
        self.vm.allocstall_movable += 1;
        let mut sc = ScanControl::new(Reclaimer::Direct, SWAP_CLUSTER_MAX);
        self.do_try_to_free_pages(&mut sc)
    }

    /// try_to_free_mem_cgroup_pages: reclaims at least `nr_pages` (max with SWAP_CLUSTER_MAX) from the memory cgroup
    /// if it can; returns the pages reclaimed.
    pub fn try_to_free_mem_cgroup_pages(&mut self, nr_pages: u64) -> u64 {
        let mut sc = ScanControl::new(Reclaimer::Memcg, nr_pages.max(SWAP_CLUSTER_MAX));
        self.do_try_to_free_pages(&mut sc)
    }

    /// Model: the reclaimer's CPU time for `folios` folios scanned: the allocating task's clock advances (the stall is part of
    /// its op's latency); kswapd's step is charged when it ends (its next step is that much later), so all of a step's
    /// events carry the time it started and keep their order against the other tasks' ops.
    fn charge_cpu(&mut self, sc: &ScanControl, folios: u64) {
        let ns = folios * RECLAIM_FOLIO_NS;
        if sc.reclaimer == Reclaimer::Kswapd {
            self.kswapd.cpu_ns += ns;
        } else {
            self.now = Nanos(self.now.0 + ns);
        }
    }

    /// shrink_active_list: moves up to `nr_to_scan` pages from the active tail to the inactive head, PG_workingset set.
    fn shrink_active_list(&mut self, sc: &ScanControl, nr_to_scan: u64) {
        let (mut scanned, mut folios) = (0, 0);
        while scanned < nr_to_scan {
            let Some(id) = self.lru.tail(LruList::ActiveFile) else { break };
            let f = *self.folios.get(id);
            let nr = f.nr_pages();
            scanned += nr;
            folios += 1;
            // folio_referenced clears the young bits; only VM_EXEC file folios stay active.
            // DIVERGENCE: no VM_EXEC mappings in the model, so every scanned folio is deactivated.
            let _ = self.folio_referenced(f.file(), f.index(), nr);
            self.lru.del(&mut self.folios, id, LruList::ActiveFile);
            let f = self.folios.get_mut(id);
            f.flags = (f.flags & !PG_ACTIVE) | PG_WORKINGSET;
            self.lru.add(&mut self.folios, id, LruList::InactiveFile);
            self.vm.pgdeactivate += nr;
        }
        self.charge_cpu(sc, folios);
    }

    /// shrink_inactive_list + shrink_folio_list: evicts up to `nr_to_scan` pages from the inactive tail; folios under
    /// read I/O (locked) or pinned by a reader go back to the head. Returns the pages reclaimed.
    fn shrink_inactive_list(&mut self, sc: &mut ScanControl, nr_to_scan: u64) -> u64 {
        let (mut scanned, mut reclaimed, mut folios) = (0, 0, 0);
        let mut kept: Vec<FolioId> = Vec::new();
        while scanned < nr_to_scan {
            let Some(id) = self.lru.tail(LruList::InactiveFile) else { break };
            let f = *self.folios.get(id);
            scanned += f.nr_pages();
            folios += 1;
            if f.test(super::folio::PG_DIRTY) {
                // DIVERGENCE: dirty folios are refused (the op fails as unsupported); the kernel sets PG_reclaim,
                // activates them, wakes the flushers and may throttle the reclaimer.
                self.unsupported =
                    Some("reclaim of dirty folios (writeback under memory pressure is not modelled yet)");
            }
            if !self.folios.uptodate(id, self.now)
                || f.test(super::folio::PG_DIRTY)
                || f.test(super::folio::PG_WRITEBACK)
            {
                // folio_trylock fails while the read is in flight: keep. A folio under writeback is not reclaimed
                // either.
                // DIVERGENCE: shrink_folio_list marks a folio under writeback PG_reclaim and activates it (and counts
                // it in sc->nr_scanned); the model keeps it on the inactive list, uncounted.
                self.lru.del(&mut self.folios, id, LruList::InactiveFile);
                kept.push(id);
                continue;
            }
            sc.nr_scanned += f.nr_pages();
            // folio_check_references: young PTEs of a mapped folio spare it (activated when referenced before or
            // young in more than one mapping, else marked and kept); PG_referenced alone never saves a clean folio.
            // `young` counts mappings (referenced_ptes), not PTEs: a large folio touched page by page through one
            // mapping is kept once, not activated.
            let (mapped, young) = self.folio_referenced(f.file(), f.index(), f.nr_pages());
            let referenced_folio = f.test(PG_REFERENCED);
            self.folios.get_mut(id).flags &= !PG_REFERENCED;
            if young > 0 {
                self.folios.get_mut(id).flags |= PG_REFERENCED;
                self.lru.del(&mut self.folios, id, LruList::InactiveFile);
                if referenced_folio || young > 1 {
                    self.folios.get_mut(id).flags |= PG_ACTIVE;
                    self.lru.add(&mut self.folios, id, LruList::ActiveFile);
                    self.vm.pgactivate += f.nr_pages();
                    self.ws.activation(f.nr_pages());
                } else {
                    kept.push(id);
                }
                continue;
            }
            if self.pinned.contains(&id) {
                // __remove_mapping: the reader's reference makes folio_ref_freeze fail: keep.
                self.lru.del(&mut self.folios, id, LruList::InactiveFile);
                kept.push(id);
                continue;
            }
            if mapped {
                self.try_to_unmap(f.file(), f.index(), f.nr_pages());
            }
            self.remove_mapping(id);
            reclaimed += f.nr_pages();
        }
        for id in kept {
            self.lru.add(&mut self.folios, id, LruList::InactiveFile);
        }
        let vm = &mut self.vm;
        vm.pgscan_file += scanned;
        vm.pgsteal_file += reclaimed;
        match sc.reclaimer {
            Reclaimer::Kswapd => {
                vm.pgscan_kswapd += scanned;
                vm.pgsteal_kswapd += reclaimed;
            }
            Reclaimer::Direct => {
                vm.pgscan_direct += scanned;
                vm.pgsteal_direct += reclaimed;
            }
            Reclaimer::Memcg => {}
        }
        self.charge_cpu(sc, folios);
        reclaimed
    }

    /// shrink_slab for the workload's memory cgroup at `priority`: the shadow-node shrinker (mm/shrinker.c
    /// do_shrink_slab with workingset.c's count_shadow_nodes / scan_shadow_nodes), which frees the oldest shadow-only
    /// xarray nodes beyond lru_pages / 8, the cgroup's LRU pages read as of its last stats flush.
    pub fn shrink_slab(&mut self, priority: u32) {
        if self.memcg.is_none() {
            // DIVERGENCE: the root's shadow shrinker does not run; its count_shadow_nodes allows
            // node_present_pages / 8 nodes, never reached by these workloads.
            return;
        }
        let lru_pages = self.lru_stats.flushed[0] + self.lru_stats.flushed[1];
        let list = &mut self.ws.shadow_nodes;
        let freeable = count_shadow_nodes(list.len(), lru_pages);
        if freeable == 0 {
            return;
        }
        let nr_to_scan = do_shrink_slab_budget(freeable, &mut list.nr_deferred, priority);
        // list_lru_walk: each walked node is isolated and freed (shadow_lru_isolate).
        for _ in 0..nr_to_scan {
            let Some((file, key)) = self.ws.shadow_nodes.first() else { break };
            let freed = self.inodes[file as usize].mapping.free_shadow_node(key, file, &mut self.ws.shadow_nodes);
            debug_assert!(freed, "a listed node holds only shadows");
            self.ws.shadow_nodes.nodereclaim += 1;
        }
    }
}

impl Kernel {
    /// __remove_mapping for reclaim: the folio leaves a shadow entry (workingset_eviction) and is deleted.
    pub fn remove_mapping(&mut self, id: FolioId) {
        let f = *self.folios.get(id);
        let shadow = self.ws.eviction(f.nr_pages(), f.test(PG_WORKINGSET));
        self.remove_folio(id, Some(shadow));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_is_low_follows_the_kernel_ratio() {
        assert!(inactive_is_low(10, 11));
        assert!(!inactive_is_low(10, 10));
        // 4 GiB in all: ratio int_sqrt(40) = 6.
        assert!(inactive_is_low(100_000, 700_000));
        assert!(!inactive_is_low(200_000, 900_000));
    }
}
