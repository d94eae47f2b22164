//! A memory cgroup as a user's host has it (issue 17, item 4): `machine.memcg_used`, what the cgroup holds besides
//! the scenario's files, and `machine.memcg_flush`, the phase of the periodic memcg stats flush.

use std::path::PathBuf;

use pcsim::scenario::Scenario;
use pcsim::sim::{simulate, SimOptions, SimResult};

/// A bundled pressure scenario with `extra` added to its machine section.
fn run(name: &str, extra: &str) -> SimResult {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/pressure/{name}.ron"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("memcg_limit: \"64m\")", &format!("memcg_limit: \"64m\"{extra})"));
    assert!(extra.is_empty() || text.contains(extra), "the machine section of {name} changed");
    let sc = Scenario::parse(&text, name).unwrap();
    simulate(&sc, &SimOptions::default()).unwrap()
}

fn counter(r: &SimResult, name: &str) -> u64 {
    r.counters.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap()
}

#[test]
fn memcg_used_leaves_that_much_less_for_the_page_cache() {
    // seq_loop_scan streams 128 MiB through the 64 MiB cgroup: at the end the cgroup is full of the file's pages.
    // The kernel held 16192 (traces/pressure/seq_loop_scan, 3 runs): 16384 pages less the worker's 192.
    let default = run("seq_loop_scan", "");
    assert_eq!(default.files[0].nr_cache, 16384 - 192);
    // 8 MiB of anon memory in the cgroup (no swap: never reclaimed) leaves 2048 pages less.
    let anon = run("seq_loop_scan", ", memcg_used: \"8m\"");
    assert_eq!(anon.files[0].nr_cache, 16384 - 2048);
}

#[test]
fn memcg_flush_decides_whether_early_refaults_activate() {
    // reread_after_evict_nosleep refaults `a` about 50 ms after the start. A new cgroup's statistics read 0 until the
    // first periodic flush: by default (and in the kernel's 3 captures) that is after the run, so nothing is
    // activated.
    assert_eq!(counter(&run("reread_after_evict_nosleep", ""), "workingset_activate_file"), 0);
    // A flush at 10 ms comes before the hot file's second read made it active: it records 0 active pages, so the
    // refaults still do not activate.
    let early = run("reread_after_evict_nosleep", ", memcg_flush: \"10ms\"");
    assert_eq!(counter(&early, "workingset_activate_file"), 0);
    // A flush at 30 ms comes after it: most of `a`'s refaults are within the 4096 active pages and activate, as
    // after the 2.5 s pause of reread_after_evict (kernel: 3744-3808 of 4096).
    let late = run("reread_after_evict_nosleep", ", memcg_flush: \"30ms\"");
    let activated = counter(&late, "workingset_activate_file");
    assert!((3000..=4096).contains(&activated), "{activated} refaults activated");
    assert_eq!(counter(&late, "workingset_refault_file"), 4096);
}
