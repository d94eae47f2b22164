//! include/linux/mmzone.h: the machine's one zone (sizes, watermarks), the node's kswapd state (pglist_data's
//! kswapd fields) and the lruvec statistics reclaim reads. The code over them is mm/page_alloc.rs, mm/kswapd.rs
//! and mm/vmscan.rs.

use crate::units::Nanos;

/// A zone's watermarks in pages (zone->_watermark[]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watermarks {
    pub min: u64,
    pub low: u64,
    pub high: u64,
    pub promo: u64,
}

/// The allocation context of a page-cache folio.
// DIVERGENCE: two contexts only; no __GFP_WRITE (node_dirty_ok spreading, refault detection skipped: mm/filemap.rs),
// no __GFP_HIGH, __GFP_NOFAIL or atomic allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gfp {
    /// mapping_gfp_mask (GFP_HIGHUSER_MOVABLE, __GFP_FS cleared by the read path's memalloc_nofs): retries.
    Mapping,
    /// readahead_gfp_mask: | __GFP_NORETRY | __GFP_NOWARN: one reclaim attempt, then failure.
    NoRetry,
}

/// struct zone, for the machine's one zone: sizes, watermarks and what the run saw of them.
// DIVERGENCE: one node with one zone (ZONE_NORMAL holding all memory), see mm/page_alloc.rs.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    /// zone_managed_pages.
    pub managed: u64,
    /// Pages in use outside the page cache (`machine.used`), constant over the run.
    pub used: u64,
    pub wmark: Watermarks,
    /// The fewest free pages seen right after an allocation.
    pub free_lowest: u64,
    /// Allocations made although reclaim could not bring free pages above min (the kernel would OOM-kill).
    pub overcommitted: u64,
    /// __GFP_NORETRY allocations that failed.
    pub noretry_failed: u64,
}

/// Where the kswapd thread is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KswapdState {
    /// Fully asleep on pgdat->kswapd_wait: a wake-up starts it.
    #[default]
    Asleep,
    /// In kswapd_try_to_sleep's HZ/10 sleep: a wake-up cuts it short.
    Napping,
    /// Balancing the node (not on the wait queue: wake-ups do nothing).
    Running,
}

/// The scan control of a balance_pgdat in progress (one step per priority round).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Balance {
    pub(crate) priority: u32,
    pub(crate) order: u32,
    pub(crate) nr_reclaimed: u64,
}

/// The node's kswapd: its state, pgdat->kswapd_failures and kswapd_order, and its next run.
#[derive(Clone, Debug, Default)]
pub struct Kswapd {
    pub state: KswapdState,
    /// pgdat->kswapd_failures: balance_pgdat runs in a row that reclaimed nothing.
    pub failures: u32,
    /// pgdat->kswapd_order: the largest order a waker asked for.
    pub(crate) order: u32,
    pub(crate) balance: Option<Balance>,
    /// Generation of the latest schedule; queue entries of older generations are stale.
    pub(crate) generation: u64,
    /// A run to queue: (time, generation), taken by the simulation loop.
    pub(crate) pending: Option<(Nanos, u64)>,
    /// CPU time of the current step's reclaim, charged when the step ends.
    pub cpu_ns: u64,
}

impl Kswapd {
    /// The run to queue, if one was scheduled since the last call.
    /// Whether a run waits to be queued.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// When the pending run is, if one is.
    pub fn pending_at(&self) -> Option<Nanos> {
        self.pending.map(|(t, _)| t)
    }

    pub fn take_schedule(&mut self) -> Option<(Nanos, u64)> {
        self.pending.take()
    }

    /// Whether a queue entry of `generation` is still the thread's next run.
    pub fn is_current(&self, generation: u64) -> bool {
        generation == self.generation && self.state != KswapdState::Asleep
    }

    /// Schedules the thread's next run at `at` plus the CPU time of the step that ends.
    pub(crate) fn schedule(&mut self, at: Nanos) {
        self.generation += 1;
        self.pending = Some((Nanos(at.0 + std::mem::take(&mut self.cpu_ns)), self.generation));
    }
}

/// The target lruvec's statistics as reclaim reads them: inactive and active file pages and
/// WORKINGSET_ACTIVATE_FILE as of the last stats flush, and the activations at the last reclaim
/// (lruvec->refaults\[WORKINGSET_FILE\], snapshot_refaults).
#[derive(Clone, Debug, Default)]
pub struct LruvecStats {
    pub flushed: [u64; 3],
    pub refaults: u64,
}
