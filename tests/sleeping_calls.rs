//! Calls that sleep inside (issue 12): a call that dirties more than the dirty limit finishes, paced by
//! balance_dirty_pages in its middle; two tasks interleave inside their calls; a call's latency is what its task saw.
//! Bounds come from the dirty limit and the device's speed, not from a capture.

use pcsim::{simulate, Event, EventKind, Scenario, SimOptions, SimResult};

fn run(text: &str) -> SimResult {
    let sc = Scenario::parse(text, "t.ron").unwrap();
    simulate(&sc, &SimOptions { events: true, ..Default::default() }).unwrap()
}

fn events(r: &SimResult) -> &[Event] {
    &r.events
}

/// The balance_dirty_pages pauses of `task` (ms > 0) with their times.
fn pauses(r: &SimResult, task: &str) -> Vec<(u64, i64)> {
    events(r)
        .iter()
        .filter(|e| &*e.task == task)
        .filter_map(|e| match e.kind {
            EventKind::BalanceDirtyPages { pause, .. } if pause > 0 => Some((e.time.0, pause)),
            _ => None,
        })
        .collect()
}

/// Times of `task`'s writeback_dirty_folio events.
fn dirtied(r: &SimResult, task: &str) -> Vec<u64> {
    events(r)
        .iter()
        .filter(|e| &*e.task == task && matches!(e.kind, EventKind::WritebackDirtyFolio { .. }))
        .map(|e| e.time.0)
        .collect()
}

#[test]
fn one_write_over_the_dirty_limit_finishes_paced_in_its_middle() {
    // The issue's reproducer: one 9 MiB write(2) with dirty_bytes 8 MiB used to never return. Now it sleeps in
    // balance_dirty_pages between its chunks while the flusher writes back. On a 16 MiB/s device at least
    // 9 - 8 = 1 MiB must be written back before its last page is dirtied: the call takes >= 1/16 s.
    let r = run(r#"Scenario(
        name: "w9m",
        machine: (memory: "4g", cpus: 2),
        devices: [(name: "d", size: "1g", write_bps: "16m")],
        sysctls: { "vm.dirty_bytes": 8388608, "vm.dirty_background_bytes": 4194304 },
        files: [(name: "f", size: 0)],
        tasks: [(name: "w", ops: [Open(file: "f", flags: [WRONLY]), Write(fd: "f", len: "9m")])],
    )"#);
    let t = &r.tasks[0];
    assert_eq!(t.bytes, 9 << 20);
    let d = dirtied(&r, "w");
    let (first, last) = (d[0], *d.last().unwrap());
    let p = pauses(&r, "w");
    assert!(!p.is_empty(), "the writer never paused");
    // The pauses fall inside the one call: between its first and last dirtied folio.
    assert!(p.iter().any(|&(at, _)| at > first && at < last), "{p:?} not within [{first}, {last}]");
    assert!(last - first >= 1_000_000_000 / 16, "{} ns from first to last dirtied folio", last - first);
    // Its latency is what the task saw: at least its pauses.
    let slept: i64 = p.iter().map(|&(_, ms)| ms).sum();
    assert!(t.latency.max >= slept as u64 * 1_000_000, "latency {} ns < pauses {slept} ms", t.latency.max);
}

#[test]
fn one_touch_of_a_shared_mapping_over_the_limit_finishes() {
    // The second reproducer: one Touch(write) of 8 MiB through a shared mapping with dirty_bytes 1 MiB used to hang.
    // Each write fault dirties a folio and calls balance_dirty_pages_ratelimited, which sleeps.
    let r = run(r#"Scenario(
        name: "t8m",
        machine: (memory: "4g", cpus: 2),
        devices: [(name: "d", size: "1g", write_bps: "16m")],
        sysctls: { "vm.dirty_bytes": 1048576, "vm.dirty_background_bytes": 524288 },
        files: [(name: "f", size: "8m")],
        tasks: [(name: "w", ops: [
            Open(file: "f", flags: [RDWR]),
            Mmap(fd: "f", map: "m", write: true),
            Touch(map: "m", len: "8m", write: true),
        ])],
    )"#);
    assert_eq!(r.tasks[0].failed_ops, 0);
    let d = dirtied(&r, "w");
    let p = pauses(&r, "w");
    assert!(p.iter().any(|&(at, _)| at > d[0] && at < *d.last().unwrap()), "no pause inside the Touch: {p:?}");
    // 7 of the 8 MiB must be written back (or under writeback) before the last fault: >= 6/16 s at 16 MiB/s.
    assert!(d.last().unwrap() - d[0] >= 6 * 1_000_000_000 / 16);
}

#[test]
fn two_writers_interleave_inside_their_calls() {
    // Two tasks, one 32 MiB write(2) each, to files on one 32 MiB/s device with dirty_bytes 16 MiB: both are
    // throttled, so each sleeps in the middle of its call while the other dirties: their dirtied folios interleave.
    let r = run(r#"Scenario(
        name: "two",
        machine: (memory: "4g", cpus: 2),
        devices: [(name: "d", size: "1g", write_bps: "32m")],
        sysctls: { "vm.dirty_bytes": 16777216, "vm.dirty_background_bytes": 8388608 },
        files: [(name: "a", size: 0), (name: "b", size: 0)],
        tasks: [
            (name: "wa", ops: [Open(file: "a", flags: [WRONLY]), Write(fd: "a", len: "32m")]),
            (name: "wb", ops: [Open(file: "b", flags: [WRONLY]), Write(fd: "b", len: "32m")]),
        ],
    )"#);
    let (a, b) = (dirtied(&r, "wa"), dirtied(&r, "wb"));
    assert_eq!((r.tasks[0].bytes, r.tasks[1].bytes), (32 << 20, 32 << 20));
    // Some of b's folios were dirtied while a's one call was in progress, and the other way round.
    let inside = |x: &[u64], y: &[u64]| y.iter().filter(|&&t| t > x[0] && t < *x.last().unwrap()).count();
    assert!(inside(&a, &b) > 0 && inside(&b, &a) > 0, "no interleaving: a {:?}..{:?}", a.first(), a.last());
}
