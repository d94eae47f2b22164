//! The dirty limits of mm/page-writeback.c (6.18): dirtyable memory, the domain's thresholds from the vm.dirty_*
//! sysctls, the domain's slowly following `dirty_limit`, and each wb's share of the threshold.

use super::fprop::{FpropGlobal, FpropLocal, FPROP_FRAC_BASE};
use super::{
    time_after_eq, time_before, DirtyThrottleControl, BANDWIDTH_INTERVAL, BDI_RATIO_SCALE, PAGE_SIZE, UINT_MAX,
    VM_COMPLETIONS_PERIOD_LEN,
};

/// The vm.dirty_* sysctls that set the limits (defaults as at boot). Writing one of a ratio/bytes pair zeroes the
/// other, so at most one of each pair is non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmDirtySysctls {
    /// vm.dirty_ratio (percent of dirtyable memory).
    pub dirty_ratio: u64,
    /// vm.dirty_bytes (0: use the ratio).
    pub dirty_bytes: u64,
    /// vm.dirty_background_ratio.
    pub dirty_background_ratio: u64,
    /// vm.dirty_background_bytes.
    pub dirty_background_bytes: u64,
}

impl Default for VmDirtySysctls {
    fn default() -> Self {
        VmDirtySysctls { dirty_ratio: 20, dirty_bytes: 0, dirty_background_ratio: 10, dirty_background_bytes: 0 }
    }
}

/// The page counts `global_dirtyable_memory` reads (pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirtyableMemory {
    /// NR_FREE_PAGES over all zones.
    pub nr_free_pages: u64,
    /// totalreserve_pages: per zone, its largest lowmem_reserve plus its high watermark (capped at managed).
    pub totalreserve_pages: u64,
    /// NR_INACTIVE_FILE.
    pub nr_inactive_file: u64,
    /// NR_ACTIVE_FILE.
    pub nr_active_file: u64,
    /// highmem_dirtyable_memory's sum before its cap (free above the high watermark plus file pages of highmem
    /// zones); 0 on 64-bit hosts, which have no highmem.
    pub highmem_dirtyable: u64,
}

/// struct wb_domain (include/linux/writeback.h): the global domain's writeout completions and its `dirty_limit`,
/// which follows thresh up at once and down slowly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WbDomain {
    /// Writeback completions of all wbs (aged every VM_COMPLETIONS_PERIOD_LEN).
    pub completions: FpropGlobal,
    /// When the period timer fires next (jiffies); 0 while it is stopped.
    pub period_time: u64,
    /// Last update of `dirty_limit` (jiffies).
    pub dirty_limit_tstamp: u64,
    /// The dirty limit that lags a falling thresh (pages).
    pub dirty_limit: u64,
    /// The static `bdi_min_ratio`: the sum of all bdis' min_ratio (× BDI_RATIO_SCALE), kept here since there is
    /// one domain.
    pub bdi_min_ratio: u64,
}

impl WbDomain {
    /// wb_domain_init at jiffies `now` (the kernel leaves dirty_limit 0 until `writeback_set_ratelimit` runs at
    /// boot).
    pub fn new(now: u64) -> Self {
        WbDomain { dirty_limit_tstamp: now, ..Default::default() }
    }
}

/// The bdi settings the limits read (struct backing_dev_info).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackingDevInfo {
    /// min_ratio × BDI_RATIO_SCALE (sysfs min_ratio, min_ratio_fine, min_bytes).
    pub min_ratio: u64,
    /// max_ratio × BDI_RATIO_SCALE.
    pub max_ratio: u64,
    /// max_prop_frac: the largest writeout fraction counted, FPROP_FRAC_BASE × max_ratio / 100%.
    pub max_prop_frac: u64,
    /// BDI_CAP_STRICTLIMIT (fuse, or sysfs strict_limit).
    pub strictlimit: bool,
    /// tot_write_bandwidth: the sum of avg_write_bandwidth over the bdi's wbs with dirty IO.
    pub tot_write_bandwidth: u64,
}

impl Default for BackingDevInfo {
    /// bdi_init: min 0, max 100 %, no strictlimit.
    fn default() -> Self {
        BackingDevInfo {
            min_ratio: 0,
            max_ratio: 100 * BDI_RATIO_SCALE,
            max_prop_frac: FPROP_FRAC_BASE,
            strictlimit: false,
            tot_write_bandwidth: 0,
        }
    }
}

/// global_dirtyable_memory: free pages above the reserves plus file LRU pages, less highmem unless
/// vm.highmem_is_dirtyable; never 0.
pub fn global_dirtyable_memory(m: &DirtyableMemory, vm_highmem_is_dirtyable: bool) -> u64 {
    let mut x = m.nr_free_pages;
    x -= x.min(m.totalreserve_pages);
    x += m.nr_inactive_file;
    x += m.nr_active_file;
    if !vm_highmem_is_dirtyable {
        x -= m.highmem_dirtyable.min(x);
    }
    x + 1
}

/// domain_dirty_limits (global domain): thresh and bg_thresh from the sysctls and `dtc.avail`; ratios are applied
/// in 1/PAGE_SIZE units, bytes rounded up to pages; an RT or deadline task gets 1/4 more plus 1/32 of the domain's
/// dirty_limit (`rt_or_dl_task_policy`); bg_thresh ≥ thresh becomes thresh / 2. The kernel traces
/// global_dirty_state here (see `GlobalDirtyStateTrace`).
pub fn domain_dirty_limits(
    dtc: &mut DirtyThrottleControl,
    vm: &VmDirtySysctls,
    rt_task: bool,
    global_dirty_limit: u64,
) {
    let available_memory = dtc.avail;
    let ratio = vm.dirty_ratio * PAGE_SIZE / 100;
    let bg_ratio = vm.dirty_background_ratio * PAGE_SIZE / 100;
    let mut thresh = if vm.dirty_bytes != 0 {
        vm.dirty_bytes.div_ceil(PAGE_SIZE)
    } else {
        ratio.wrapping_mul(available_memory) / PAGE_SIZE
    };
    let mut bg_thresh = if vm.dirty_background_bytes != 0 {
        vm.dirty_background_bytes.div_ceil(PAGE_SIZE)
    } else {
        bg_ratio.wrapping_mul(available_memory) / PAGE_SIZE
    };
    if rt_task {
        bg_thresh += bg_thresh / 4 + global_dirty_limit / 32;
        thresh += thresh / 4 + global_dirty_limit / 32;
    }
    thresh = thresh.min(UINT_MAX);
    if bg_thresh >= thresh {
        bg_thresh = thresh / 2;
    }
    dtc.thresh = thresh;
    dtc.bg_thresh = bg_thresh;
}

/// global_dirty_limits: (bg_thresh, thresh) of the global domain for a task that is not RT.
pub fn global_dirty_limits(
    m: &DirtyableMemory,
    vm: &VmDirtySysctls,
    vm_highmem_is_dirtyable: bool,
    dom: &WbDomain,
) -> (u64, u64) {
    let mut dtc =
        DirtyThrottleControl { avail: global_dirtyable_memory(m, vm_highmem_is_dirtyable), ..Default::default() };
    domain_dirty_limits(&mut dtc, vm, false, dom.dirty_limit);
    (dtc.bg_thresh, dtc.thresh)
}

/// writeback_set_ratelimit (boot, CPU hotplug, and writes of vm.dirty_ratio / vm.dirty_bytes that change the
/// value): resets the domain's dirty_limit to thresh; returns ratelimit_pages, thresh / (32 per online CPU), ≥ 16.
pub fn writeback_set_ratelimit(
    dom: &mut WbDomain,
    m: &DirtyableMemory,
    vm: &VmDirtySysctls,
    vm_highmem_is_dirtyable: bool,
    online_cpus: u64,
) -> u64 {
    let (_, dirty_thresh) = global_dirty_limits(m, vm, vm_highmem_is_dirtyable, dom);
    dom.dirty_limit = dirty_thresh;
    (dirty_thresh / (online_cpus.max(1) * 32)).max(16)
}

/// dirty_freerun_ceiling: below (thresh + bg_thresh) / 2 dirty pages, writers are not throttled.
pub fn dirty_freerun_ceiling(thresh: u64, bg_thresh: u64) -> u64 {
    (thresh + bg_thresh) / 2
}

/// hard_dirty_limit: the larger of thresh and the domain's lagging dirty_limit.
pub fn hard_dirty_limit(dom: &WbDomain, thresh: u64) -> u64 {
    thresh.max(dom.dirty_limit)
}

/// update_dirty_limit: up to thresh in one step; down by 1/32 of the gap to max(thresh, dirty) per call, so the
/// limit stays above the dirty pages.
pub fn update_dirty_limit(dom: &mut WbDomain, dtc: &DirtyThrottleControl) {
    let mut thresh = dtc.thresh;
    let limit = dom.dirty_limit;
    if limit < thresh {
        dom.dirty_limit = thresh;
        return;
    }
    thresh = thresh.max(dtc.dirty);
    if limit > thresh {
        dom.dirty_limit = limit - ((limit - thresh) >> 5);
    }
}

/// domain_update_dirty_limit: `update_dirty_limit` at most once per BANDWIDTH_INTERVAL (jiffies `now`).
pub fn domain_update_dirty_limit(dom: &mut WbDomain, dtc: &DirtyThrottleControl, now: u64) {
    if time_before(now, dom.dirty_limit_tstamp.wrapping_add(BANDWIDTH_INTERVAL)) {
        return;
    }
    if time_after_eq(now, dom.dirty_limit_tstamp.wrapping_add(BANDWIDTH_INTERVAL)) {
        update_dirty_limit(dom, dtc);
        dom.dirty_limit_tstamp = now;
    }
}

/// wp_next_time: the next aging time, never 0 (0 means the timer is stopped).
fn wp_next_time(cur_time: u64) -> u64 {
    let t = cur_time.wrapping_add(VM_COMPLETIONS_PERIOD_LEN);
    if t == 0 {
        1
    } else {
        t
    }
}

/// wb_domain_writeout_add (from `__wb_writeout_add` in `__folio_end_writeback`): `nr` pages of the wb finished
/// writeback at jiffies `now`; counted up to the bdi's max_prop_frac; arms the period timer if it was stopped (the
/// caller runs `writeout_period` when jiffies reach `dom.period_time`).
pub fn wb_domain_writeout_add(dom: &mut WbDomain, completions: &mut FpropLocal, max_prop_frac: u64, nr: i64, now: u64) {
    dom.completions.add_max(completions, max_prop_frac, nr);
    if dom.period_time == 0 {
        dom.period_time = wp_next_time(now);
    }
}

/// writeout_period: the aging timer, run at jiffies `now` ≥ period_time (a deferrable timer may run late; the
/// periods missed are aged too); stops itself once aging has zeroed the counts.
pub fn writeout_period(dom: &mut WbDomain, now: u64) {
    let miss_periods = now.wrapping_sub(dom.period_time) / VM_COMPLETIONS_PERIOD_LEN;
    if dom.completions.new_period(miss_periods as u32 + 1) {
        dom.period_time = wp_next_time(dom.period_time.wrapping_add(miss_periods * VM_COMPLETIONS_PERIOD_LEN));
    } else {
        dom.period_time = 0;
    }
}

/// wb_min_max_ratio (CONFIG_CGROUP_WRITEBACK): the bdi's min/max ratios, scaled by this wb's share of the bdi's
/// write bandwidth when the bdi has several wbs (`this_bw` < `tot_write_bandwidth`).
pub fn wb_min_max_ratio(bdi: &BackingDevInfo, this_bw: u64) -> (u64, u64) {
    let (mut min, mut max) = (bdi.min_ratio, bdi.max_ratio);
    let tot_bw = bdi.tot_write_bandwidth;
    if this_bw < tot_bw {
        if min != 0 {
            min = min * this_bw / tot_bw;
        }
        if max < 100 * BDI_RATIO_SCALE {
            max = max * this_bw / tot_bw;
        }
    }
    (min, max)
}

/// __wb_calc_thresh (6.18): the wb's share of `thresh` by its writeout fraction `(numerator, denominator)`, plus its
/// min_ratio, raised to (thresh - dtc.dirty) / 8 (/ 100 with strictlimit) so that an idle device is not blocked,
/// capped at its max_ratio. `min_max` is `wb_min_max_ratio`'s result.
pub fn __wb_calc_thresh(
    dtc: &DirtyThrottleControl,
    thresh: u64,
    fraction: (u64, u64),
    bdi_min_ratio: u64,
    min_max: (u64, u64),
    strictlimit: bool,
) -> u64 {
    let (numerator, denominator) = fraction;
    let (wb_min_ratio, wb_max_ratio) = min_max;
    let mut wb_thresh = thresh * (100 * BDI_RATIO_SCALE - bdi_min_ratio) / (100 * BDI_RATIO_SCALE);
    wb_thresh = wb_thresh.wrapping_mul(numerator) / denominator.max(1);
    wb_thresh += thresh * wb_min_ratio / (100 * BDI_RATIO_SCALE);
    if thresh > dtc.dirty {
        let bump = if strictlimit { (thresh - dtc.dirty) / 100 } else { (thresh - dtc.dirty) / 8 };
        wb_thresh = wb_thresh.max(bump);
    }
    let wb_max_thresh = thresh * wb_max_ratio / (100 * BDI_RATIO_SCALE);
    wb_thresh.min(wb_max_thresh)
}

/// wb_calc_thresh / the part of wb_dirty_limits that computes the share: `__wb_calc_thresh` with the fraction read
/// from the domain's completions.
pub fn wb_calc_thresh(
    dtc: &DirtyThrottleControl,
    thresh: u64,
    dom: &WbDomain,
    completions: &mut FpropLocal,
    bdi: &BackingDevInfo,
    avg_write_bandwidth: u64,
) -> u64 {
    let fraction = dom.completions.fraction(completions);
    __wb_calc_thresh(
        dtc,
        thresh,
        fraction,
        dom.bdi_min_ratio,
        wb_min_max_ratio(bdi, avg_write_bandwidth),
        bdi.strictlimit,
    )
}

/// wb_dirty_limits: the wb's thresholds (wb_thresh, wb_bg_thresh = wb_thresh × bg_thresh / thresh) and its dirty
/// pages `wb_reclaimable + wb_writeback` (WB_RECLAIMABLE + WB_WRITEBACK; exact here, see the module doc).
pub fn wb_dirty_limits(
    dtc: &mut DirtyThrottleControl,
    dom: &WbDomain,
    completions: &mut FpropLocal,
    bdi: &BackingDevInfo,
    avg_write_bandwidth: u64,
    wb_reclaimable: u64,
    wb_writeback: u64,
) {
    dtc.wb_thresh = wb_calc_thresh(dtc, dtc.thresh, dom, completions, bdi, avg_write_bandwidth);
    dtc.wb_bg_thresh = (dtc.wb_thresh * dtc.bg_thresh).checked_div(dtc.thresh).unwrap_or(0);
    // DIVERGENCE: exact sums; the kernel reads the percpu counters with wb_stat (which may lag by up to
    // wb_stat_error) unless wb_thresh is below 2 * wb_stat_error, when it sums them (wb_stat_sum).
    dtc.wb_dirty = wb_reclaimable + wb_writeback;
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn bytes_round_up_to_pages_and_background_is_halved_when_too_high() {
        let vm = VmDirtySysctls { dirty_bytes: 64 * MIB + 1, dirty_background_bytes: 32 * MIB, ..Default::default() };
        let mut dtc = DirtyThrottleControl { avail: 1_000_000, ..Default::default() };
        domain_dirty_limits(&mut dtc, &vm, false, 0);
        assert_eq!((dtc.thresh, dtc.bg_thresh), (16_385, 8192));
        let vm = VmDirtySysctls { dirty_bytes: 64 * MIB, dirty_background_bytes: 64 * MIB, ..Default::default() };
        domain_dirty_limits(&mut dtc, &vm, false, 0);
        assert_eq!((dtc.thresh, dtc.bg_thresh), (16_384, 8192));
    }

    #[test]
    fn ratios_are_applied_in_page_size_units() {
        // 20 % is 819/4096 and 10 % is 409/4096, slightly below the percentages.
        let mut dtc = DirtyThrottleControl { avail: 1_000_000, ..Default::default() };
        domain_dirty_limits(&mut dtc, &VmDirtySysctls::default(), false, 0);
        assert_eq!((dtc.thresh, dtc.bg_thresh), (819 * 1_000_000 / 4096, 409 * 1_000_000 / 4096));
        // RT boost: + 1/4 + dirty_limit / 32.
        domain_dirty_limits(&mut dtc, &VmDirtySysctls::default(), true, 3200);
        let (t, b) = (819 * 1_000_000 / 4096, 409 * 1_000_000 / 4096);
        assert_eq!((dtc.thresh, dtc.bg_thresh), (t + t / 4 + 100, b + b / 4 + 100));
    }

    #[test]
    fn dirtyable_memory_subtracts_reserves_and_is_never_zero() {
        let m = DirtyableMemory { nr_free_pages: 100, totalreserve_pages: 150, ..Default::default() };
        assert_eq!(global_dirtyable_memory(&m, false), 1);
        let m = DirtyableMemory {
            nr_free_pages: 1000,
            totalreserve_pages: 100,
            nr_inactive_file: 30,
            nr_active_file: 20,
            highmem_dirtyable: 50,
        };
        assert_eq!(global_dirtyable_memory(&m, false), 901);
        assert_eq!(global_dirtyable_memory(&m, true), 951);
    }

    #[test]
    fn dirty_limit_follows_up_at_once_and_down_by_a_32nd() {
        let mut dom = WbDomain { dirty_limit: 1000, ..Default::default() };
        let dtc = DirtyThrottleControl { thresh: 2000, dirty: 10, ..Default::default() };
        update_dirty_limit(&mut dom, &dtc);
        assert_eq!(dom.dirty_limit, 2000);
        let dtc = DirtyThrottleControl { thresh: 1000, dirty: 1500, ..Default::default() };
        update_dirty_limit(&mut dom, &dtc);
        assert_eq!(dom.dirty_limit, 2000 - (500 >> 5), "target is max(thresh, dirty)");
        // Rate limited to one update per BANDWIDTH_INTERVAL.
        let mut dom = WbDomain { dirty_limit: 2000, dirty_limit_tstamp: 100, ..Default::default() };
        domain_update_dirty_limit(&mut dom, &dtc, 100 + BANDWIDTH_INTERVAL - 1);
        assert_eq!(dom.dirty_limit, 2000);
        domain_update_dirty_limit(&mut dom, &dtc, 100 + BANDWIDTH_INTERVAL);
        assert_eq!((dom.dirty_limit, dom.dirty_limit_tstamp), (2000 - 15, 100 + BANDWIDTH_INTERVAL));
    }

    #[test]
    fn wb_thresh_share_bump_and_caps() {
        let dtc = DirtyThrottleControl { dirty: 12_000, ..Default::default() };
        let full = (0, 100 * BDI_RATIO_SCALE);
        // No completions yet: the bump (thresh - dirty) / 8.
        assert_eq!(__wb_calc_thresh(&dtc, 16_384, (0, 1), 0, full, false), (16_384 - 12_000) / 8);
        assert_eq!(__wb_calc_thresh(&dtc, 16_384, (0, 1), 0, full, true), (16_384 - 12_000) / 100);
        // Three quarters of the completions.
        assert_eq!(__wb_calc_thresh(&dtc, 16_384, (3, 4), 0, full, false), 12_288);
        // max_ratio 50 % caps; min_ratio 10 % adds 10 % and takes it off everyone's share.
        assert_eq!(__wb_calc_thresh(&dtc, 16_384, (3, 4), 0, (0, 50 * BDI_RATIO_SCALE), false), 8192);
        let min10 = 10 * BDI_RATIO_SCALE;
        assert_eq!(
            __wb_calc_thresh(&dtc, 16_384, (3, 4), min10, (min10, 100 * BDI_RATIO_SCALE), false),
            16_384 * 90 / 100 * 3 / 4 + 16_384 / 10
        );
        let bdi = BackingDevInfo {
            min_ratio: min10,
            max_ratio: 50 * BDI_RATIO_SCALE,
            tot_write_bandwidth: 400,
            ..Default::default()
        };
        assert_eq!(wb_min_max_ratio(&bdi, 100), (min10 / 4, 50 * BDI_RATIO_SCALE / 4));
        assert_eq!(wb_min_max_ratio(&bdi, 400), (min10, 50 * BDI_RATIO_SCALE));
    }

    #[test]
    fn ratelimit_pages_and_the_reset_of_dirty_limit() {
        let m = DirtyableMemory { nr_free_pages: 6_000_000, ..Default::default() };
        let vm = VmDirtySysctls { dirty_bytes: 64 * MIB, dirty_background_bytes: 32 * MIB, ..Default::default() };
        let mut dom = WbDomain { dirty_limit: 99, ..Default::default() };
        assert_eq!(writeback_set_ratelimit(&mut dom, &m, &vm, false, 2), 16_384 / 64);
        assert_eq!(dom.dirty_limit, 16_384);
        let vm = VmDirtySysctls { dirty_bytes: 4096, dirty_background_bytes: 0, ..Default::default() };
        assert_eq!(writeback_set_ratelimit(&mut dom, &m, &vm, false, 2), 16);
    }

    #[test]
    fn the_period_timer_ages_missed_periods() {
        let mut dom = WbDomain::new(1000);
        let mut a = FpropLocal::default();
        wb_domain_writeout_add(&mut dom, &mut a, FPROP_FRAC_BASE, 1024, 1000);
        assert_eq!(dom.period_time, 1000 + VM_COMPLETIONS_PERIOD_LEN);
        // Fired two periods late: three halvings.
        writeout_period(&mut dom, 1000 + 3 * VM_COMPLETIONS_PERIOD_LEN);
        assert_eq!(dom.completions.events, 1025 >> 3);
        assert_eq!(dom.period_time, 1000 + 4 * VM_COMPLETIONS_PERIOD_LEN);
        assert_eq!(dom.completions.fraction(&mut a), (1024 >> 3, 1025 >> 3));
    }
}
