//! The three dirty-throttling tracepoints of include/trace/events/writeback.h (6.18), computed from the model's
//! state the way their TP_fast_assign does, and printed in their TP_printk format: the simulator's events then read
//! like the kernel's, and the vector tests compare the model with the kernel field by field.

use super::TaskDirty;
use super::WbBandwidth;
use super::{kbps, DirtyThrottleControl, HZ};

/// writeback:global_dirty_state, traced by `domain_dirty_limits` for the global domain (pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalDirtyStateTrace {
    /// NR_FILE_DIRTY.
    pub nr_dirty: u64,
    /// NR_WRITEBACK.
    pub nr_writeback: u64,
    pub background_thresh: u64,
    pub dirty_thresh: u64,
    /// global_wb_domain.dirty_limit (the lagging limit, not max(thresh, it)).
    pub dirty_limit: u64,
    /// NR_DIRTIED.
    pub nr_dirtied: u64,
    /// NR_WRITTEN.
    pub nr_written: u64,
}

impl GlobalDirtyStateTrace {
    /// TP_printk: `dirty=.. writeback=.. bg_thresh=.. thresh=.. limit=.. dirtied=.. written=..`.
    pub fn to_kernel_text(&self) -> String {
        format!(
            "dirty={} writeback={} bg_thresh={} thresh={} limit={} dirtied={} written={}",
            self.nr_dirty,
            self.nr_writeback,
            self.background_thresh,
            self.dirty_thresh,
            self.dirty_limit,
            self.nr_dirtied,
            self.nr_written
        )
    }
}

/// writeback:bdi_dirty_ratelimit, traced at the end of `wb_update_dirty_ratelimit` (rates in KB/s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdiDirtyRatelimitTrace {
    /// write_bandwidth before this update's bandwidth step.
    pub write_bw: u64,
    /// avg_write_bandwidth before this update's bandwidth step (the value the ratelimit used).
    pub avg_write_bw: u64,
    pub dirty_rate: u64,
    /// The new dirty_ratelimit.
    pub dirty_ratelimit: u64,
    /// dirty_ratelimit × pos_ratio >> 10, plus 1, with the old dirty_ratelimit.
    pub task_ratelimit: u64,
    /// The new balanced_dirty_ratelimit.
    pub balanced_dirty_ratelimit: u64,
}

impl BdiDirtyRatelimitTrace {
    /// TP_fast_assign, from the wb after the ratelimit update (pages/s in, KB/s out).
    pub fn new(wb: &WbBandwidth, dirty_rate: u64, task_ratelimit: u64) -> Self {
        BdiDirtyRatelimitTrace {
            write_bw: kbps(wb.write_bandwidth),
            avg_write_bw: kbps(wb.avg_write_bandwidth),
            dirty_rate: kbps(dirty_rate),
            dirty_ratelimit: kbps(wb.dirty_ratelimit),
            task_ratelimit: kbps(task_ratelimit),
            balanced_dirty_ratelimit: kbps(wb.balanced_dirty_ratelimit),
        }
    }

    /// TP_printk, with the bdi's name (`MAJ:MIN`) and the cgroup inode (1: the root cgroup).
    pub fn to_kernel_text(&self, bdi: &str, cgroup_ino: u64) -> String {
        format!(
            "bdi {bdi}: write_bw={} awrite_bw={} dirty_rate={} dirty_ratelimit={} task_ratelimit={} \
             balanced_dirty_ratelimit={} cgroup_ino={cgroup_ino}",
            self.write_bw,
            self.avg_write_bw,
            self.dirty_rate,
            self.dirty_ratelimit,
            self.task_ratelimit,
            self.balanced_dirty_ratelimit
        )
    }
}

/// writeback:balance_dirty_pages (6.18: takes the dtc), traced when balance_dirty_pages pauses or decides not to
/// (rates KB/s, times ms; `pause` ≤ 0 means no sleep).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalanceDirtyPagesTrace {
    /// dtc.limit: max(thresh, dom.dirty_limit).
    pub limit: u64,
    /// (limit + freerun) / 2.
    pub setpoint: u64,
    pub dirty: u64,
    /// setpoint × wb_thresh / (thresh + 1).
    pub wb_setpoint: u64,
    pub wb_dirty: u64,
    pub dirty_ratelimit: u64,
    pub task_ratelimit: u64,
    /// Pages dirtied since the last pause (the `pages_dirtied` argument; unsigned int).
    pub dirtied: u32,
    /// current->nr_dirtied_pause before this call changes it.
    pub dirtied_pause: u32,
    /// Time spent in this call so far (loops when task_ratelimit is 0).
    pub paused: u64,
    pub pause: i64,
    pub period: u64,
    /// Time since the task's last pause ended (0 if it never paused).
    pub think: i64,
}

impl BalanceDirtyPagesTrace {
    /// TP_fast_assign: `period` and `pause` in jiffies, `jiffies` the clock when the event fires, `start_time` the
    /// jiffies when balance_dirty_pages was entered, `task` before this pass updates it.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dtc: &DirtyThrottleControl,
        dirty_ratelimit: u64,
        task_ratelimit: u64,
        dirtied: u64,
        period: u64,
        pause: i64,
        start_time: u64,
        jiffies: u64,
        task: &TaskDirty,
    ) -> Self {
        let freerun = (dtc.thresh + dtc.bg_thresh) / 2;
        let setpoint = (dtc.limit + freerun) / 2;
        let think = if task.dirty_paused_when == 0 {
            0
        } else {
            (jiffies.wrapping_sub(task.dirty_paused_when) as i64).wrapping_mul(1000) / HZ as i64
        };
        BalanceDirtyPagesTrace {
            limit: dtc.limit,
            setpoint,
            dirty: dtc.dirty,
            wb_setpoint: setpoint.wrapping_mul(dtc.wb_thresh) / (dtc.thresh + 1),
            wb_dirty: dtc.wb_dirty,
            dirty_ratelimit: kbps(dirty_ratelimit),
            task_ratelimit: kbps(task_ratelimit),
            dirtied: dirtied as u32,
            dirtied_pause: task.nr_dirtied_pause as u32,
            paused: jiffies.wrapping_sub(start_time).wrapping_mul(1000) / HZ,
            pause: pause.wrapping_mul(1000) / HZ as i64,
            period: period.wrapping_mul(1000) / HZ,
            think,
        }
    }

    /// TP_printk, with the bdi's name (`MAJ:MIN`) and the cgroup inode (1: the root cgroup).
    pub fn to_kernel_text(&self, bdi: &str, cgroup_ino: u64) -> String {
        format!(
            "bdi {bdi}: limit={} setpoint={} dirty={} wb_setpoint={} wb_dirty={} dirty_ratelimit={} \
             task_ratelimit={} dirtied={} dirtied_pause={} paused={} pause={} period={} think={} cgroup_ino={cgroup_ino}",
            self.limit,
            self.setpoint,
            self.dirty,
            self.wb_setpoint,
            self.wb_dirty,
            self.dirty_ratelimit,
            self.task_ratelimit,
            self.dirtied,
            self.dirtied_pause,
            self.paused,
            self.pause,
            self.period,
            self.think
        )
    }
}
