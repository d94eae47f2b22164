//! blk-throttle (block/blk-throttle.c), the write bandwidth limit of one throttle group (a cgroup v1
//! `blkio.throttle.write_bps_device` rule): bios wait in the group's queue, first in first out, until the bytes
//! dispatched in the current slice fit what the limit allows, and are released by the group's pending timer on a
//! jiffy tick. The allowance is counted in whole slices (`throtl_slice`: HZ/10 on a rotational queue, which the loop
//! devices here are, HZ/50 otherwise), so a queue of large bios is released in bursts: with 64 MiB/s and the
//! flusher's 8 MiB bios, one bio every ~124 ms (the host's slow_device_1g captures: write completions in bursts of
//! 4-11 requests, 60-130 ms apart), where a smooth limit would release a 1.25 MiB request every 19.5 ms.
//!
//! Bios are charged whole (the block layer splits them into requests after the throttle and does not charge the
//! pieces again: BIO_BPS_THROTTLED).
//!
//! Simplifications, each marked DIVERGENCE at its line: no iops limit, no read limit; the pending timer's dispatch
//! round limits (THROTL_GRP_QUANTUM) never bind with one writer.

use crate::mm::page_writeback::{jiffies_at, jiffy_start, HZ};
use crate::units::Nanos;

/// One throttle group's write state (struct throtl_grp, the WRITE half).
#[derive(Clone, Copy, Debug)]
pub struct Throttle {
    /// The limit, bytes per second.
    pub bps: u64,
    /// throtl_slice, jiffies.
    pub slice: u64,
    slice_start: u64,
    slice_end: u64,
    bytes_disp: u64,
    /// When the last queued bio is released (jiffies): later bios wait behind it.
    queue_until: Option<u64>,
}

impl Throttle {
    /// A group limited to `bps` bytes/s on a rotational (`rotational`) queue.
    pub fn new(bps: u64, rotational: bool) -> Self {
        let slice = if rotational { HZ / 10 } else { HZ / 50 };
        Throttle { bps: bps.max(1), slice, slice_start: 0, slice_end: 0, bytes_disp: 0, queue_until: None }
    }

    /// throtl_slice_used: jiffies `now` is outside [slice_start, slice_end].
    fn slice_used(&self, now: u64) -> bool {
        now.wrapping_sub(self.slice_start) > self.slice_end.wrapping_sub(self.slice_start)
    }

    /// tg_within_bps_limit: 0 when a bio of `bytes` fits the allowance at jiffies `now`, else the jiffies to wait.
    fn bps_wait(&self, now: u64, bytes: u64) -> u64 {
        // DIVERGENCE: the bps limit only: no iops limit (tg_within_iops_limit) and no read limit.
        let elapsed = now.wrapping_sub(self.slice_start);
        // "Slice has just started. Consider one slice interval"; otherwise round up to whole slices.
        let elapsed_rnd = if elapsed == 0 { self.slice } else { elapsed.div_ceil(self.slice) * self.slice };
        let allowed = (self.bps as u128 * elapsed_rnd as u128 / HZ as u128) as u64;
        if self.bytes_disp + bytes <= allowed {
            return 0;
        }
        let extra = self.bytes_disp + bytes - allowed;
        let wait = ((extra as u128 * HZ as u128 / self.bps as u128) as u64).max(1);
        // "This wait time is without taking into consideration the rounding up we did. Add that time also."
        wait + (elapsed_rnd - elapsed)
    }

    /// tg_may_dispatch at jiffies `now` for the bio at the head of the queue: starts a new slice when the last one was
    /// used up and nothing waits, else extends it; returns the jiffies to wait (0: dispatch now).
    fn may_dispatch(&mut self, now: u64, bytes: u64, queued: bool) -> u64 {
        if self.slice_used(now) && !queued {
            self.slice_start = now;
            self.slice_end = now + self.slice;
            self.bytes_disp = 0;
        } else if self.slice_end < now + self.slice {
            self.slice_end = (now + self.slice).div_ceil(self.slice) * self.slice;
        }
        let wait = self.bps_wait(now, bytes);
        if wait > 0 && self.slice_end < now + wait {
            self.slice_end = (now + wait).div_ceil(self.slice) * self.slice;
        }
        wait
    }

    /// throtl_charge_bio then throtl_trim_slice at jiffies `now`: whole slices elapsed but one are trimmed from the
    /// slice's start and their allowance from the bytes dispatched.
    fn charge(&mut self, now: u64, bytes: u64) {
        self.bytes_disp += bytes;
        if self.slice_used(now) {
            return;
        }
        self.slice_end = (now + self.slice).div_ceil(self.slice) * self.slice;
        let elapsed = now.wrapping_sub(self.slice_start) / self.slice * self.slice;
        if elapsed < 2 * self.slice {
            return;
        }
        let trim = elapsed - self.slice;
        let bytes_trim = (self.bps as u128 * trim as u128 / HZ as u128) as u64;
        self.bytes_disp = self.bytes_disp.saturating_sub(bytes_trim);
        self.slice_start += trim;
    }

    /// blk_throtl_bio for a write bio of `bytes` submitted at `now`: when it is released to the block layer (now
    /// when it fits and nothing waits before it; otherwise on the tick the group's pending timer fires).
    pub fn dispatch(&mut self, now: Nanos, bytes: u64) -> Nanos {
        // DIVERGENCE: released as soon as the allowance permits: the pending timer's per-round quota
        // (THROTL_GRP_QUANTUM bios) is not modelled; it never binds with one writer.
        let j_now = jiffies_at(now.0);
        let queued = self.queue_until.is_some_and(|q| q > j_now);
        let mut j = if queued { self.queue_until.unwrap() } else { j_now };
        // Behind other bios, or once it waits itself, the bio is queued: the slice is extended, not restarted.
        let mut in_queue = queued;
        loop {
            let wait = self.may_dispatch(j, bytes, in_queue);
            if wait == 0 {
                break;
            }
            in_queue = true;
            j += wait;
        }
        self.charge(j, bytes);
        if j == j_now {
            self.queue_until = None;
            return now;
        }
        self.queue_until = Some(j);
        jiffy_start(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::page_writeback::JIFFY_NS;

    #[test]
    fn large_bios_are_released_in_slice_sized_bursts_at_the_limit() {
        // 64 MiB/s, 8 MiB bios, HZ/10 slices (6.4 MiB each): the first bio waits for the second slice's
        // allowance, the next ones follow ~31 jiffies (124 ms) apart; over many bios the rate is the limit's.
        let mut t = Throttle::new(64 << 20, true);
        let bio = 8 << 20;
        let mut at = Vec::new();
        for _ in 0..40 {
            at.push(t.dispatch(Nanos(0), bio));
        }
        assert!(at[0].0 > 0, "the first bio does not fit a single slice");
        for w in at.windows(2) {
            let gap = w[1].0 - w[0].0;
            assert!(gap > 100_000_000 && gap < 150_000_000, "{gap}");
            assert_eq!(gap % JIFFY_NS, 0, "released on ticks");
        }
        let rate = 39.0 * bio as f64 / ((at[39].0 - at[0].0) as f64 / 1e9);
        assert!((rate / (64 << 20) as f64 - 1.0).abs() < 0.05, "{rate}");
    }

    proptest::proptest! {
        /// A backlog of bios of any sizes submitted at once: released in order, on ticks when held back, and at the
        /// limit: the bytes released by any release time fit the rate times the time since submission plus one
        /// slice (the allowance is rounded up to whole slices), and once a bio waits, the bytes released before it
        /// are at least the rate times the time less two slices and the bio itself.
        #[test]
        fn a_backlog_is_released_in_order_at_the_limit(
            bps_mib in 1u64..512,
            sizes in proptest::collection::vec(4096u64..(16 << 20), 1..200),
            start in 0u64..10_000_000_000,
        ) {
            let bps = bps_mib << 20;
            let mut t = Throttle::new(bps, true);
            let slice_ns = t.slice * JIFFY_NS;
            let (mut last, mut bytes) = (0u64, 0u64);
            for size in sizes {
                let at = t.dispatch(Nanos(start), size).0;
                proptest::prop_assert!(at >= start && at >= last);
                proptest::prop_assert!(at == start || at % JIFFY_NS == 0, "held back but released off a tick: {at}");
                let rate = |ns: u64| (bps as u128 * ns as u128 / 1_000_000_000) as u64;
                if at > start {
                    let floor = rate((at - start).saturating_sub(2 * slice_ns + JIFFY_NS));
                    proptest::prop_assert!(bytes + size >= floor, "{bytes} released before {at}, floor {floor}");
                }
                bytes += size;
                let allowed = rate(at - start + slice_ns + JIFFY_NS);
                proptest::prop_assert!(bytes <= allowed, "{bytes} released by {at}, allowance {allowed}");
                last = at;
            }
        }
    }

    #[test]
    fn a_bio_that_fits_an_idle_group_goes_at_once() {
        let mut t = Throttle::new(64 << 20, true);
        assert_eq!(t.dispatch(Nanos(5_000_000), 1 << 20), Nanos(5_000_000));
        // A second one within the same slice's allowance too.
        assert_eq!(t.dispatch(Nanos(6_000_000), 1 << 20), Nanos(6_000_000));
    }
}
