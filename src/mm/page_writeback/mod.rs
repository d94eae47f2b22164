//! mm/page-writeback.c as on the host kernel (6.18): the dirty limits and the dirty throttling of
//! `balance_dirty_pages`, in the kernel's integer units, with no dependency on the simulator (the caller passes the
//! counters in and applies the outcome).
//!
//! Units: pages (4 KiB), jiffies (`HZ` = 250 on the host, CONFIG_HZ_250), rates in pages per second (the
//! tracepoints print them in KB/s: `KBps(x)` = x << 2), `pos_ratio` in fixed point (1 << `RATELIMIT_CALC_SHIFT`
//! = 1.0), bdi ratios scaled by `BDI_RATIO_SCALE`.
//!
//! ```text
//!  pos_ratio
//!   2.0 |****                                   global control line (pos_ratio_polynom):
//!       |    **                                 f = 1 + ((setpoint - dirty) / (limit - setpoint))^3
//!   1.0 |......*****                            freerun = (thresh + bg_thresh) / 2
//!       |           **                          setpoint = (freerun + limit) / 2
//!     0 +-----|-------|-------*----> dirty      limit = max(thresh, dom->dirty_limit)
//!          freerun setpoint limit
//! task_ratelimit = dirty_ratelimit * pos_ratio >> 10;  period = HZ * pages_dirtied / task_ratelimit
//! ```
//!
//! Files: `limits.rs` (dirtyable memory, `domain_dirty_limits`, the wb_domain's `dirty_limit`, `__wb_calc_thresh`),
//! `fprop.rs` (lib/flex_proportions.c: the writeout fractions), `ratelimit.rs` (`wb_position_ratio`, bandwidth and
//! `dirty_ratelimit` estimation), `balance.rs` (pauses, one pass of `balance_dirty_pages`,
//! `balance_dirty_pages_ratelimited`), `trace.rs` (the three tracepoints, computed as their `TP_fast_assign` does).
//!
//! 6.18 differs from 6.12 (both checked against events captured on the host, traces/write/vectors/):
//! - `__wb_calc_thresh` raises a wb's threshold to at least (thresh - dirty) / 8 (/ 100 with strictlimit) before
//!   the max_ratio cap; 6.12 raised it inside `wb_position_ratio` by (limit - dirty) / 8 (mm: "consolidate
//!   wb_thresh bumping logic into __wb_calc_thresh", 6.14).
//! - strictlimit: no special case for wb_dirty < 8 in `wb_position_ratio` nor in `wb_update_dirty_ratelimit`.
//! - balance_dirty_pages' tracepoint takes the dtc: `limit` is the hard limit `dtc->limit` (6.12 printed the
//!   domain's stale `dirty_limit`), `setpoint` = (limit + freerun) / 2, `wb_setpoint` = setpoint * wb_thresh /
//!   (thresh + 1) with the raised wb_thresh; fields renamed bdi_setpoint/bdi_dirty -> wb_setpoint/wb_dirty.
//!
//! Simplifications, each marked DIVERGENCE at its line: the global wb_domain only (the host mounts cgroup v1, where
//! cgroup writeback is off, so there is no memcg domain: a divergence on cgroup v2 hosts); one bdi_writeback per bdi
//! (kernel/backing_dev.rs); percpu counters read exactly (the kernel's `percpu_counter_read` can lag by up to
//! nr_cpus * batch); no PF_LOCAL_THROTTLE tasks, no BDP_ASYNC (io_uring's -EAGAIN), no fatal signals, laptop_mode
//! off; no RT or deadline tasks, and each task stays on one CPU (throttle.rs). Highmem is the caller's figure (0 on
//! x86-64, as on the host).

mod balance;
mod fprop;
mod limits;
mod ratelimit;
pub mod throttle;
mod trace;

pub use balance::{
    account_page_dirtied, balance_dirty_pages, bdp_ratelimited, dirty_poll_interval, domain_poll_intv, task_dirty_exit,
    wb_max_pause, wb_min_pause, BdpAction, BdpArgs, BdpPass, BdpRatelimits, DirtyCounters,
};
pub use fprop::{FpropGlobal, FpropLocal, FPROP_FRAC_BASE};
pub use limits::{
    __wb_calc_thresh, dirty_freerun_ceiling, domain_dirty_limits, domain_update_dirty_limit, global_dirty_limits,
    global_dirtyable_memory, hard_dirty_limit, update_dirty_limit, wb_calc_thresh, wb_dirty_limits,
    wb_domain_writeout_add, wb_min_max_ratio, writeback_set_ratelimit, writeout_period, BackingDevInfo,
    DirtyableMemory, VmDirtySysctls, WbDomain,
};
pub use ratelimit::{
    __wb_update_bandwidth, pos_ratio_polynom, wb_bandwidth_estimate_start, wb_position_ratio, wb_update_bandwidth,
    wb_update_dirty_ratelimit, wb_update_write_bandwidth, BdiWriteback,
};
pub use trace::{BalanceDirtyPagesTrace, BdiDirtyRatelimitTrace, GlobalDirtyStateTrace};

/// CONFIG_HZ of the host (CONFIG_HZ_250, /proc/config.gz): one jiffy is 4 ms.
pub const HZ: u64 = 250;
/// PAGE_SHIFT (x86-64).
pub const PAGE_SHIFT: u32 = 12;
/// PAGE_SIZE in bytes.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// MAX_PAUSE: sleep at most 200 ms at a time in balance_dirty_pages (jiffies).
pub const MAX_PAUSE: u64 = if HZ / 5 > 1 { HZ / 5 } else { 1 };
/// DIRTY_POLL_THRESH: keep calls to balance_dirty_pages at least this many pages apart (128 KiB).
pub const DIRTY_POLL_THRESH: u64 = 128 >> (PAGE_SHIFT - 10);
/// BANDWIDTH_INTERVAL: bandwidth and dirty_limit estimates are updated every 200 ms (jiffies).
pub const BANDWIDTH_INTERVAL: u64 = if HZ / 5 > 1 { HZ / 5 } else { 1 };
/// RATELIMIT_CALC_SHIFT: pos_ratio's fixed point, 1 << 10 = 1.0.
pub const RATELIMIT_CALC_SHIFT: u32 = 10;
/// BDI_RATIO_SCALE (include/linux/backing-dev.h): bdi min/max ratios are percent * 10000.
pub const BDI_RATIO_SCALE: u64 = 10_000;
/// INIT_BW (mm/backing-dev.c): 100 MB/s in pages/s, a new wb's bandwidth and ratelimits.
pub const INIT_BW: u64 = 100 << (20 - PAGE_SHIFT);
/// VM_COMPLETIONS_PERIOD_LEN: the writeout fractions age by half every 3 s (jiffies).
pub const VM_COMPLETIONS_PERIOD_LEN: u64 = 3 * HZ;
/// WB_BANDWIDTH_IDLE_JIF: a wb idle this long restarts its bandwidth estimate.
pub const WB_BANDWIDTH_IDLE_JIF: u64 = HZ;
/// INITIAL_JIFFIES on 64-bit: jiffies start 300 s before the 32-bit wrap.
pub const INITIAL_JIFFIES: u64 = (0u32.wrapping_sub(300 * HZ as u32)) as u64;
/// UINT_MAX: the limits are kept within 32 bits.
pub const UINT_MAX: u64 = u32::MAX as u64;

/// Nanoseconds per jiffy.
pub const JIFFY_NS: u64 = 1_000_000_000 / HZ;

/// Model: jiffies at virtual time `ns` (counted from INITIAL_JIFFIES at time 0).
pub fn jiffies_at(ns: u64) -> u64 {
    INITIAL_JIFFIES.wrapping_add(ns / JIFFY_NS)
}

/// Model: the virtual time jiffy `j` begins (a timer for `j` fires then): the inverse of `jiffies_at` on tick
/// boundaries.
pub fn jiffy_start(j: u64) -> crate::units::Nanos {
    crate::units::Nanos(j.wrapping_sub(INITIAL_JIFFIES) * JIFFY_NS)
}

/// time_after (include/linux/jiffies.h): a is after b, wrap-safe.
pub fn time_after(a: u64, b: u64) -> bool {
    (b.wrapping_sub(a) as i64) < 0
}

/// time_before: a is before b, wrap-safe.
pub fn time_before(a: u64, b: u64) -> bool {
    time_after(b, a)
}

/// time_after_eq: a is b or after, wrap-safe.
pub fn time_after_eq(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) >= 0
}

/// KBps (include/trace/events/writeback.h): pages/s as the tracepoints print them (KB/s).
pub const fn kbps(pages: u64) -> u64 {
    pages << (PAGE_SHIFT - 10)
}

/// ilog2 (include/linux/log2.h); the kernel leaves ilog2(0) undefined, here it is 0.
pub fn ilog2(n: u64) -> u32 {
    63 - n.max(1).leading_zeros()
}

/// roundup_pow_of_two (include/linux/log2.h).
pub fn roundup_pow_of_two(n: u64) -> u64 {
    n.max(1).next_power_of_two()
}

/// struct dirty_throttle_control (include/linux/writeback.h, 6.18): one domain's limits and state for one pass of
/// balance_dirty_pages (thresholds and counts in pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirtyThrottleControl {
    /// Dirtyable memory (`global_dirtyable_memory`).
    pub avail: u64,
    /// NR_FILE_DIRTY + NR_WRITEBACK (+ NR_WRITEBACK for the background check: see `domain_dirty_avail`).
    pub dirty: u64,
    /// Dirty threshold.
    pub thresh: u64,
    /// Background threshold.
    pub bg_thresh: u64,
    /// Hard dirty limit, max(thresh, dom->dirty_limit), set by `wb_position_ratio` (6.15+).
    pub limit: u64,
    /// WB_RECLAIMABLE + WB_WRITEBACK of the wb.
    pub wb_dirty: u64,
    /// The wb's share of thresh (`__wb_calc_thresh`).
    pub wb_thresh: u64,
    /// wb_thresh * bg_thresh / thresh.
    pub wb_bg_thresh: u64,
    /// Position ratio, 1 << RATELIMIT_CALC_SHIFT = 1.0.
    pub pos_ratio: u64,
    pub freerun: bool,
    pub dirty_exceeded: bool,
}

/// The dirty-throttling fields of struct task_struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDirty {
    /// Pages dirtied since the last balance_dirty_pages pause.
    pub nr_dirtied: u64,
    /// Pages the task may dirty before balance_dirty_pages is called.
    pub nr_dirtied_pause: u64,
    /// When the last pause ended (jiffies; 0: never paused).
    pub dirty_paused_when: u64,
}

impl Default for TaskDirty {
    /// kernel/fork.c: a new task checks after 128 KiB (32 pages).
    fn default() -> Self {
        TaskDirty { nr_dirtied: 0, nr_dirtied_pause: 128 >> (PAGE_SHIFT - 10), dirty_paused_when: 0 }
    }
}

/// The bandwidth and ratelimit fields of struct bdi_writeback (include/linux/backing-dev-defs.h): pages, pages/s,
/// jiffies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WbBandwidth {
    /// Last bandwidth update (jiffies).
    pub bw_time_stamp: u64,
    /// WB_DIRTIED at the last update.
    pub dirtied_stamp: u64,
    /// WB_WRITTEN at the last update.
    pub written_stamp: u64,
    /// The write bandwidth estimate (pages/s).
    pub write_bandwidth: u64,
    /// Its further smoothed value, which the throttling reads (pages/s).
    pub avg_write_bandwidth: u64,
    /// The base throttle rate of the wb's dirtiers (pages/s).
    pub dirty_ratelimit: u64,
    /// The last balanced rate estimate (pages/s).
    pub balanced_dirty_ratelimit: u64,
}

impl WbBandwidth {
    /// wb_init: everything INIT_BW, stamps at jiffies `now`.
    pub fn new(now: u64) -> Self {
        WbBandwidth {
            bw_time_stamp: now,
            dirtied_stamp: 0,
            written_stamp: 0,
            write_bandwidth: INIT_BW,
            avg_write_bandwidth: INIT_BW,
            dirty_ratelimit: INIT_BW,
            balanced_dirty_ratelimit: INIT_BW,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_constants() {
        assert_eq!((MAX_PAUSE, BANDWIDTH_INTERVAL, DIRTY_POLL_THRESH, INIT_BW), (50, 50, 32, 25_600));
        assert_eq!(INITIAL_JIFFIES, (1u64 << 32) - 75_000);
        assert_eq!(kbps(INIT_BW), 102_400, "the bdi_dirty_ratelimit of a new bdi prints 102400 KB/s");
        assert_eq!(jiffies_at(8_000_000), INITIAL_JIFFIES + 2);
    }

    #[test]
    fn jiffies_comparisons_wrap() {
        let before_wrap = u64::MAX - 1;
        assert!(time_after(before_wrap.wrapping_add(3), before_wrap));
        assert!(time_before(before_wrap, 1));
        assert!(time_after_eq(5, 5) && !time_after(5, 5));
    }
}
