//! Position and rate control of mm/page-writeback.c (6.18): `pos_ratio` from where the dirty pages stand against
//! the setpoints, the wb's write bandwidth estimate, and its base `dirty_ratelimit` that tracks write_bw / N for
//! N writers.

use super::fprop::FpropLocal;
use super::limits::{dirty_freerun_ceiling, domain_update_dirty_limit, hard_dirty_limit, WbDomain};
use super::trace::BdiDirtyRatelimitTrace;
use super::{
    ilog2, roundup_pow_of_two, DirtyThrottleControl, WbBandwidth, HZ, RATELIMIT_CALC_SHIFT, WB_BANDWIDTH_IDLE_JIF,
};

/// The fields of struct bdi_writeback that mm/page-writeback.c owns: its bandwidth and ratelimits, its writeout
/// completions (its share of the domain's), and `dirty_exceeded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdiWriteback {
    pub bw: WbBandwidth,
    pub completions: FpropLocal,
    pub dirty_exceeded: bool,
}

impl BdiWriteback {
    /// wb_init at jiffies `now`.
    pub fn new(now: u64) -> Self {
        BdiWriteback { bw: WbBandwidth::new(now), completions: FpropLocal::default(), dirty_exceeded: false }
    }
}

/// pos_ratio_polynom: 1 + ((setpoint - dirty) / (limit - setpoint))^3 in fixed point, clamped to [0, 2]: 2 at
/// freerun, 1 at the setpoint, 0 at the limit.
pub fn pos_ratio_polynom(setpoint: u64, dirty: u64, limit: u64) -> i64 {
    let x = (((setpoint as i64).wrapping_sub(dirty as i64)) << RATELIMIT_CALC_SHIFT)
        / ((limit.wrapping_sub(setpoint) | 1) as i64);
    let mut pos_ratio = x;
    pos_ratio = pos_ratio.wrapping_mul(x) >> RATELIMIT_CALC_SHIFT;
    pos_ratio = pos_ratio.wrapping_mul(x) >> RATELIMIT_CALC_SHIFT;
    pos_ratio += 1 << RATELIMIT_CALC_SHIFT;
    pos_ratio.clamp(0, 2 << RATELIMIT_CALC_SHIFT)
}

/// wb_position_ratio (6.18): dtc.pos_ratio from the global control line, scaled by the wb's linear control line
/// around wb_setpoint = setpoint × wb_thresh / thresh (slope set by 8 × `write_bw`, never below 1/4), and raised when
/// the wb is under half its threshold; with strictlimit, the smaller of the global ratio and the wb's own
/// polynomial. Sets dtc.limit (the tracepoint prints it). `write_bw` is avg_write_bandwidth.
pub fn wb_position_ratio(dtc: &mut DirtyThrottleControl, dom: &WbDomain, write_bw: u64, strictlimit: bool) {
    let freerun = dirty_freerun_ceiling(dtc.thresh, dtc.bg_thresh);
    let limit = hard_dirty_limit(dom, dtc.thresh);
    dtc.limit = limit;
    let mut wb_thresh = dtc.wb_thresh;
    dtc.pos_ratio = 0;
    if dtc.dirty >= limit {
        return;
    }
    let setpoint = (freerun + limit) / 2;
    let mut pos_ratio = pos_ratio_polynom(setpoint, dtc.dirty, limit) as u64;

    if strictlimit {
        if dtc.wb_dirty >= wb_thresh {
            return;
        }
        let wb_setpoint = dirty_freerun_ceiling(wb_thresh, dtc.wb_bg_thresh);
        if wb_setpoint == 0 || wb_setpoint == wb_thresh {
            return;
        }
        let wb_pos_ratio = pos_ratio_polynom(wb_setpoint, dtc.wb_dirty, wb_thresh) as u64;
        dtc.pos_ratio = pos_ratio.min(wb_pos_ratio);
        return;
    }

    wb_thresh = wb_thresh.min(dtc.thresh);
    // wb_setpoint = setpoint * wb_thresh / thresh, through a 16-bit fixed-point x.
    let x = (wb_thresh << 16) / (dtc.thresh | 1);
    let wb_setpoint = setpoint.wrapping_mul(x) >> 16;
    // span = wb_thresh/thresh * 8 * write_bw + (thresh - wb_thresh)/thresh * wb_thresh
    let span = (dtc.thresh - wb_thresh + 8 * write_bw).wrapping_mul(x) >> 16;
    let x_intercept = wb_setpoint + span;
    if dtc.wb_dirty < x_intercept - span / 4 {
        pos_ratio = pos_ratio.wrapping_mul(x_intercept - dtc.wb_dirty) / ((x_intercept - wb_setpoint) | 1);
    } else {
        pos_ratio /= 4;
    }
    // wb reserve area: below wb_thresh / 2, push pos_ratio up (×8 at most).
    let x_intercept = wb_thresh / 2;
    if dtc.wb_dirty < x_intercept {
        if dtc.wb_dirty > x_intercept / 8 {
            pos_ratio = pos_ratio.wrapping_mul(x_intercept) / dtc.wb_dirty;
        } else {
            pos_ratio *= 8;
        }
    }
    dtc.pos_ratio = pos_ratio;
}

/// wb_update_write_bandwidth: write_bandwidth moves toward the rate of the last `elapsed` jiffies (written pages
/// since the last stamp) with weight elapsed / 1024 (roundup_pow_of_two(3 × HZ)); avg_write_bandwidth moves 1/8 of
/// the way to the old estimate when that lies between them (filters spikes). Returns the change of
/// avg_write_bandwidth, which the caller adds to bdi.tot_write_bandwidth when the wb has dirty IO.
pub fn wb_update_write_bandwidth(wb: &mut WbBandwidth, elapsed: u64, written: u64) -> i64 {
    let period = roundup_pow_of_two(3 * HZ);
    let mut avg = wb.avg_write_bandwidth;
    let old = wb.write_bandwidth;
    let mut bw = written - written.min(wb.written_stamp);
    bw *= HZ;
    if elapsed > period {
        bw /= elapsed;
        avg = bw;
    } else {
        bw += wb.write_bandwidth * (period - elapsed);
        bw >>= ilog2(period);
        if avg > old && old >= bw {
            avg -= (avg - old) >> 3;
        }
        if avg < old && old <= bw {
            avg += (old - avg) >> 3;
        }
    }
    avg = avg.max(1);
    let delta = avg as i64 - wb.avg_write_bandwidth as i64;
    wb.write_bandwidth = bw;
    wb.avg_write_bandwidth = avg;
    delta
}

/// wb_update_dirty_ratelimit: balanced_dirty_ratelimit = task_ratelimit × write_bw / dirty_rate (≤ write_bw), and
/// dirty_ratelimit steps toward it only when task_ratelimit lies on the same side (dirty below the setpoint: up to
/// the smallest of the balanced rates and task_ratelimit), by 1/8 of the gap shrunk by 2^(rate/(2 × gap + 1)).
/// `dirtied` is WB_DIRTIED now, `elapsed` jiffies since the last update; `dom` after `domain_update_dirty_limit`.
pub fn wb_update_dirty_ratelimit(
    dtc: &DirtyThrottleControl,
    dom: &WbDomain,
    wb: &mut WbBandwidth,
    dirtied: u64,
    elapsed: u64,
    strictlimit: bool,
) -> BdiDirtyRatelimitTrace {
    let mut dirty = dtc.dirty;
    let freerun = dirty_freerun_ceiling(dtc.thresh, dtc.bg_thresh);
    let limit = hard_dirty_limit(dom, dtc.thresh);
    let mut setpoint = (freerun + limit) / 2;
    let write_bw = wb.avg_write_bandwidth;
    let mut dirty_ratelimit = wb.dirty_ratelimit;

    let dirty_rate = dirtied.wrapping_sub(wb.dirtied_stamp).wrapping_mul(HZ) / elapsed.max(1);
    // task_ratelimit reflects each dd's dirty rate for the past 200 ms; +1 helps ramp up from tiny values.
    let task_ratelimit = (dirty_ratelimit.wrapping_mul(dtc.pos_ratio) >> RATELIMIT_CALC_SHIFT) + 1;
    let balanced_dirty_ratelimit = (task_ratelimit.wrapping_mul(write_bw) / (dirty_rate | 1)).min(write_bw);

    let mut step = 0;
    if strictlimit {
        dirty = dtc.wb_dirty;
        setpoint = (dtc.wb_thresh + dtc.wb_bg_thresh) / 2;
    }
    if dirty < setpoint {
        let x = wb.balanced_dirty_ratelimit.min(balanced_dirty_ratelimit).min(task_ratelimit);
        if dirty_ratelimit < x {
            step = x - dirty_ratelimit;
        }
    } else {
        let x = wb.balanced_dirty_ratelimit.max(balanced_dirty_ratelimit).max(task_ratelimit);
        if dirty_ratelimit > x {
            step = dirty_ratelimit - x;
        }
    }
    // Slow down when close to the target: step >> (rate / (2 * step + 1)), then / 8 rounded up.
    let shift = dirty_ratelimit / (2 * step + 1);
    step = if shift < 64 { (step >> shift).div_ceil(8) } else { 0 };
    if dirty_ratelimit < balanced_dirty_ratelimit {
        dirty_ratelimit += step;
    } else {
        dirty_ratelimit -= step;
    }
    wb.dirty_ratelimit = dirty_ratelimit.max(1);
    wb.balanced_dirty_ratelimit = balanced_dirty_ratelimit;
    BdiDirtyRatelimitTrace::new(wb, dirty_rate, task_ratelimit)
}

/// __wb_update_bandwidth: at jiffies `now` with the wb's WB_DIRTIED / WB_WRITTEN counts, updates the domain's
/// dirty_limit and the wb's dirty_ratelimit (when `update_ratelimit`, from balance_dirty_pages with `gdtc`), then its
/// write bandwidth, and restamps. Returns the bdi_dirty_ratelimit event when the ratelimit was updated, and the change
/// of avg_write_bandwidth (for bdi.tot_write_bandwidth).
#[allow(clippy::too_many_arguments)]
pub fn __wb_update_bandwidth(
    gdtc: &DirtyThrottleControl,
    dom: &mut WbDomain,
    wb: &mut WbBandwidth,
    now: u64,
    dirtied: u64,
    written: u64,
    update_ratelimit: bool,
    strictlimit: bool,
) -> (Option<BdiDirtyRatelimitTrace>, i64) {
    let elapsed = now.wrapping_sub(wb.bw_time_stamp).max(1);
    let mut ev = None;
    if update_ratelimit {
        domain_update_dirty_limit(dom, gdtc, now);
        ev = Some(wb_update_dirty_ratelimit(gdtc, dom, wb, dirtied, elapsed, strictlimit));
    }
    let delta = wb_update_write_bandwidth(wb, elapsed, written);
    wb.dirtied_stamp = dirtied;
    wb.written_stamp = written;
    wb.bw_time_stamp = now;
    (ev, delta)
}

/// wb_update_bandwidth: the bandwidth-only update (do_writepages every BANDWIDTH_INTERVAL, and BANDWIDTH_INTERVAL
/// after an inode's writeback ends). Returns the change of avg_write_bandwidth.
pub fn wb_update_bandwidth(wb: &mut WbBandwidth, now: u64, dirtied: u64, written: u64) -> i64 {
    let elapsed = now.wrapping_sub(wb.bw_time_stamp).max(1);
    let delta = wb_update_write_bandwidth(wb, elapsed, written);
    // __wb_update_bandwidth restamps both counters whoever calls it.
    wb.dirtied_stamp = dirtied;
    wb.written_stamp = written;
    wb.bw_time_stamp = now;
    delta
}

/// wb_bandwidth_estimate_start: when writeback starts on a wb idle for over a second (and no inode under
/// writeback), restamps so that the idle time does not count as zero bandwidth.
pub fn wb_bandwidth_estimate_start(wb: &mut WbBandwidth, now: u64, dirtied: u64, written: u64, writeback_inodes: u64) {
    let elapsed = now.wrapping_sub(wb.bw_time_stamp);
    if elapsed > WB_BANDWIDTH_IDLE_JIF && writeback_inodes == 0 {
        wb.dirtied_stamp = dirtied;
        wb.written_stamp = written;
        wb.bw_time_stamp = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::page_writeback::INIT_BW;

    #[test]
    fn polynom_is_two_at_freerun_one_at_setpoint_zero_at_limit() {
        // freerun 12288, limit 16384, setpoint 14336 (dirty_bytes 64 MiB, background 32 MiB). The divisor is
        // (limit - setpoint) | 1 = 2049, so x = ±1023 rather than ±1024 at the ends: 2045 and 2, not 2.0 and 0.
        assert_eq!(pos_ratio_polynom(14_336, 12_288, 16_384), 1024 + ((((1023 * 1023) >> 10) * 1023) >> 10));
        assert_eq!(pos_ratio_polynom(14_336, 12_288, 16_384), 2045);
        assert_eq!(pos_ratio_polynom(14_336, 14_336, 16_384), 1024);
        assert_eq!(pos_ratio_polynom(14_336, 16_384, 16_384), 2);
        assert_eq!(pos_ratio_polynom(14_336, 0, 16_384), 2048, "clamped at 2.0");
        assert_eq!(pos_ratio_polynom(14_336, 30_000, 16_384), 0, "clamped at 0");
        // Negative x: arithmetic shifts round toward minus infinity, as gcc does.
        let x = ((14_336i64 - 15_000) << 10) / (2048 | 1);
        assert_eq!(pos_ratio_polynom(14_336, 15_000, 16_384), 1024 + ((((x * x) >> 10) * x) >> 10));
    }

    #[test]
    fn wb_control_line_and_reserve_area() {
        let dom = WbDomain { dirty_limit: 16_384, ..Default::default() };
        let base = DirtyThrottleControl {
            thresh: 16_384,
            bg_thresh: 8192,
            dirty: 14_336,
            wb_thresh: 16_384,
            wb_dirty: 14_336,
            ..Default::default()
        };
        let mut dtc = base;
        wb_position_ratio(&mut dtc, &dom, 1000, false);
        assert_eq!(dtc.limit, 16_384);
        // At both setpoints: 1.0, up to the 16-bit rounding of x.
        let x = (16_384u64 << 16) / (16_384 | 1);
        let wb_setpoint = (14_336 * x) >> 16;
        let span = ((8 * 1000) * x) >> 16;
        let xi = wb_setpoint + span;
        assert_eq!(dtc.pos_ratio, 1024 * (xi - 14_336) / ((xi - wb_setpoint) | 1));
        // Far over the wb line: a quarter.
        let mut dtc = DirtyThrottleControl { wb_dirty: 16_000, wb_thresh: 4096, ..base };
        wb_position_ratio(&mut dtc, &dom, 10, false);
        assert_eq!(dtc.pos_ratio, 1024 / 4);
        // Under wb_thresh / 16: × 8.
        let mut dtc = DirtyThrottleControl { wb_dirty: 100, ..base };
        let mut no_reserve = DirtyThrottleControl { wb_dirty: 100, wb_thresh: 150, ..base };
        wb_position_ratio(&mut dtc, &dom, 1000, false);
        wb_position_ratio(&mut no_reserve, &dom, 1000, false);
        assert!(dtc.pos_ratio > 4 * no_reserve.pos_ratio);
        // At the limit: 0.
        let mut dtc = DirtyThrottleControl { dirty: 16_384, ..base };
        wb_position_ratio(&mut dtc, &dom, 1000, false);
        assert_eq!(dtc.pos_ratio, 0);
    }

    #[test]
    fn strictlimit_uses_the_wb_polynomial() {
        let dom = WbDomain { dirty_limit: 16_384, ..Default::default() };
        let mut dtc = DirtyThrottleControl {
            thresh: 16_384,
            bg_thresh: 8192,
            dirty: 1000,
            wb_thresh: 1000,
            wb_bg_thresh: 500,
            wb_dirty: 800,
            ..Default::default()
        };
        wb_position_ratio(&mut dtc, &dom, 1000, true);
        assert_eq!(dtc.pos_ratio, pos_ratio_polynom(750, 800, 1000) as u64);
        dtc.wb_dirty = 1000;
        wb_position_ratio(&mut dtc, &dom, 1000, true);
        assert_eq!(dtc.pos_ratio, 0, "at wb_thresh");
    }

    #[test]
    fn bandwidth_estimate_averages_over_1024_jiffies() {
        let mut wb = WbBandwidth::new(0);
        // 200 ms (50 jiffies) writing 1000 pages: 5000 pages/s blended with weight 50/1024.
        let d = wb_update_write_bandwidth(&mut wb, 50, 1000);
        assert_eq!(wb.write_bandwidth, (1000 * HZ + INIT_BW * (1024 - 50)) >> 10);
        assert_eq!((wb.avg_write_bandwidth, d), (INIT_BW, 0), "avg only moves toward an old value between them");
        let old = wb.write_bandwidth;
        wb.written_stamp = 1000;
        wb_update_write_bandwidth(&mut wb, 50, 2000);
        assert_eq!(wb.avg_write_bandwidth, INIT_BW - ((INIT_BW - old) >> 3));
        // After a gap longer than the period: the plain rate.
        wb.written_stamp = 2000;
        wb_update_write_bandwidth(&mut wb, 2000, 2000 + 400);
        assert_eq!((wb.write_bandwidth, wb.avg_write_bandwidth), (400 * HZ / 2000, 400 * HZ / 2000));
    }

    #[test]
    fn dirty_ratelimit_steps_toward_balanced_only_with_task_ratelimit() {
        let dom = WbDomain { dirty_limit: 16_384, ..Default::default() };
        let dtc = DirtyThrottleControl {
            thresh: 16_384,
            bg_thresh: 8192,
            dirty: 15_000,
            pos_ratio: 512,
            ..Default::default()
        };
        let mut wb = WbBandwidth { avg_write_bandwidth: 10_000, ..WbBandwidth::new(0) };
        // Dirtied 25600 × 50 / HZ pages in 50 jiffies: dirty_rate = 25600.
        let ev = wb_update_dirty_ratelimit(&dtc, &dom, &mut wb, 5120, 50, false);
        let task = ((INIT_BW * 512) >> 10) + 1;
        let balanced = task * 10_000 / (25_600 | 1);
        assert_eq!(ev.dirty_rate, kbps(25_600));
        assert_eq!(ev.task_ratelimit, kbps(task));
        assert_eq!(wb.balanced_dirty_ratelimit, balanced);
        // dirty above the setpoint: x = max(INIT_BW, balanced, task) = INIT_BW, no step.
        assert_eq!(wb.dirty_ratelimit, INIT_BW);
        // Second round: the previous balanced is low now, so the step is taken.
        wb.dirtied_stamp = 5120;
        wb_update_dirty_ratelimit(&dtc, &dom, &mut wb, 10_240, 50, false);
        let step = INIT_BW - task.max(balanced);
        let shift = INIT_BW / (2 * step + 1);
        assert_eq!(wb.dirty_ratelimit, INIT_BW - (step >> shift).div_ceil(8));
    }

    use super::super::kbps;
}
