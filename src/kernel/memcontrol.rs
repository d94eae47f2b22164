//! include/linux/memcontrol.h: the workload's memory cgroup (its page_counter and per-CPU charge stock). The
//! charge and reclaim code is mm/memcontrol.rs.

/// The workload cgroup's charges other than file pages on this host: 64 MiB held 16192 file pages
/// (traces/pressure/seq_loop_scan, all 3 runs), i.e. 192 pages of other memory (a scenario's
/// `machine.memcg_used` replaces it).
// DIVERGENCE: a constant (measured on this host, or the scenario's); the kernel charges the worker's stack, page
// tables, buffers, slab and anon memory as they are allocated and freed.
pub const MEMCG_OTHER_PAGES: u64 = 192;

/// The workload's memory cgroup: limit, usage (page_counter) and the per-CPU charge stock, in pages.
// DIVERGENCE: one memory cgroup (the workload's) and one stock for all CPUs (mm/memcontrol.rs).
#[derive(Clone, Debug, Default)]
pub struct Memcg {
    pub limit: u64,
    pub usage: u64,
    pub stock: u64,
    /// Charges that could not be met after MAX_RECLAIM_RETRIES (the kernel would OOM-kill).
    pub failed_charges: u64,
}

impl Memcg {
    /// A cgroup of `limit_bytes` holding `other_pages` besides the page cache.
    pub fn new(limit_bytes: u64, other_pages: u64) -> Self {
        Memcg { limit: limit_bytes / 4096, usage: other_pages, ..Default::default() }
    }
}
