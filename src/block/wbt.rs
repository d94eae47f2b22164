//! Writeback throttling (block/blk-wbt.c): how many buffered write requests may be in flight on a device.
//!
//! get_limit: the full depth when a task slept in balance_dirty_pages on the device's wb within the last second
//! (wb_recent_wait), a quarter of it for background writeback (REQ_BACKGROUND: the flusher's background and kupdate
//! passes) or within 100 ms of a read's completion (close_io), half of it otherwise (sync_file_range's WB_SYNC_NONE
//! writes). The depth is RWB_DEF_DEPTH (16) scaled by scale_step: with writes going and no read samples, each 100 ms
//! window scales it up (LAT_UNKNOWN_WRITES: 31, 61, then 3/4 of the queue depth); windows with nothing in flight
//! bring it back towards 16 every RWB_UNKNOWN_BUMP (5) windows. O_DIRECT writes (REQ_SYNC | REQ_IDLE) are not
//! throttled. On the host: a new device's first 100 ms of sync_file_range writes keep 4 requests in flight (the
//! block-bitmap reads just before make it close_io), later windows up to 14; the flusher beside a sleeping writer
//! keeps 16 in its first window, 22-23 later (traces/write).
//!
//! Simplifications, each marked DIVERGENCE at its line: read latency is never measured (no read ever scales the
//! depth down), the window is counted from the device's first write, and the ordering of waiters is not kept
//! (whoever submits next after a completion goes: fs/writepages.rs `wbt_wait`).

use crate::units::Nanos;

const RWB_DEF_DEPTH: u64 = 16;
const RWB_WINDOW_NS: u64 = 100_000_000;
const RWB_UNKNOWN_BUMP: u32 = 5;

/// One device's writeback throttling state.
#[derive(Clone, Debug, Default)]
pub struct Wbt {
    scale_step: i32,
    scaled_max: bool,
    window_start: Option<Nanos>,
    wrote_in_window: bool,
    unknown_cnt: u32,
    /// When the last read known to complete does (close_io looks 100 ms past it).
    pub last_read_done: Option<Nanos>,
}

impl Wbt {
    /// rq_depth_calc_max_depth for queue depth `qd`.
    pub fn max_depth(&self, qd: u64) -> u64 {
        let depth = RWB_DEF_DEPTH.min(qd.max(1));
        if self.scale_step > 0 {
            1 + ((depth - 1) >> self.scale_step.min(31))
        } else if self.scale_step < 0 {
            (1 + ((depth - 1) << (-self.scale_step).min(20))).min(3 * qd / 4).max(1)
        } else {
            depth
        }
    }

    /// wb_timer_fn for every 100 ms window that ended by `now`; `inflight`: writes in flight now.
    pub fn advance(&mut self, now: Nanos, inflight: bool, qd: u64) {
        // DIVERGENCE: the windows run on from the device's first write; the kernel's timer is armed by a write
        // (wbt_wait) and stops re-arming when idle at the default depth, so a later write starts a new window. And
        // only write samples exist: no read latency is measured, so no window scales the depth down (LAT_EXCEEDED).
        let Some(mut start) = self.window_start else {
            self.window_start = Some(now);
            return;
        };
        let mut n = 0;
        while now.0 >= start.0 + RWB_WINDOW_NS {
            if self.wrote_in_window || inflight {
                // LAT_UNKNOWN_WRITES: scale_up (rq_depth_scale_up stops once the depth reached its maximum).
                if !self.scaled_max {
                    self.scale_step -= 1;
                    self.scaled_max = self.max_depth(qd) >= 3 * qd / 4;
                }
                self.unknown_cnt = 0;
            } else {
                self.unknown_cnt += 1;
                if self.unknown_cnt >= RWB_UNKNOWN_BUMP {
                    self.unknown_cnt = 0;
                    if self.scale_step < 0 {
                        self.scale_step += 1;
                        self.scaled_max = false;
                    }
                }
            }
            self.wrote_in_window = false;
            start = Nanos(start.0 + RWB_WINDOW_NS);
            n += 1;
            if n > 64 {
                // A long idle spell: back to the centre.
                self.scale_step = 0;
                self.scaled_max = false;
                start = Nanos(now.0 - (now.0 - start.0) % RWB_WINDOW_NS);
            }
        }
        self.window_start = Some(start);
    }

    /// get_limit for a buffered write submitted at `now`.
    pub fn limit(&self, now: Nanos, qd: u64, background: bool, recent_wait: bool) -> u64 {
        let max = self.max_depth(qd);
        let (normal, bg) = if max <= 2 { (max, 1) } else { (max.div_ceil(2), max.div_ceil(4)) };
        let close_io = self.last_read_done.is_some_and(|t| now.0 < t.0 + RWB_WINDOW_NS);
        if recent_wait {
            max
        } else if background || close_io {
            bg
        } else {
            normal
        }
    }

    /// A write request was submitted in the current window.
    pub fn wrote(&mut self) {
        self.wrote_in_window = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_scaling_follow_blk_wbt() {
        let mut w = Wbt::default();
        let qd = 128;
        assert_eq!(w.max_depth(qd), 16);
        assert_eq!(w.limit(Nanos(0), qd, true, false), 4, "background: a quarter");
        assert_eq!(w.limit(Nanos(0), qd, false, false), 8, "otherwise half");
        assert_eq!(w.limit(Nanos(0), qd, true, true), 16, "a recent balance_dirty_pages sleep: all of it");
        w.last_read_done = Some(Nanos(50_000_000));
        assert_eq!(w.limit(Nanos(120_000_000), qd, false, false), 4, "close_io");
        assert_eq!(w.limit(Nanos(160_000_000), qd, false, false), 8);
        // Writes through three windows: 16 -> 31 -> 61 -> 96 (3/4 of the queue depth), then it stays.
        w.advance(Nanos(0), false, qd);
        for k in 1..=4 {
            w.wrote();
            w.advance(Nanos(k * RWB_WINDOW_NS), true, qd);
        }
        assert_eq!(w.max_depth(qd), 96);
        // Idle windows bring it back one step per 5 windows.
        w.advance(Nanos(10 * RWB_WINDOW_NS), false, qd);
        assert_eq!(w.max_depth(qd), 61);
    }
}
