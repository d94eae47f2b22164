//! The replay's timing: the think time between one thread's calls, as recorded, becomes a `Sleep` before the call.
//!
//! ```text
//!  recorded:  |--call k-1--|......think......|--call k--|
//!             start(k-1)   end(k-1)          start(k)
//!  replayed:  |--model's call k-1--|......think......|--model's call k--|
//! ```
//!
//! - Each thread is one task, starting at its first call's recorded time (since the trace's first record).
//! - think(k) = start(k) - end(k-1), where end(k-1) = start(k-1) + its recorded duration. Formats that record no
//!   durations (fio iologs, blktrace, blkparse) have end = start, so the whole gap between two issues counts as
//!   think time and the model's own service time comes on top (a replay of a device-bound trace takes longer than
//!   the recording by the model's total service time).
//! - With `--as-fast-as-possible` there is no think time and every task starts at 0: the calls of one thread run
//!   back to back, and the threads' relative order is no longer the recording's.
//! - A `Sleep` record of the trace itself (an iolog v2 `wait`) is not replayed: the times of the records after it
//!   already include it.

use super::Record;
use crate::trace::op::Op;

/// How recorded time is replayed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Timing {
    /// Keep each thread's recorded think time between its calls (the default).
    #[default]
    Recorded,
    /// Drop it: each thread's calls run back to back, every thread from time 0.
    AsFastAsPossible,
}

impl Timing {
    /// When a thread whose first call was recorded at `first_ns` starts.
    pub fn start_ns(self, first_ns: u64) -> u64 {
        match self {
            Timing::Recorded => first_ns,
            Timing::AsFastAsPossible => 0,
        }
    }
}

/// One thread's replay clock: what it last did, as recorded.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadClock {
    /// The recorded end of the previous call (start + duration), once there is one.
    last_end: Option<u64>,
}

impl ThreadClock {
    /// The sleep to replay before `r` (0 for none), or `None` when `r` itself is not replayed (a recorded sleep).
    pub fn before(&mut self, timing: Timing, r: &Record) -> Option<u64> {
        if matches!(r.op, Op::Sleep { .. }) {
            return None;
        }
        let think = match (timing, self.last_end) {
            (Timing::Recorded, Some(end)) => r.time_ns.saturating_sub(end),
            _ => 0,
        };
        self.last_end = Some(r.time_ns.saturating_add(r.duration_ns.unwrap_or(0)));
        Some(think)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::op::Fd;

    fn rec(time_ns: u64, duration_ns: Option<u64>, op: Op) -> Record {
        Record { time_ns, process: 0, thread: 0, op, duration_ns }
    }

    #[test]
    fn think_is_the_gap_after_the_recorded_end() {
        let read = Op::Read { fd: Fd(3), len: 4096 };
        let mut c = ThreadClock::default();
        // First call: no sleep (the task starts at its time).
        assert_eq!(c.before(Timing::Recorded, &rec(1000, Some(300), read.clone())), Some(0));
        // 1000 + 300 = 1300: a call at 2000 thought for 700 ns.
        assert_eq!(c.before(Timing::Recorded, &rec(2000, Some(50), read.clone())), Some(700));
        // Without a duration the whole gap from the start counts: 2050 -> 5000.
        assert_eq!(c.before(Timing::Recorded, &rec(5000, None, read.clone())), Some(2950));
        assert_eq!(c.before(Timing::Recorded, &rec(5000, None, read.clone())), Some(0));
        // A recorded sleep is not replayed, and does not move the clock.
        assert_eq!(c.before(Timing::Recorded, &rec(5000, None, Op::Sleep { ns: 9 })), None);
        assert_eq!(c.before(Timing::Recorded, &rec(6000, None, read.clone())), Some(1000));
        // As fast as possible: never a sleep, every task from 0.
        assert_eq!(c.before(Timing::AsFastAsPossible, &rec(9000, None, read)), Some(0));
        assert_eq!(Timing::AsFastAsPossible.start_ns(123), 0);
        assert_eq!(Timing::Recorded.start_ns(123), 123);
    }
}
