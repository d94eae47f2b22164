//! The writeback model on its own: throttling paces a writer at the device's rate (bounds derived from the
//! dirty limit and the device speed, not from a capture).

use pcsim::bench;

#[test]
fn the_throttled_writer_is_paced_by_the_device() {
    // 256 MiB at 64 MiB/s with dirty_bytes 64 MiB: dirty + writeback pages never exceed the limit for long, so at
    // least 192 MiB must have been written back before the last page is dirtied (>= 3 s), and the writer is not
    // held much below the device's rate (<= 256 MiB / 64 MiB/s = 4 s, plus a little).
    let r = bench::run(&bench::throttled_writer(256 << 20));
    assert_eq!(r.tasks[0].bytes, 256 << 20);
    let secs = r.end.0 as f64 / 1e9;
    assert!((2.9..4.3).contains(&secs), "{secs} s simulated for 256 MiB at 64 MiB/s");
}
