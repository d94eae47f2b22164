//! pcsim as a library in one's own tests: pin what the page cache does for a workload with an insta snapshot, no
//! root and no real device needed. `cargo test --example snapshot_tests` runs the tests (so does `cargo test`);
//! `cargo run --example snapshot_tests` prints the snapshots. docs/SNAPSHOTS.md walks through the same in a crate
//! of one's own.

/// A reader streaming a 16 MiB file in 64 KiB reads, with the device's default 128 KiB readahead.
const READER: &str = r#"Scenario(
    name: "reader_64k",
    machine: (memory: "1g"),
    devices: [(name: "disk0", read_ahead_kb: 128)],
    files: [(name: "data", size: "16m")],
    tasks: [(name: "reader", ops: [
        Open(file: "data"),
        Generate(fd: "data", pattern: Sequential, block: "64k", count: 256),
        Close(fd: "data"),
    ])],
)"#;

/// A writer dirtying 64 MiB under vm.dirty_bytes = 16 MiB (background writeback from 8 MiB), then sleeping 2 s
/// while the flusher writes back.
const WRITER: &str = r#"Scenario(
    name: "writer_64m",
    machine: (memory: "4g"),
    devices: [(name: "disk0", write_bw: "200m")],
    sysctls: {"vm.dirty_bytes": 16777216, "vm.dirty_background_bytes": 8388608},
    files: [(name: "out", size: "0")],
    tasks: [(name: "writer", ops: [
        Open(file: "out", flags: [RDWR]),
        Repeat(count: 512, ops: [Write(fd: "out", len: "128k")]),
        Sleep("2s"),
        Close(fd: "out"),
    ])],
)"#;

/// Simulates a scenario given as text, with events.
fn simulate(text: &str, origin: &str) -> pcsim::SimResult {
    let scenario = pcsim::Scenario::parse(text, origin).unwrap_or_else(|e| panic!("{e}"));
    pcsim::simulate(&scenario, &pcsim::SimOptions { events: true, ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}"))
}

fn main() {
    print!("{}", simulate(READER, "reader_64k").snapshot());
    print!("{}", simulate(WRITER, "writer_64m").snapshot());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What readahead does for this reader: every readahead decision, in order, without times.
    #[test]
    fn readahead_windows_of_a_64k_reader() {
        let run = simulate(READER, "reader_64k");
        insta::assert_snapshot!(run.event_lines(|e| e.kind.name().starts_with("page_cache_")));
    }

    /// How the writer is throttled and how many pages it leaves dirty at each step of the run, as one snapshot.
    #[test]
    fn a_writer_under_dirty_bytes() {
        let run = simulate(WRITER, "writer_64m");
        // Plain assertions sit well beside snapshots. 64 MiB were dirtied; after the 2 s sleep the flusher's
        // background writeback has stopped at the background threshold (8 MiB = 2048 pages): what is left waits for
        // the 30 s expiry (vm.dirty_expire_centisecs).
        assert_eq!(run.vm.nr_dirtied, 16384);
        assert!(run.files[0].nr_dirty <= 2048, "{} pages left dirty", run.files[0].nr_dirty);
        insta::assert_snapshot!(run.snapshot());
    }
}
