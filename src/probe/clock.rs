//! The probe's clock: CLOCK_MONOTONIC (the tracefs instance's `mono` clock), and sleeps that see an interrupt.

use super::guard;

/// CLOCK_MONOTONIC in nanoseconds (the tracefs instance's `mono` clock).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps in short slices so an interrupt is seen within 50 ms.
pub fn sleep_interruptible(ns: u64) {
    let end = mono_ns().saturating_add(ns);
    loop {
        let now = mono_ns();
        if now >= end || guard::interrupted() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_nanos((end - now).min(50_000_000)));
    }
}
