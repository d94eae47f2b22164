//! mm/vmscan.c and mm/memcontrol.c, classic LRU, file pages only: the memory cgroup charge of a new folio and the
//! direct reclaim it triggers at the limit (`try_charge_memcg` -> `try_to_free_mem_cgroup_pages` ->
//! `shrink_lruvec` -> `shrink_active_list` / `shrink_inactive_list` -> `shrink_folio_list`).
//!
//! What the host showed (traces/pressure, docs/PRESSURE_FIXTURES.md): in a 64 MiB memory cgroup the workload's own
//! thread does all the evicting (kswapd and the direct-reclaim counters stay at 0), about 16192 file pages fit, large
//! folios are evicted whole, and deactivation and refault activation wait for the first memcg stats flush.
//!
//! Simplifications (DIVERGENCE): one memory domain, the workload's memory cgroup (the machine's memory is not
//! reclaimed: runs that would need it are refused); the cgroup's other charges (the worker's stack, buffers, page
//! tables, slab) are a constant `MEMCG_OTHER_PAGES` measured on this host; VM_EXEC mappings are not modelled;
//! reclaim scans only the file lists,
//! stopping as soon as the target is met; per-CPU LRU batches are not modelled; lruvec statistics read by reclaim
//! are those of the last memcg stats flush (`workingset::FLUSH_TIME_NS`). After each priority round's LRU scan the
//! cgroup's shadow-node shrinker runs (`shrink_slab`).

use super::fault::{folio_referenced, try_to_unmap};
use super::folio::{FolioId, PG_ACTIVE, PG_REFERENCED, PG_WORKINGSET};
use super::swap::LruList;
use super::workingset::{count_shadow_nodes, do_shrink_slab_budget};
use crate::sim::kernel::Kernel;

/// SWAP_CLUSTER_MAX: pages isolated per batch.
pub const SWAP_CLUSTER_MAX: u64 = 32;
/// MEMCG_CHARGE_BATCH: pages a charge takes from the counter at once (the rest goes to the per-CPU stock).
pub const MEMCG_CHARGE_BATCH: u64 = 64;
/// DEF_PRIORITY: reclaim scans lru_size >> priority per round, priority 12 down to 0.
pub const DEF_PRIORITY: u32 = 12;
/// MAX_RECLAIM_RETRIES.
pub const MAX_RECLAIM_RETRIES: u32 = 16;
/// The workload cgroup's charges other than file pages on this host: 64 MiB held 16192 file pages
/// (traces/pressure/seq_loop_scan, all 3 runs), i.e. 192 pages of other memory.
pub const MEMCG_OTHER_PAGES: u64 = 192;

/// The workload's memory cgroup: limit, usage (page_counter) and the per-CPU charge stock, in pages.
#[derive(Clone, Debug, Default)]
pub struct Memcg {
    pub limit: u64,
    pub usage: u64,
    pub stock: u64,
    /// WORKINGSET_ACTIVATE_FILE at the last reclaim (lruvec->refaults), for prepare_scan_control.
    pub last_refaults: u64,
    /// The lruvec statistics as of the last flush: inactive and active file pages, activate_file.
    pub flushed: [u64; 3],
    pub pgscan_file: u64,
    pub pgsteal_file: u64,
    pub pgdeactivate: u64,
    /// Charges that could not be met after MAX_RECLAIM_RETRIES (the kernel would OOM-kill).
    pub failed_charges: u64,
}

impl Memcg {
    pub fn new(limit_bytes: u64) -> Self {
        Memcg { limit: limit_bytes / 4096, usage: MEMCG_OTHER_PAGES, ..Default::default() }
    }
}

/// The periodic stats flush (flush_memcg_stats_dwork): snapshot of what reclaim and refaults read.
pub fn flush_stats(k: &mut Kernel) {
    let now = k.now.0;
    let active = k.lru.nr_pages[1];
    if now >= k.ws.next_flush_ns {
        let first = k.ws.next_flush_ns == 0;
        k.ws.flush_stats(now, active);
        if let Some(m) = k.memcg.as_mut() {
            if !first {
                m.flushed = [k.lru.nr_pages[0], active, k.ws.workingset_activate_file];
            }
        }
    }
}

/// try_charge_memcg for a new folio of `nr` pages: from the stock, else a batch from the counter, reclaiming at
/// the limit.
pub fn charge(k: &mut Kernel, nr: u64) {
    let Some(m) = k.memcg.as_mut() else { return };
    if m.stock >= nr {
        m.stock -= nr;
        return;
    }
    let batch = nr.max(MEMCG_CHARGE_BATCH);
    for _ in 0..MAX_RECLAIM_RETRIES {
        let m = k.memcg.as_mut().unwrap();
        if m.usage + batch <= m.limit {
            m.usage += batch;
            m.stock += batch - nr;
            return;
        }
        let target = batch;
        if try_to_free_pages(k, target) == 0 {
            break;
        }
    }
    // Could not make room: charge anyway and count it (the kernel would invoke the OOM killer).
    let m = k.memcg.as_mut().unwrap();
    m.usage += nr;
    m.failed_charges += 1;
}

/// The page_counter uncharge of an evicted or invalidated folio.
pub fn uncharge(k: &mut Kernel, nr: u64) {
    if let Some(m) = k.memcg.as_mut() {
        m.usage = m.usage.saturating_sub(nr);
    }
}

/// inactive_is_low (on the flushed statistics): inactive * int_sqrt(10 * GiB) < active.
fn inactive_is_low(inactive: u64, active: u64) -> bool {
    let gb = (inactive + active) >> 18;
    let ratio = if gb > 0 { ((10 * gb) as f64).sqrt() as u64 } else { 1 };
    inactive * ratio < active
}

/// try_to_free_mem_cgroup_pages: reclaims at least `nr_to_reclaim` pages (max with SWAP_CLUSTER_MAX) if it can;
/// returns the pages reclaimed.
pub fn try_to_free_pages(k: &mut Kernel, nr_to_reclaim: u64) -> u64 {
    flush_stats(k);
    let target = nr_to_reclaim.max(SWAP_CLUSTER_MAX);
    let (flushed, refaults) = {
        let m = k.memcg.as_ref().unwrap();
        (m.flushed, m.last_refaults)
    };
    // prepare_scan_control: deactivate file pages when refaults were activated since the last reclaim or the
    // inactive list is low.
    let may_deactivate = flushed[2] != refaults || inactive_is_low(flushed[0], flushed[1]);
    k.memcg.as_mut().unwrap().last_refaults = flushed[2];
    let mut reclaimed = 0;
    for priority in (0..=DEF_PRIORITY).rev() {
        let mut nr = [k.lru.nr_pages[0] >> priority, k.lru.nr_pages[1] >> priority];
        while nr[0] > 0 || nr[1] > 0 {
            if nr[0] > 0 {
                let n = nr[0].min(SWAP_CLUSTER_MAX);
                nr[0] -= n;
                reclaimed += shrink_inactive_list(k, n);
            }
            if nr[1] > 0 {
                let n = nr[1].min(SWAP_CLUSTER_MAX);
                nr[1] -= n;
                if may_deactivate {
                    shrink_active_list(k, n);
                }
            }
            if reclaimed >= target {
                break;
            }
        }
        // shrink_node_memcgs: the cgroup's slab shrinkers run after its LRU at every priority.
        shrink_slab(k, priority);
        if reclaimed >= target {
            return reclaimed;
        }
    }
    reclaimed
}

/// shrink_active_list: moves up to `nr_to_scan` pages from the active tail to the inactive head, PG_workingset set.
fn shrink_active_list(k: &mut Kernel, nr_to_scan: u64) {
    let mut scanned = 0;
    while scanned < nr_to_scan {
        let Some(id) = k.lru.tail(LruList::ActiveFile) else { break };
        let f = *k.folios.get(id);
        let nr = f.nr_pages();
        scanned += nr;
        // folio_referenced clears the young bits; only VM_EXEC file folios stay active (not modelled: none).
        let _ = folio_referenced(k, f.file(), f.index(), nr);
        k.lru.del(&mut k.folios, id, LruList::ActiveFile);
        let f = k.folios.get_mut(id);
        f.flags = (f.flags & !PG_ACTIVE) | PG_WORKINGSET;
        k.lru.add(&mut k.folios, id, LruList::InactiveFile);
        k.memcg.as_mut().unwrap().pgdeactivate += nr;
    }
}

/// shrink_inactive_list + shrink_folio_list: evicts up to `nr_to_scan` pages from the inactive tail; folios under
/// read I/O (locked) go back to the head. Returns the pages reclaimed.
fn shrink_inactive_list(k: &mut Kernel, nr_to_scan: u64) -> u64 {
    let mut scanned = 0;
    let mut reclaimed = 0;
    let mut kept: Vec<FolioId> = Vec::new();
    while scanned < nr_to_scan {
        let Some(id) = k.lru.tail(LruList::InactiveFile) else { break };
        let f = *k.folios.get(id);
        scanned += f.nr_pages();
        if f.test(super::folio::PG_DIRTY) {
            // Dirty folios wait for writeback (PG_reclaim, flusher wake-up), which is not modelled yet.
            k.unsupported = Some("reclaim of dirty folios (writeback under memory pressure is not modelled yet)");
        }
        if !k.folios.uptodate(id, k.now) || f.test(super::folio::PG_DIRTY) {
            // folio_trylock fails while the read is in flight: keep.
            k.lru.del(&mut k.folios, id, LruList::InactiveFile);
            kept.push(id);
            continue;
        }
        // folio_check_references: young PTEs of a mapped folio spare it (activated when referenced before or
        // young in more than one PTE, else marked and kept); PG_referenced alone never saves a clean folio.
        let (mapped, young) = folio_referenced(k, f.file(), f.index(), f.nr_pages());
        let referenced_folio = f.test(PG_REFERENCED);
        k.folios.get_mut(id).flags &= !PG_REFERENCED;
        if young > 0 {
            k.folios.get_mut(id).flags |= PG_REFERENCED;
            k.lru.del(&mut k.folios, id, LruList::InactiveFile);
            if referenced_folio || young > 1 {
                k.folios.get_mut(id).flags |= PG_ACTIVE;
                k.lru.add(&mut k.folios, id, LruList::ActiveFile);
                k.vm.pgactivate += f.nr_pages();
                k.ws.activation(f.nr_pages());
            } else {
                kept.push(id);
            }
            continue;
        }
        if mapped {
            try_to_unmap(k, f.file(), f.index(), f.nr_pages());
        }
        k.evict(id);
        reclaimed += f.nr_pages();
    }
    for id in kept {
        k.lru.add(&mut k.folios, id, LruList::InactiveFile);
    }
    let m = k.memcg.as_mut().unwrap();
    m.pgscan_file += scanned;
    m.pgsteal_file += reclaimed;
    reclaimed
}

/// shrink_slab for the workload's memory cgroup at `priority`: the shadow-node shrinker (mm/shrinker.c
/// do_shrink_slab with workingset.c's count_shadow_nodes / scan_shadow_nodes), which frees the oldest shadow-only
/// xarray nodes beyond lru_pages / 8, the cgroup's LRU pages read as of its last stats flush.
pub fn shrink_slab(k: &mut Kernel, priority: u32) {
    let Some(m) = k.memcg.as_ref() else { return };
    let lru_pages = m.flushed[0] + m.flushed[1];
    let list = &mut k.ws.shadow_nodes;
    let freeable = count_shadow_nodes(list.len(), lru_pages);
    if freeable == 0 {
        return;
    }
    let nr_to_scan = do_shrink_slab_budget(freeable, &mut list.nr_deferred, priority);
    // list_lru_walk: each walked node is isolated and freed (shadow_lru_isolate).
    for _ in 0..nr_to_scan {
        let Some((file, key)) = k.ws.shadow_nodes.first() else { break };
        let freed = k.inodes[file as usize].mapping.free_shadow_node(key, file, &mut k.ws.shadow_nodes);
        debug_assert!(freed, "a listed node holds only shadows");
        k.ws.shadow_nodes.nodereclaim += 1;
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
