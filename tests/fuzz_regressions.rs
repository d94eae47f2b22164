//! Inputs the fuzz targets (fuzz/, `.ci/fuzz-smoke.sh`) found crashing, kept as scenarios that must run. The debug
//! build (`cargo test`) checks the model's invariants at the end of each run, as the fuzz build does.

use pcsim::scenario::Scenario;
use pcsim::sim::{simulate, SimOptions};

fn run(text: &str) -> pcsim::sim::SimResult {
    let sc = Scenario::parse(text, "fuzz_regression.ron").expect("the scenario parses");
    simulate(&sc, &SimOptions { events: true, ..Default::default() }).expect("the run succeeds")
}

/// `model` target, input `Qb9TgVuiFXNefkE=`: a partial write dirties pages 0-3, POSIX_FADV_DONTNEED deactivates the
/// dirty folios with PG_reclaim (PG_readahead's bit: the model starts no writeback there, a DIVERGENCE of
/// fadvise.rs), and the first read of the file meets that bit: page_cache_async_ra with an empty window (size 0)
/// made page_cache_ra_order compute `index + size - 1` below zero. An empty window now allocates nothing.
#[test]
fn async_readahead_with_an_empty_window_allocates_nothing() {
    let r = run(r#"Scenario(name: "fuzz", machine: (memory: "1g", memcg_limit: "32m"), devices: [(name: "d")],
  files: [(name: "a", size: "2m"), (name: "b", size: "8m")],
  tasks: [(name: "t0", ops: [Open(file: "a", flags: [RDWR]), Mmap(fd: "a", map: "ma", len: "2m", write: true),
    Pwrite(fd: "a", off: "512", len: "12k"), Fadvise(fd: "a", advice: DontNeed), Pread(fd: "a", off: "1", len: "1"),
    Close(fd: "a")])])"#);
    assert_eq!(r.tasks[0].failed_ops, 0);
    // The write's three read-ins (pages 0-1 as one order-1 folio, 2, 3) are all that was added.
    let added = r.events.iter().filter(|e| e.kind.name() == "mm_filemap_add_to_page_cache").count();
    assert_eq!(added, 3);
}

/// `model` target, input `QG9TEDBOYidTffL//1wXXXTRRcjIyMjIyMjIyMgXXXQB/w==`: two 16 MiB writes through a 32 MiB
/// memory cgroup, then ftruncate to 1 MiB while writeback of the cut pages was taken by a submitter asleep in
/// blk-wbt before submitting: truncation removed those folios anyway and their writeback completion later met freed
/// (then reused) folios. Truncation now leaves a folio whose writeback is not submitted yet (a DIVERGENCE:
/// the kernel's truncation sleeps until it is written).
#[test]
fn truncation_leaves_folios_whose_writeback_is_not_submitted() {
    let r = run(r#"Scenario(name: "fuzz", machine: (memory: "256m", memcg_limit: "32m"), devices: [(name: "d")],
  files: [(name: "a", size: "2m"), (name: "b", size: "8m")],
  tasks: [(name: "t0", ops: [Open(file: "a", flags: [RDWR]), Mmap(fd: "a", map: "ma", len: "2m", write: true),
    Pwrite(fd: "a", off: "1", len: "1"), Write(fd: "a", len: "16m"), Write(fd: "a", len: "16m"),
    Ftruncate(fd: "a", len: "1m"), Fadvise(fd: "a", advice: Sequential), Madvise(map: "ma", len: "1", advice: WillNeed),
    Madvise(map: "ma", len: "1", advice: WillNeed), Generate(fd: "a", pattern: Random, block: "4k", count: 116),
    Close(fd: "a")])])"#);
    assert_eq!(r.tasks[0].failed_ops, 0);
    assert_eq!(r.tasks[0].ops, 10 + 116, "every op ran, Open to Close");
}

/// `model` target, OOM input `IW0lHR0dHR0dHR0qbWHEYcT///8dHR3YHR3...` (176 bytes, minimised to the scenario below): a
/// write fault on a folio under writeback whose PG_readahead bit (PG_reclaim's) stays set, since page_cache_async_ra
/// leaves a folio under writeback alone. Each try of filemap_fault called do_async_mmap_readahead, which dropped the
/// fault lock again: VM_FAULT_RETRY without end, the event log growing to gigabytes. The arch fault handler sets
/// FAULT_FLAG_TRIED after the per-VMA lock attempt of a major fault and after any retry under mmap_lock, so a fault
/// is tried at most three times; the model now does the same.
#[test]
fn a_fault_is_retried_at_most_three_times() {
    let r = run(r#"Scenario(name: "fuzz", machine: (memory: "64m", memcg_limit: "32m"), devices: [(name: "d")],
  files: [(name: "a", size: "2m"), (name: "b", size: "8m")],
  tasks: [(name: "t0", ops: [Open(file: "a", flags: [RDWR]), Mmap(fd: "a", map: "ma", len: "2m", write: true),
      Generate(fd: "a", pattern: Random, block: "4k", count: 29), Generate(fd: "a", pattern: Random, block: "4k", count: 42),
      Generate(fd: "a", pattern: Random, block: "4k", count: 216), Touch(map: "ma", off: "1m", len: "512", write: true)]),
    (name: "t1", ops: [Open(file: "b", flags: [RDWR])]),
    (name: "t2", ops: [Open(file: "a", flags: [RDWR]), Generate(fd: "a", pattern: Random, block: "4k", count: 29),
      Generate(fd: "a", pattern: Random, block: "4k", count: 219), Write(fd: "a", len: "4k"), Write(fd: "a", len: "1m"),
      Fsync(fd: "a")])])"#);
    let tries = r
        .events
        .iter()
        .filter(|e| &*e.task == "t0" && e.kind.name() == "mm_filemap_fault")
        .filter(|e| matches!(&e.kind, pcsim::EventKind::MmFilemapFault { index: 256, .. }))
        .count();
    assert_eq!(tries, 3, "the write fault at page 256: the VMA-lock try, the mmap_lock try, the TRIED try");
}
