//! balance_dirty_pages and its callers' bookkeeping (mm/page-writeback.c, 6.18): how long a dirtier pauses, how
//! many pages it may dirty before it is checked again, and when it is checked at all.
//!
//! ```text
//! generic_perform_write ── balance_dirty_pages_ratelimited ──(nr_dirtied ≥ nr_dirtied_pause)──> balance_dirty_pages
//!   dirty ≤ freerun:  nr_dirtied_pause = dirty_poll_interval, no pause
//!   else:             task_ratelimit = dirty_ratelimit × pos_ratio >> 10
//!                     period = HZ × pages_dirtied / task_ratelimit;  pause = period - think
//!                     pause < min_pause: no sleep (credit the period);  else sleep min(pause, max_pause)
//! ```

use super::limits::{
    dirty_freerun_ceiling, domain_dirty_limits, global_dirtyable_memory, wb_dirty_limits, BackingDevInfo,
    DirtyableMemory, VmDirtySysctls, WbDomain,
};
use super::ratelimit::{__wb_update_bandwidth, wb_position_ratio, BdiWriteback};
use super::trace::{BalanceDirtyPagesTrace, BdiDirtyRatelimitTrace, GlobalDirtyStateTrace};
use super::{
    ilog2, roundup_pow_of_two, time_after, DirtyThrottleControl, TaskDirty, BANDWIDTH_INTERVAL, DIRTY_POLL_THRESH, HZ,
    MAX_PAUSE, PAGE_SHIFT, RATELIMIT_CALC_SHIFT,
};

/// The per-CPU counters and the global `ratelimit_pages` of balance_dirty_pages_ratelimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BdpRatelimits {
    /// ratelimit_pages (`writeback_set_ratelimit`; 32 before it first runs).
    pub ratelimit_pages: u64,
    /// bdp_ratelimits: pages dirtied on each CPU since its last check.
    pub bdp_ratelimits: Vec<u64>,
    /// dirty_throttle_leaks: pages dirtied by exited tasks, not yet charged to a live one.
    pub dirty_throttle_leaks: Vec<u64>,
}

impl Default for BdpRatelimits {
    /// One CPU and the boot-time ratelimit_pages (32) until writeback_set_ratelimit runs.
    fn default() -> Self {
        BdpRatelimits::new(1, 32)
    }
}

impl BdpRatelimits {
    pub fn new(nr_cpus: usize, ratelimit_pages: u64) -> Self {
        BdpRatelimits { ratelimit_pages, bdp_ratelimits: vec![0; nr_cpus], dirty_throttle_leaks: vec![0; nr_cpus] }
    }
}

/// The counters balance_dirty_pages reads at the top of each pass (pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirtyCounters {
    /// NR_FILE_DIRTY.
    pub nr_file_dirty: u64,
    /// NR_WRITEBACK.
    pub nr_writeback: u64,
    /// NR_DIRTIED (global_dirty_state prints it).
    pub nr_dirtied: u64,
    /// NR_WRITTEN (global_dirty_state prints it).
    pub nr_written: u64,
    /// What `global_dirtyable_memory` reads.
    pub mem: DirtyableMemory,
    /// The wb's WB_RECLAIMABLE, WB_WRITEBACK, WB_DIRTIED, WB_WRITTEN.
    pub wb_reclaimable: u64,
    pub wb_writeback: u64,
    pub wb_dirtied: u64,
    pub wb_written: u64,
    /// writeback_in_progress(wb): its flusher work is running.
    pub writeback_in_progress: bool,
    /// wb_has_dirty_io(wb): the wb counts in bdi.tot_write_bandwidth.
    pub wb_has_dirty_io: bool,
}

/// The arguments of one pass of balance_dirty_pages, and the settings it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdpArgs {
    /// jiffies at the top of this pass.
    pub now: u64,
    /// jiffies when balance_dirty_pages was entered (the first pass's `now`).
    pub start_time: u64,
    /// pages_dirtied: the task's nr_dirtied when it was called.
    pub pages_dirtied: u64,
    /// The task is RT or deadline (`rt_or_dl_task_policy`): its limits are raised.
    pub rt_task: bool,
    pub vm: VmDirtySysctls,
    pub vm_highmem_is_dirtyable: bool,
    /// nr_cpu_ids (for wb_stat_error).
    pub nr_cpu_ids: u64,
}

/// What one pass decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BdpAction {
    /// Under the freerun ceiling: return, nr_dirtied_pause set to the poll interval.
    FreeRun,
    /// Over it, but the pause came out below min_pause: return without sleeping.
    NoSleep,
    /// Sleep `pause` jiffies (TASK_KILLABLE); then run another pass if `again` (task_ratelimit was 0 and the wb
    /// still has dirty pages), else return.
    Sleep { pause: u64, again: bool },
}

/// One pass of balance_dirty_pages: the decision, the writeback to start, and the events the kernel traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdpPass {
    pub action: BdpAction,
    /// wb_start_background_writeback: over bg_thresh (or throttled) with no writeback in progress.
    pub start_background_writeback: bool,
    pub global_dirty_state: GlobalDirtyStateTrace,
    pub bdi_dirty_ratelimit: Option<BdiDirtyRatelimitTrace>,
    pub balance_dirty_pages: Option<BalanceDirtyPagesTrace>,
    /// The global domain's state as this pass computed it.
    pub gdtc: DirtyThrottleControl,
}

/// dirty_poll_interval: pages a task may dirty before the next check, about the square root of the distance to
/// thresh (1 at or over it).
pub fn dirty_poll_interval(dirty: u64, thresh: u64) -> u64 {
    if thresh > dirty {
        1 << (ilog2(thresh - dirty) >> 1)
    } else {
        1
    }
}

/// domain_poll_intv: `dirty_poll_interval` of the domain, or of the wb with strictlimit.
pub fn domain_poll_intv(dtc: &DirtyThrottleControl, strictlimit: bool) -> u64 {
    if strictlimit {
        dirty_poll_interval(dtc.wb_dirty, dtc.wb_thresh)
    } else {
        dirty_poll_interval(dtc.dirty, dtc.thresh)
    }
}

/// wb_max_pause: at most MAX_PAUSE, and short enough that the wb's dirty pages cannot drain while the task sleeps
/// (wb_dirty / (bw / 32) jiffies: 1/8 of the time to write them).
pub fn wb_max_pause(avg_write_bandwidth: u64, wb_dirty: u64) -> u64 {
    let t = wb_dirty / (1 + avg_write_bandwidth / roundup_pow_of_two(1 + HZ / 8)) + 1;
    t.min(MAX_PAUSE)
}

/// wb_min_pause: the shortest pause worth sleeping and the next nr_dirtied_pause. Target 10 ms (+10 ms per halving
/// of dirty_ratelimit below the bandwidth, i.e. per doubling of the writers), at most max_pause / 2; pages for that
/// time at dirty_ratelimit, pushed up to DIRTY_POLL_THRESH by pausing longer, and cut so that the next pause at
/// task_ratelimit stays within max_pause. Returns (min_pause in jiffies, nr_dirtied_pause).
pub fn wb_min_pause(
    avg_write_bandwidth: u64,
    wb_dirty_ratelimit: u64,
    max_pause: u64,
    task_ratelimit: u64,
    dirty_ratelimit: u64,
) -> (i64, u64) {
    let hi = ilog2(avg_write_bandwidth) as i64;
    let lo = ilog2(wb_dirty_ratelimit) as i64;
    let hz = HZ as i64;
    let max_pause = max_pause as i64;
    let mut t: i64 = (hz / 100).max(1);
    if hi > lo {
        t += (hi - lo) * (10 * hz) / 1024;
    }
    t = t.min(1 + max_pause / 2);
    let round = roundup_pow_of_two(HZ);
    let mut pages = dirty_ratelimit.wrapping_mul(t as u64) / round;
    if pages < DIRTY_POLL_THRESH {
        t = max_pause;
        pages = dirty_ratelimit.wrapping_mul(t as u64) / round;
        if pages > DIRTY_POLL_THRESH {
            pages = DIRTY_POLL_THRESH;
            t = (HZ * DIRTY_POLL_THRESH / dirty_ratelimit.max(1)) as i64;
        }
    }
    let pause = (HZ * pages / (task_ratelimit + 1)) as i64;
    if pause > max_pause {
        t = max_pause;
        pages = task_ratelimit.wrapping_mul(t as u64) / round;
    }
    let min_pause = if pages >= DIRTY_POLL_THRESH { 1 + t / 2 } else { t };
    (min_pause, pages)
}

/// wb_stat_error: how far a percpu wb counter may lag (nr_cpu_ids × WB_STAT_BATCH).
fn wb_stat_error(nr_cpu_ids: u64) -> u64 {
    nr_cpu_ids * 8 * (1 + ilog2(nr_cpu_ids) as u64)
}

/// balance_dirty_pages, one pass of its loop: limits of the global domain (traces global_dirty_state), freerun
/// check, the wb's limits and pos_ratio, a bandwidth/ratelimit update every BANDWIDTH_INTERVAL (traces
/// bdi_dirty_ratelimit), then the pause (traces balance_dirty_pages). Updates the task, the wb and the domain as the
/// kernel does (the fields set after the sleep are set here; the caller sleeps `pause`).
pub fn balance_dirty_pages(
    dom: &mut WbDomain,
    bdi: &mut BackingDevInfo,
    wb: &mut BdiWriteback,
    task: &mut TaskDirty,
    c: &DirtyCounters,
    a: &BdpArgs,
) -> BdpPass {
    let strictlimit = bdi.strictlimit;
    let mut now = a.now;
    let mut gdtc = DirtyThrottleControl {
        avail: global_dirtyable_memory(&c.mem, a.vm_highmem_is_dirtyable),
        dirty: c.nr_file_dirty + c.nr_writeback,
        ..Default::default()
    };
    domain_dirty_limits(&mut gdtc, &a.vm, a.rt_task, dom.dirty_limit);
    // DIVERGENCE: the global domain only: no memcg domain (mdtc), as on the cgroup v1 host where cgroup writeback is
    // off; on cgroup v2 the kernel also throttles against the memory cgroup's dirty limits.
    let global_dirty_state = GlobalDirtyStateTrace {
        nr_dirty: c.nr_file_dirty,
        nr_writeback: c.nr_writeback,
        background_thresh: gdtc.bg_thresh,
        dirty_thresh: gdtc.thresh,
        dirty_limit: dom.dirty_limit,
        nr_dirtied: c.nr_dirtied,
        nr_written: c.nr_written,
    };
    let avg_bw = wb.bw.avg_write_bandwidth;
    // domain_dirty_freerun
    gdtc.freerun = if strictlimit {
        wb_dirty_limits(&mut gdtc, dom, &mut wb.completions, bdi, avg_bw, c.wb_reclaimable, c.wb_writeback);
        gdtc.wb_dirty <= dirty_freerun_ceiling(gdtc.wb_thresh, gdtc.wb_bg_thresh)
    } else {
        gdtc.dirty <= dirty_freerun_ceiling(gdtc.thresh, gdtc.bg_thresh)
    };
    // DIVERGENCE: laptop_mode is taken as off (the kernel's `!laptop_mode &&` before this test).
    let mut pass = BdpPass {
        action: BdpAction::FreeRun,
        start_background_writeback: c.nr_file_dirty > gdtc.bg_thresh && !c.writeback_in_progress,
        global_dirty_state,
        bdi_dirty_ratelimit: None,
        balance_dirty_pages: None,
        gdtc,
    };
    if gdtc.freerun {
        task.dirty_paused_when = now;
        task.nr_dirtied = 0;
        task.nr_dirtied_pause = domain_poll_intv(&gdtc, strictlimit);
        return pass;
    }
    pass.start_background_writeback |= !c.writeback_in_progress;

    // balance_wb_limits: wb_dirty_freerun, wb_dirty_exceeded, wb_position_ratio.
    // DIVERGENCE: no PF_LOCAL_THROTTLE tasks (whose freerun test is against the wb's own limits).
    gdtc.freerun = false;
    if !strictlimit {
        wb_dirty_limits(&mut gdtc, dom, &mut wb.completions, bdi, avg_bw, c.wb_reclaimable, c.wb_writeback);
    }
    gdtc.dirty_exceeded = gdtc.wb_dirty > gdtc.wb_thresh && (gdtc.dirty > gdtc.thresh || strictlimit);
    wb_position_ratio(&mut gdtc, dom, avg_bw, strictlimit);
    wb.dirty_exceeded = gdtc.dirty_exceeded;
    if time_after(now, wb.bw.bw_time_stamp.wrapping_add(BANDWIDTH_INTERVAL)) {
        let (ev, delta) =
            __wb_update_bandwidth(&gdtc, dom, &mut wb.bw, now, c.wb_dirtied, c.wb_written, true, strictlimit);
        if c.wb_has_dirty_io {
            bdi.tot_write_bandwidth = (bdi.tot_write_bandwidth as i64 + delta).max(0) as u64;
        }
        pass.bdi_dirty_ratelimit = ev;
    }

    let dirty_ratelimit = wb.bw.dirty_ratelimit;
    let task_ratelimit = dirty_ratelimit.wrapping_mul(gdtc.pos_ratio) >> RATELIMIT_CALC_SHIFT;
    let max_pause = wb_max_pause(wb.bw.avg_write_bandwidth, gdtc.wb_dirty);
    let (min_pause, nr_dirtied_pause) =
        wb_min_pause(wb.bw.avg_write_bandwidth, wb.bw.dirty_ratelimit, max_pause, task_ratelimit, dirty_ratelimit);
    let trace = |period: u64, pause: i64, task: &TaskDirty| {
        BalanceDirtyPagesTrace::new(
            &gdtc,
            dirty_ratelimit,
            task_ratelimit,
            a.pages_dirtied,
            period,
            pause,
            a.start_time,
            a.now,
            task,
        )
    };
    // task_ratelimit 0: sleep max_pause (and loop).
    let (period, pause) = if let Some(period) = (HZ * a.pages_dirtied).checked_div(task_ratelimit) {
        let mut pause = period as i64;
        if task.dirty_paused_when != 0 {
            pause -= now.wrapping_sub(task.dirty_paused_when) as i64;
        }
        // Under 1 s of think time is credited to later periods; more resets the clock (a light dirtier).
        if pause < min_pause {
            pass.balance_dirty_pages = Some(trace(period, pause.min(0), task));
            if pause < -(HZ as i64) {
                task.dirty_paused_when = now;
                task.nr_dirtied = 0;
            } else if period != 0 {
                task.dirty_paused_when = task.dirty_paused_when.wrapping_add(period);
                task.nr_dirtied = 0;
            } else if task.nr_dirtied_pause <= a.pages_dirtied {
                task.nr_dirtied_pause += a.pages_dirtied;
            }
            pass.action = BdpAction::NoSleep;
            pass.gdtc = gdtc;
            return pass;
        }
        if pause > max_pause as i64 {
            // For an occasional drop of task_ratelimit: the excess (up to max_pause) counts as slept.
            now = now.wrapping_add((pause - max_pause as i64).min(max_pause as i64) as u64);
            pause = max_pause as i64;
        }
        (period, pause)
    } else {
        (max_pause, max_pause as i64)
    };
    // DIVERGENCE: no BDP_ASYNC caller (io_uring's, which gets -EAGAIN here instead of sleeping).
    pass.balance_dirty_pages = Some(trace(period, pause, task));
    task.dirty_paused_when = now.wrapping_add(pause as u64);
    task.nr_dirtied = 0;
    task.nr_dirtied_pause = nr_dirtied_pause;
    // DIVERGENCE: no fatal signal ends the loop (the kernel breaks out when one is pending).
    let again = task_ratelimit == 0 && gdtc.wb_dirty > wb_stat_error(a.nr_cpu_ids);
    pass.action = BdpAction::Sleep { pause: pause as u64, again };
    pass.gdtc = gdtc;
    pass
}

/// folio_account_dirtied, the accounting that feeds the ratelimit: the task's nr_dirtied and this CPU's
/// bdp_ratelimits grow by the folio's `nr` pages.
pub fn account_page_dirtied(task: &mut TaskDirty, rl: &mut BdpRatelimits, cpu: usize, nr: u64) {
    task.nr_dirtied += nr;
    rl.bdp_ratelimits[cpu] += nr;
}

/// do_exit (kernel/exit.c), its dirty-throttling part: an exiting task's unthrottled pages go to this CPU's
/// dirty_throttle_leaks.
pub fn task_dirty_exit(task: &TaskDirty, rl: &mut BdpRatelimits, cpu: usize) {
    rl.dirty_throttle_leaks[cpu] += task.nr_dirtied;
}

/// balance_dirty_pages_ratelimited_flags, the test at its head (the machine-level function is
/// `Kernel::balance_dirty_pages_ratelimited`, throttle.rs): true when the caller must run
/// balance_dirty_pages(wb, task.nr_dirtied): the
/// task dirtied nr_dirtied_pause pages (8 while the wb's dirty limit is exceeded), or its CPU dirtied
/// ratelimit_pages since the last check; charges exited tasks' leaked pages to this task first.
pub fn bdp_ratelimited(task: &mut TaskDirty, rl: &mut BdpRatelimits, cpu: usize, wb_dirty_exceeded: bool) -> bool {
    let mut ratelimit = task.nr_dirtied_pause;
    if wb_dirty_exceeded {
        ratelimit = ratelimit.min(32 >> (PAGE_SHIFT - 10));
    }
    if task.nr_dirtied >= ratelimit {
        rl.bdp_ratelimits[cpu] = 0;
    } else if rl.bdp_ratelimits[cpu] >= rl.ratelimit_pages {
        rl.bdp_ratelimits[cpu] = 0;
        ratelimit = 0;
    }
    let leaks = &mut rl.dirty_throttle_leaks[cpu];
    if *leaks > 0 && task.nr_dirtied < ratelimit {
        let n = (*leaks).min(ratelimit - task.nr_dirtied);
        *leaks -= n;
        task.nr_dirtied += n;
    }
    task.nr_dirtied >= ratelimit
}

#[cfg(test)]
mod tests {
    use super::super::ratelimit::pos_ratio_polynom;
    use super::super::{kbps, INIT_BW};
    use super::*;

    const MIB: u64 = 1 << 20;

    fn vm64() -> VmDirtySysctls {
        VmDirtySysctls { dirty_bytes: 64 * MIB, dirty_background_bytes: 32 * MIB, ..Default::default() }
    }

    fn args(now: u64, pages: u64) -> BdpArgs {
        BdpArgs {
            now,
            start_time: now,
            pages_dirtied: pages,
            rt_task: false,
            vm: vm64(),
            vm_highmem_is_dirtyable: false,
            nr_cpu_ids: 2,
        }
    }

    #[test]
    fn poll_interval_is_a_power_of_two_near_the_square_root() {
        assert_eq!(dirty_poll_interval(12_000, 16_384), 1 << (12 >> 1));
        assert_eq!(dirty_poll_interval(16_384, 16_384), 1);
        assert_eq!(dirty_poll_interval(0, 16_384), 128);
    }

    #[test]
    fn max_pause_and_min_pause() {
        // 12800 pages/s: 1 + 12800 / 32 = 401 pages per jiffy of pause.
        assert_eq!(wb_max_pause(12_800, 4010), 11);
        assert_eq!(wb_max_pause(12_800, 1_000_000), MAX_PAUSE);
        // One writer at the bandwidth: t = 2 jiffies, pages = rate × 2 / 256.
        assert_eq!(wb_min_pause(12_800, 12_800, 50, 12_800, 12_800), (2, 100));
        // Four writers (ratelimit a quarter of the bandwidth): t = 2 + 2 × 2500 / 1024 = 6.
        assert_eq!(wb_min_pause(12_800, 3200, 50, 3200, 3200), (4, 75));
        // Slow device: pages below 32 → pause max_pause for up to 32 pages.
        assert_eq!(wb_min_pause(100, 100, 50, 100, 100), (50, 19));
        assert_eq!(wb_min_pause(400, 400, 50, 400, 400), (HZ as i64 * 32 / 400 / 2 + 1, 32));
        // task_ratelimit far below: pages cut to what max_pause allows.
        assert_eq!(wb_min_pause(12_800, 12_800, 10, 500, 12_800), (10, 19));
    }

    #[test]
    fn freerun_sets_the_poll_interval_and_traces_only_global_dirty_state() {
        let mut dom = WbDomain { dirty_limit: 16_384, ..Default::default() };
        let (mut bdi, mut wb, mut task) = (BackingDevInfo::default(), BdiWriteback::new(1000), TaskDirty::default());
        let c = DirtyCounters { nr_file_dirty: 9000, nr_writeback: 100, ..Default::default() };
        let p = balance_dirty_pages(&mut dom, &mut bdi, &mut wb, &mut task, &c, &args(2000, 64));
        assert_eq!(p.action, BdpAction::FreeRun);
        assert!(p.start_background_writeback, "over bg_thresh 8192 with no writeback running");
        assert_eq!((p.global_dirty_state.dirty_thresh, p.global_dirty_state.background_thresh), (16_384, 8192));
        assert_eq!(task, TaskDirty { nr_dirtied: 0, nr_dirtied_pause: 1 << (12 >> 1), dirty_paused_when: 2000 });
        assert!(p.balance_dirty_pages.is_none() && p.bdi_dirty_ratelimit.is_none());
    }

    #[test]
    fn throttled_pass_of_a_new_bdi() {
        // A new wb (INIT_BW everywhere, no completions: wb_thresh is the (thresh - dirty) / 8 bump).
        let mut dom = WbDomain { dirty_limit: 16_384, ..Default::default() };
        let (mut bdi, mut wb) = (BackingDevInfo::default(), BdiWriteback::new(1000));
        let mut task = TaskDirty { nr_dirtied: 256, nr_dirtied_pause: 64, dirty_paused_when: 1999 };
        let c = DirtyCounters {
            nr_file_dirty: 13_000,
            nr_writeback: 300,
            wb_reclaimable: 13_000,
            wb_writeback: 300,
            wb_dirtied: 13_300,
            writeback_in_progress: true,
            wb_has_dirty_io: true,
            ..Default::default()
        };
        let p = balance_dirty_pages(&mut dom, &mut bdi, &mut wb, &mut task, &c, &args(2000, 256));
        let g = p.gdtc;
        assert_eq!((g.thresh, g.bg_thresh, g.dirty, g.limit), (16_384, 8192, 13_300, 16_384));
        assert_eq!(g.wb_thresh, (16_384 - 13_300) / 8);
        assert!(g.dirty_exceeded == (g.wb_dirty > g.wb_thresh && g.dirty > g.thresh));
        // wb_dirty far above the tiny wb line: pos_ratio = polynom / 4.
        assert_eq!(g.pos_ratio, pos_ratio_polynom(14_336, 13_300, 16_384) as u64 / 4);
        let ev = p.bdi_dirty_ratelimit.expect("1000 jiffies since the stamp: the ratelimit is updated");
        assert_eq!(ev.avg_write_bw, kbps(INIT_BW));
        let tr = p.balance_dirty_pages.expect("throttled passes are traced");
        let task_rl = (wb.bw.dirty_ratelimit * g.pos_ratio) >> 10;
        assert_eq!(tr.task_ratelimit, kbps(task_rl));
        assert_eq!(tr.period, HZ * 256 / task_rl * 1000 / HZ);
        assert_eq!(tr.think, 1000 / HZ as i64);
        assert_eq!(tr.pause, (HZ * 256 / task_rl - 1) as i64 * 1000 / HZ as i64, "period less the 1-jiffy think time");
        assert_eq!(tr.wb_setpoint, tr.setpoint * g.wb_thresh / (16_384 + 1));
        match p.action {
            BdpAction::Sleep { pause, again } => {
                assert!(!again);
                assert_eq!(task.dirty_paused_when, 2000 + pause);
                assert_eq!(task.nr_dirtied, 0);
            }
            other => panic!("expected a sleep, got {other:?}"),
        }
    }

    #[test]
    fn ratelimited_checks_per_task_and_per_cpu() {
        let mut rl = BdpRatelimits::new(2, 100);
        let mut t = TaskDirty::default();
        account_page_dirtied(&mut t, &mut rl, 0, 31);
        assert!(!bdp_ratelimited(&mut t, &mut rl, 0, false));
        account_page_dirtied(&mut t, &mut rl, 0, 1);
        assert!(bdp_ratelimited(&mut t, &mut rl, 0, false));
        assert_eq!(rl.bdp_ratelimits[0], 0);
        // dirty_exceeded: every 8 pages.
        let mut t = TaskDirty { nr_dirtied: 8, ..Default::default() };
        assert!(bdp_ratelimited(&mut t, &mut rl, 0, true));
        // The CPU's count reaching ratelimit_pages forces a check.
        let mut t = TaskDirty { nr_dirtied: 1, ..Default::default() };
        rl.bdp_ratelimits[1] = 100;
        assert!(bdp_ratelimited(&mut t, &mut rl, 1, false));
        // Leaks of exited tasks are charged to the next dirtier, up to its ratelimit.
        task_dirty_exit(&TaskDirty { nr_dirtied: 50, ..Default::default() }, &mut rl, 0);
        let mut t = TaskDirty { nr_dirtied: 2, ..Default::default() };
        assert!(bdp_ratelimited(&mut t, &mut rl, 0, false));
        assert_eq!((t.nr_dirtied, rl.dirty_throttle_leaks[0]), (32, 20));
    }
}
