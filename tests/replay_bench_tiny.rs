//! `pcsim bench replay` with tiny traces, so the replay benchmark cannot rot (the figures in docs/PERFORMANCE.md
//! are measured by hand at full size).

/// `pcsim bench replay` (docs/PERFORMANCE.md "Replay") with a tiny trace: import alone, and the whole replay
/// through the cache and to the device, each printing its counts (the figures are measured by hand, not here).
#[test]
fn replay_benchmark_runs_with_a_tiny_trace() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcsim"))
            .args(["bench", "replay"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let import = run(&["--records", "20000", "--import-only"]);
    assert!(import.starts_with("import: 20000 records (960000 bytes, 4012 calls)"), "{import}");
    // One task: its 4000 I/Os, every 1000th a preflush write (an fdatasync first), its two descriptors.
    let cache = run(&["--records", "20000", "--tasks", "1", "--device-gib", "1", "--memory-gib", "4"]);
    assert!(cache.starts_with("replay through the cache: 20000 records (4006 calls, 1 tasks)"), "{cache}");
    let device = run(&["--records", "20000", "--through", "device", "--flush-every", "0"]);
    assert!(device.starts_with("replay through the device: 20000 records (4004 calls, 4 tasks)"), "{device}");
}
