//! mm/vmscan.c, kswapd's half (6.12 source; the host's 6.18 runs the same classic-LRU code): `wakeup_kswapd`, the
//! `kswapd` thread's loop with `kswapd_try_to_sleep`, and `balance_pgdat` -> `kswapd_shrink_node` -> `shrink_node`
//! (vmscan.rs, the policy every reclaimer shares).
//!
//! ```text
//!   allocation finds free <= low ──wake──> Running: one balance_pgdat round (one kswapd_shrink_node at the
//!        ^                                  current priority) per step, until free > high or priority 1 is done
//!        |                                        │ balanced (or hopeless)          │ not balanced
//!        |                                        v                                 v
//!   Asleep <──nap over, balanced── Napping (HZ/10 = 100 ms) ──wake: LOW_WMARK_HIT_QUICKLY──> Running
//!                                          └──nap over, not balanced: HIGH_WMARK_HIT_QUICKLY──> Running
//! ```
//!
//! kswapd0 is a task of the simulation (the event loop, src/sim/engine.rs, queues it): a wake-up schedules it at the
//! waker's clock, each step's reclaim CPU time (`vmscan::RECLAIM_FOLIO_NS`) delays its next step, and its evictions
//! are events of task `kswapd0` (all of a step's at the step's start, which keeps them in order against the other
//! tasks' ops). A step is atomic with respect to the other tasks (the engine's DIVERGENCE): kswapd reclaims between
//! the steps of the tasks, so a reader that allocates more than low - min pages in one step, or faster than kswapd
//! frees them, reclaims directly. The engine also stops kswapd with the last task (its remaining work is not
//! run).
//!
//! Simplifications, each marked DIVERGENCE at its line: one node with one zone; no watermark boost (page_alloc.rs);
//! the allocation order only raises the balance test by the folio's tail pages (no fragmentation, no kcompactd); no
//! writeback or throttling from reclaim.

use super::page_alloc::zone_watermark_ok;
use super::vmscan::SWAP_CLUSTER_MAX;
use super::vmscan::{Reclaimer, ScanControl, DEF_PRIORITY, MAX_RECLAIM_RETRIES};
use crate::kernel::mmzone::{Balance, KswapdState};
use crate::kernel::Kernel;
use crate::units::Nanos;

/// kswapd_try_to_sleep's first, short sleep: schedule_timeout(HZ/10), HZ = 250 on the host.
pub const KSWAPD_NAP_NS: u64 = 100_000_000;

impl Kernel {
    /// pgdat_balanced: free pages above the high watermark for an order-`order` request.
    pub fn pgdat_balanced(&self, order: u32) -> bool {
        // DIVERGENCE: one node with one zone, and an order-`order` request is balanced when the free count covers it
        // (no fragmentation: the kernel's __zone_watermark_ok also needs a free block of that order, and kcompactd).
        zone_watermark_ok(self.nr_free_pages(), order, self.zone.wmark.high)
    }

    /// prepare_kswapd_sleep: hopeless (MAX_RECLAIM_RETRIES failed runs) or balanced.
    fn prepare_kswapd_sleep(&self) -> bool {
        self.kswapd.failures >= MAX_RECLAIM_RETRIES || self.pgdat_balanced(0)
    }

    /// wakeup_kswapd: an allocation of `order` found the zone below its low watermark; kswapd runs at the waker's clock
    /// unless it is already running, hopeless, or the zone is balanced.
    pub fn wakeup_kswapd(&mut self, order: u32) {
        self.kswapd.order = self.kswapd.order.max(order);
        if self.kswapd.state == KswapdState::Running {
            return;
        }
        if self.kswapd.failures >= MAX_RECLAIM_RETRIES || self.pgdat_balanced(order) {
            return;
        }
        if self.kswapd.state == KswapdState::Napping {
            self.vm.kswapd_low_wmark_hit_quickly += 1;
        }
        self.kswapd.state = KswapdState::Running;
        let now = self.now;
        self.kswapd.schedule(now);
    }

    /// kswapd: the thread's next step at `k.now` (the caller made kswapd0 the running task): the end of a nap, or one
    /// round of balance_pgdat.
    pub fn kswapd_run(&mut self) {
        match self.kswapd.state {
            KswapdState::Asleep => return,
            KswapdState::Napping => {
                // The nap ended without a wake-up: sleep for good if still balanced, else balance again at once.
                if self.prepare_kswapd_sleep() {
                    self.kswapd.state = KswapdState::Asleep;
                    return;
                }
                self.vm.kswapd_high_wmark_hit_quickly += 1;
                self.kswapd.state = KswapdState::Running;
            }
            KswapdState::Running => {}
        }
        self.balance_pgdat_round();
    }

    /// balance_pgdat, one iteration of its priority loop: stop if balanced, else kswapd_shrink_node at the current
    /// priority, raising it (lowering the number) when the round scanned less than its goal or reclaimed nothing.
    fn balance_pgdat_round(&mut self) {
        let mut b = match self.kswapd.balance {
            Some(b) => b,
            None => {
                self.vm.pageoutrun += 1;
                let order = std::mem::take(&mut self.kswapd.order);
                Balance { priority: DEF_PRIORITY, order, nr_reclaimed: 0 }
            }
        };
        // DIVERGENCE: no watermark boost (nr_boost_reclaim is always 0): balanced means above the high watermark.
        if self.pgdat_balanced(b.order) {
            return self.balance_pgdat_done();
        }
        // kswapd_shrink_node: reclaim the high watermark's worth, or at least a batch.
        // DIVERGENCE: no writeback from reclaim and no reclaim throttling (PGDAT_DIRTY, PGDAT_WRITEBACK,
        // reclaim_throttle): the model refuses dirty folios in reclaim.
        let mut sc = ScanControl::new(Reclaimer::Kswapd, self.zone.wmark.high.max(SWAP_CLUSTER_MAX));
        sc.priority = b.priority;
        sc.nr_reclaimed = b.nr_reclaimed;
        self.shrink_node(&mut sc);
        let nr_reclaimed = sc.nr_reclaimed - b.nr_reclaimed;
        if b.order > 0 && sc.nr_reclaimed >= 2 << b.order {
            // compact_gap reached: recheck the watermarks at order 0.
            b.order = 0;
        }
        let raise_priority = sc.nr_scanned.max(nr_reclaimed) < sc.nr_to_reclaim;
        b.nr_reclaimed = sc.nr_reclaimed;
        if raise_priority || nr_reclaimed == 0 {
            b.priority -= 1;
        }
        if b.priority < 1 {
            if b.nr_reclaimed == 0 {
                self.kswapd.failures += 1;
            }
            self.kswapd.balance = Some(b);
            return self.balance_pgdat_done();
        }
        self.kswapd.balance = Some(b);
        let now = self.now;
        self.kswapd.schedule(now);
    }

    /// kswapd_try_to_sleep, after balance_pgdat's end (snapshot_refaults): nap if the node may sleep, else
    /// (KSWAPD_HIGH_WMARK_HIT_QUICKLY) balance again.
    fn balance_pgdat_done(&mut self) {
        self.kswapd.balance = None;
        self.snapshot_refaults();
        let now = self.now;
        if self.prepare_kswapd_sleep() {
            self.kswapd.state = KswapdState::Napping;
            self.kswapd.schedule(Nanos(now.0 + KSWAPD_NAP_NS));
        } else {
            self.vm.kswapd_high_wmark_hit_quickly += 1;
            self.kswapd.schedule(now);
        }
    }
}
