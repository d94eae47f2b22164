//! mm/memcontrol.c: the charge of a new folio to the workload's memory cgroup and the direct reclaim it triggers
//! at the limit (`try_charge_memcg` -> `try_to_free_mem_cgroup_pages`, whose policy is vmscan.rs's).
//!
//! What the host showed (traces/pressure, docs/PRESSURE_FIXTURES.md): in a 64 MiB memory cgroup the workload's own
//! thread does all the evicting (kswapd and the direct-reclaim counters stay at 0), about 16192 file pages fit.
//!
//! Simplifications, each marked DIVERGENCE at its line: one memory cgroup, the workload's, with one charge stock
//! (the kernel's is per CPU); its other charges (the worker's stack, buffers, page tables, slab) are a constant
//! `MEMCG_OTHER_PAGES` measured on this host (kernel/memcontrol.rs); over the limit the charge keeps its 64-page
//! batch and reclaims for it, up to MAX_RECLAIM_RETRIES times while reclaim makes progress (the kernel falls back to
//! the folio's own pages first and retries by other rules); a charge that reclaim cannot make room for is made
//! anyway and counted (the kernel would OOM-kill), also under __GFP_NORETRY.

use super::vmscan::MAX_RECLAIM_RETRIES;
use crate::kernel::Kernel;

/// MEMCG_CHARGE_BATCH: pages a charge takes from the counter at once (the rest goes to the per-CPU stock).
pub const MEMCG_CHARGE_BATCH: u64 = 64;

impl Kernel {
    /// try_charge_memcg for a new folio of `nr` pages: from the stock, else a batch from the counter, reclaiming at
    /// the limit.
    pub fn mem_cgroup_charge(&mut self, nr: u64) {
        let Some(m) = self.memcg.as_mut() else { return };
        // DIVERGENCE: one stock for every task; the kernel's memcg_stock is per CPU.
        if m.stock >= nr {
            m.stock -= nr;
            return;
        }
        let batch = nr.max(MEMCG_CHARGE_BATCH);
        // DIVERGENCE: when the batch does not fit, the kernel first retries with batch = nr (no stock refill) and
        // reclaims max(nr, SWAP_CLUSTER_MAX) pages; it retries after a reclaim that made room, after draining the
        // stocks, while small charges see progress, then MAX_RECLAIM_RETRIES more times. The model keeps the batch,
        // reclaims the batch's worth and stops at the first reclaim that freed nothing.
        for _ in 0..MAX_RECLAIM_RETRIES {
            let m = self.memcg.as_mut().unwrap();
            if m.usage + batch <= m.limit {
                m.usage += batch;
                m.stock += batch - nr;
                return;
            }
            if self.try_to_free_mem_cgroup_pages(batch) == 0 {
                break;
            }
        }
        // Could not make room: charge anyway and count it.
        // DIVERGENCE: the kernel would invoke the memcg OOM killer, or fail a __GFP_NORETRY charge with -ENOMEM.
        let m = self.memcg.as_mut().unwrap();
        m.usage += nr;
        m.failed_charges += 1;
    }

    /// mem_cgroup_uncharge: the page_counter uncharge of an evicted or invalidated folio.
    pub fn mem_cgroup_uncharge(&mut self, nr: u64) {
        if let Some(m) = self.memcg.as_mut() {
            m.usage = m.usage.saturating_sub(nr);
        }
    }
}
