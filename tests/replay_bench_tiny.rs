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

/// Four tasks writing one file and fsyncing it (every 1000th I/O a preflush write) while the flusher writes it in
/// the background: an fsync's walk that slept on a folio under writeback used to write again, on waking, the folios
/// it had taken before sleeping that another writer had written meanwhile, so NR_FILE_DIRTY went below zero, the
/// background flusher never got under its threshold and the run never ended (200,000 records was the first size to
/// meet it). The debug build checks the dirty counters against the folios at the end of the run. A run that does
/// not end is killed (a hang guard, not a time limit on the figures).
#[test]
fn replay_with_concurrent_fsyncs_ends_with_the_dirty_counts_right() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pcsim"))
        .args(["bench", "replay", "--records", "200000", "--tasks", "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // At most 6000 waits of 50 ms.
    let mut polls = 0;
    while child.try_wait().unwrap().is_none() {
        polls += 1;
        if polls > 6000 {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the replay did not end in 5 minutes (a writeback livelock)");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("replay through the cache: 200000 records (40048 calls, 4 tasks)"), "{stdout}");
}
