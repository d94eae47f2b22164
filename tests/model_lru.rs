//! The file LRU's promotion against the kernel: on this host (probe run of the scenario below, 2026-11-24,
//! /proc/vmstat delta) reading a cold 64 MiB file twice with 4 KiB reads activated every page (pgactivate +16384,
//! nr_active_file +16389), and one read left them inactive; an earlier check on the same host saw the same (a
//! second full read of a cold 64 MiB file: pgactivate +16403). That is folio_mark_accessed's two-touch rule: the
//! first read sets PG_referenced, the second activates.

use pcsim::scenario::Scenario;
use pcsim::sim::{simulate, SimOptions};

fn run(passes: usize) -> pcsim::sim::SimResult {
    let pass = "Lseek(fd: \"f\", off: 0), Repeat(count: 16384, ops: [Read(fd: \"f\", len: \"4k\")])";
    let text = format!(
        "Scenario(name: \"lru\", machine: (memory: \"2g\"), devices: [(name: \"d\", read_ahead_kb: 128)],
           files: [(name: \"f\", size: \"64m\")], tasks: [(name: \"t\", ops: [Open(file: \"f\"), {}])])",
        vec![pass; passes].join(", ")
    );
    simulate(&Scenario::parse(&text, "lru.ron").unwrap(), &SimOptions::default()).unwrap()
}

#[test]
fn one_read_leaves_pages_inactive_two_activate_them() {
    let once = run(1);
    assert_eq!((once.nr_inactive_file, once.nr_active_file, once.vm.pgactivate), (16384, 0, 0));
    let twice = run(2);
    assert_eq!((twice.nr_inactive_file, twice.nr_active_file, twice.vm.pgactivate), (0, 16384, 16384));
}

#[test]
fn runs_beyond_machine_memory_without_a_memcg_reclaim_the_machine() {
    // Once refused; now kswapd reclaims the machine's memory (tests/model_kswapd.rs has the details).
    let big = "Scenario(name: \"oom\", machine: (memory: \"64m\"), devices: [(name: \"d\")],
        files: [(name: \"f\", size: \"128m\")],
        tasks: [(name: \"t\", ops: [Open(file: \"f\"), Repeat(count: 32768, ops: [Read(fd: \"f\", len: \"4k\")])])])";
    let r = simulate(&Scenario::parse(big, "oom.ron").unwrap(), &SimOptions::default()).unwrap();
    assert_eq!(r.tasks[0].bytes, 128 << 20);
    assert!(r.zone.peak_cached <= r.zone.managed - r.zone.min);
    assert!(r.counters.iter().any(|&(n, v)| n == "pgsteal_kswapd" && v > 0));
}
