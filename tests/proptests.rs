//! Property tests: the event log round-trips any event; the parsers (event log, ftrace text, residency, scenarios)
//! never panic on damaged input, they return errors.

use std::sync::Arc;

use pcsim::trace::event::{Event, EventKind, FieldError, Value};
use pcsim::trace::log::{read_log, write_log, Log};
use pcsim::units::Nanos;
use proptest::prelude::*;

/// Each tracepoint's field names and kinds, discovered through `from_fields`' own errors.
fn templates() -> Vec<(&'static str, Vec<(&'static str, Value)>)> {
    EventKind::NAMES
        .iter()
        .map(|&name| {
            let mut pairs: Vec<(&str, &str)> = Vec::new();
            loop {
                match EventKind::from_fields(name, &pairs) {
                    Ok(k) => return (name, k.fields()),
                    Err(FieldError::Missing { field, .. }) => pairs.push((field, "1")),
                    Err(e) => panic!("{name}: {e}"),
                }
            }
        })
        .collect()
}

fn value_text(template: &Value, u: u64, i: i64, s: &str) -> String {
    match template {
        Value::U(_) => u.to_string(),
        Value::I(_) => i.to_string(),
        Value::S(_) => s.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_event_round_trips(
        which in 0usize..64,
        time in any::<u64>(),
        us in proptest::collection::vec(any::<u64>(), 16),
        is in proptest::collection::vec(any::<i64>(), 16),
        names in proptest::collection::vec("[A-Za-z0-9_:./-]{1,12}", 16),
        task in "[A-Za-z0-9_./-]{1,15}",
    ) {
        let t = templates();
        let (name, fields) = &t[which % t.len()];
        let texts: Vec<String> =
            fields.iter().enumerate().map(|(k, (_, v))| value_text(v, us[k], is[k], &names[k])).collect();
        let pairs: Vec<(&str, &str)> = fields.iter().zip(&texts).map(|((f, _), v)| (*f, v.as_str())).collect();
        let kind = EventKind::from_fields(name, &pairs).unwrap();
        let log = Log { header: Default::default(), events: vec![Event { time: Nanos(time), task: Arc::from(task.as_str()), kind }] };
        let text = write_log(&log);
        let back = read_log(&text[..]).unwrap();
        prop_assert_eq!(back, log);
    }

    #[test]
    fn event_log_reader_never_panics(lines in proptest::collection::vec(".{0,80}", 0..8)) {
        let text = format!("# pcsim event log v1\n{}\n", lines.join("\n"));
        let _ = read_log(text.as_bytes());
    }

    #[test]
    fn ftrace_parser_never_panics(line in ".{0,160}", cut in 0usize..200) {
        let mut n = pcsim::probe::ftrace::Normaliser::new(0);
        n.add_device(7, 0, "disk0");
        n.add_inode(12, "data");
        if let Some(raw) = pcsim::probe::ftrace::split_line(&line) {
            let _ = n.event(&raw);
        }
        // Real lines cut short or with garbage appended.
        let real = "dd-5942 [001] ..... 6289.210044: mm_filemap_add_to_page_cache: dev 7:0 ino c pfn=0x1 ofs=16384 order=2";
        let cut_line = &real[..cut.min(real.len())];
        if let Some(raw) = pcsim::probe::ftrace::split_line(cut_line) {
            let _ = n.event(&raw);
        }
        let messy = format!("{real}{line}");
        if let Some(raw) = pcsim::probe::ftrace::split_line(&messy) {
            let _ = n.event(&raw);
        }
    }

    #[test]
    fn residency_parser_never_panics(text in ".{0,120}") {
        let _ = pcsim::trace::residency::parse(&text);
        let _ = pcsim::trace::residency::parse(&format!("data 10 5 0 0 0 0 {text}"));
    }

    #[test]
    fn scenario_parser_never_panics_on_damage(at in 0usize..4000, len in 0usize..20, junk in ".{0,12}") {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.ron")).unwrap();
        let at = at.min(text.len());
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap();
        let end = (at + len).min(text.len());
        let end = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap();
        let damaged = format!("{}{}{}", &text[..at], junk, &text[end..]);
        if let Ok(sc) = pcsim::scenario::Scenario::parse(&damaged, "damaged.ron") {
            // Still a scenario: its op streams must be walkable.
            for t in 0..sc.tasks.len() {
                let _ = sc.ops(t).take(1000).count();
            }
        }
    }
}

/// A random read-side op in scenario syntax, for a file of `pages` pages.
fn op_text(kind: u8, a: u64, b: u64, pages: u64, size: u64) -> String {
    let off = (a % (pages + 8)) * 4096;
    let len = 1 + b % (64 * 4096);
    match kind % 8 {
        0 => format!("Read(fd: \"f\", len: {len})"),
        1 => format!("Pread(fd: \"f\", off: {off}, len: {len})"),
        2 => format!("Fadvise(fd: \"f\", off: {off}, len: {}, advice: WillNeed)", len * 4),
        3 => format!("Fadvise(fd: \"f\", off: {off}, len: {len}, advice: DontNeed)"),
        4 => format!("Readahead(fd: \"f\", off: {off}, len: {len})"),
        5 => format!("Touch(map: \"m\", off: {}, len: 1)", off.min(size - 1) & !4095),
        6 => "Fadvise(fd: \"f\", off: 0, len: 0, advice: Random)".to_string(),
        _ => "Fadvise(fd: \"f\", off: 0, len: 0, advice: Normal)".to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Model invariants over random op sequences: the page cache never holds a page past the end of the file,
    /// its accounting adds up, readahead windows stay within the limits, the machine's free pages stay above the
    /// min watermark (a small machine puts it under pressure), and the result is deterministic.
    #[test]
    fn read_side_invariants(
        pages in 1u64..6000,
        ra_kb in prop::sample::select(vec![0u32, 16, 128, 512, 2048]),
        memcg in prop::sample::select(vec!["", ", memcg_limit: \"16m\""]),
        machine in prop::sample::select(vec!["memory: \"4g\"", "memory: \"64m\", used: \"52m\""]),
        ops in proptest::collection::vec((any::<u8>(), any::<u64>(), any::<u64>()), 1..60),
    ) {
        let size = pages * 4096 - (ops.len() as u64 % 4096);
        let body: Vec<String> = ops.iter().map(|&(k, a, b)| op_text(k, a, b, pages, size)).collect();
        let text = format!(
            "Scenario(name: \"p\", machine: ({machine}{memcg}), devices: [(name: \"d\", read_ahead_kb: {ra_kb})],
              files: [(name: \"f\", size: {size})],
              tasks: [(name: \"t\", ops: [Open(file: \"f\"), Mmap(fd: \"f\", map: \"m\"), {}])])",
            body.join(", ")
        );
        let sc = pcsim::scenario::Scenario::parse(&text, "prop.ron").unwrap();
        let opts = pcsim::sim::SimOptions { events: true, ..Default::default() };
        let r = pcsim::sim::simulate(&sc, &opts).unwrap();
        let file_pages = size.div_ceil(4096);
        let f = &r.files[0];
        let resident: u64 = f.ranges.iter().map(|(a, b)| b - a + 1).sum();
        prop_assert_eq!(resident, f.nr_cache, "nrpages equals the pages of the folios");
        prop_assert_eq!(r.vm.nr_added - r.vm.nr_deleted, f.nr_cache, "added - deleted = cached");
        prop_assert!(f.ranges.last().is_none_or(|&(_, b)| b < file_pages), "no page past EOF: {:?}", f.ranges.last());
        // The machine's memory: free pages never below the min watermark unless reclaim could not make room (the
        // kernel would OOM-kill; counted), and the cache never beyond the managed pages less `used`.
        let z = &r.zone;
        prop_assert!(z.overcommitted > 0 || z.free_lowest >= z.min, "free {} below min {}", z.free_lowest, z.min);
        prop_assert!(z.overcommitted > 0 || z.peak_cached + z.managed - z.free_start <= z.managed);
        let max_window = (ra_kb as u64 / 4).max(1280 / 4) * 2; // FADV_SEQUENTIAL doubles, io_pages may raise it
        for e in &r.events {
            if let EventKind::PageCacheRaOrder { size, order, .. } = &e.kind {
                prop_assert!(*size <= max_window.max(1024), "window {size} over the limits");
                prop_assert!(*order <= 11);
            }
            if let EventKind::MmFilemapAddToPageCache { index, order, .. } = &e.kind {
                prop_assert_eq!(index % (1 << order), 0, "folios are aligned to their size");
                prop_assert!(*order <= 9);
            }
        }
        let again = pcsim::sim::simulate(&sc, &opts).unwrap();
        prop_assert_eq!(again.events, r.events, "same scenario, same events");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Buffered and O_DIRECT writes mixed with reads, DONTNEED, fsync, sync_file_range and sleeps (the flusher's
    /// periodic pass), ending with sync(2): i_size ends at the furthest write, every page dirtied was written back
    /// exactly once per dirtying (NR_DIRTIED = NR_WRITTEN), nothing is left dirty or under writeback, partially
    /// written folios are not reported resident, and the run is deterministic.
    #[test]
    fn write_side_invariants(
        pages in 0u64..600,
        dev_mb in prop::sample::select(vec![256u64, 1024]),
        ops in proptest::collection::vec((any::<u8>(), any::<u64>(), any::<u64>()), 1..50),
    ) {
        let size = pages * 4096;
        let mut furthest = size;
        let body: Vec<String> = ops
            .iter()
            .map(|&(k, a, b)| {
                let off = a % ((pages + 64) * 4096);
                let len = 1 + b % (300 * 1024);
                match k % 8 {
                    0..=2 => {
                        furthest = furthest.max(off + len);
                        format!("Pwrite(fd: \"f\", off: {off}, len: {len})")
                    }
                    3 => {
                        let (off, len) = (off & !511, (len + 511) & !511);
                        furthest = furthest.max(off + len);
                        format!("Pwrite(fd: \"d\", off: {off}, len: {len})")
                    }
                    4 => format!("Pread(fd: \"f\", off: {off}, len: {len})"),
                    5 => format!("Fadvise(fd: \"f\", off: {}, len: {len}, advice: DontNeed)", off & !4095),
                    6 => if b % 2 == 0 {
                        "Fsync(fd: \"f\")".to_string()
                    } else {
                        format!("SyncFileRange(fd: \"f\", off: {off}, len: {len}, flags: [WAIT_BEFORE, WRITE])")
                    },
                    _ => format!("Sleep(\"{}s\")", b % 8),
                }
            })
            .collect();
        let text = format!(
            "Scenario(name: \"w\", machine: (memory: \"4g\"), devices: [(name: \"dev\", size: \"{dev_mb}m\")],
              files: [(name: \"f\", size: {size})],
              tasks: [(name: \"t\", ops: [Open(file: \"f\", flags: [RDWR]), Open(file: \"f\", fd: \"d\", flags: [RDWR, DIRECT]),
                                          {}, Sync])])",
            body.join(", ")
        );
        let sc = pcsim::scenario::Scenario::parse(&text, "prop.ron").unwrap();
        let opts = pcsim::sim::SimOptions { events: true, ..Default::default() };
        let r = pcsim::sim::simulate(&sc, &opts).unwrap();
        let f = &r.files[0];
        prop_assert_eq!(f.size_pages, furthest.div_ceil(4096), "i_size ends at the furthest write");
        prop_assert_eq!((r.vm.nr_dirty, f.nr_dirty, r.vm.nr_writeback), (0, 0, 0), "sync leaves nothing dirty");
        prop_assert_eq!(r.vm.nr_written, r.vm.nr_dirtied, "every dirtying written back once");
        let resident: u64 = f.ranges.iter().map(|(a, b)| b - a + 1).sum();
        prop_assert!(resident <= f.nr_cache, "resident {} > cached {}", resident, f.nr_cache);
        let again = pcsim::sim::simulate(&sc, &opts).unwrap();
        prop_assert_eq!(again.events, r.events, "same scenario, same events");
    }
}

/// A random op of the truncation tests, in scenario syntax, for a file of about `pages` pages (offsets and lengths in
/// whole KiB: the scratch ext4 has 1 KiB blocks); updates `size` as the kernel's i_size would change.
fn truncation_op_text(kind: u8, a: u64, b: u64, pages: u64, map_len: u64, size: &mut u64, writes: bool) -> String {
    let off = (a % (pages * 4 + 64)) * 1024;
    let len = (1 + b % 1024) * 1024;
    if writes && kind % 3 == 0 {
        *size = (*size).max(off + len);
        return format!("Pwrite(fd: \"f\", off: {off}, len: {len})");
    }
    if writes && kind % 5 == 1 {
        // Writeback started and not waited for: truncation and invalidation meet folios under writeback.
        return "SyncFileRange(fd: \"f\", flags: [WRITE])".to_string();
    }
    match kind % 9 {
        0 => format!("Pread(fd: \"f\", off: {off}, len: {})", len * 16),
        1 => format!("Touch(map: \"m\", off: {}, len: 1)", off.min(map_len - 1) & !4095),
        2 => {
            *size = off;
            format!("Ftruncate(fd: \"f\", len: {off})")
        }
        3 => format!("Fallocate(fd: \"f\", mode: PunchHole, off: {off}, len: {len})"),
        4 => {
            *size = (*size).max(off + len);
            format!("Fallocate(fd: \"f\", mode: ZeroRange, off: {off}, len: {len})")
        }
        5 => {
            *size = (*size).max(off + len);
            format!("Fallocate(fd: \"f\", mode: Allocate, off: {off}, len: {len})")
        }
        6 => format!("Fadvise(fd: \"f\", off: {off}, len: {len}, advice: DontNeed)"),
        7 => format!("Cachestat(fd: \"f\", off: {off}, len: {len})"),
        8 if a % 16 == 0 => {
            *size = 0;
            "Open(file: \"f\", fd: \"t\", flags: [WRONLY, TRUNC]), Close(fd: \"t\")".to_string()
        }
        _ => format!("Read(fd: \"f\", len: {})", len * 8),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Truncation, hole punching and invalidation over random op sequences, with and without a memory cgroup and
    /// buffered writes: the accounting adds up (the model checks its LRU and page-count invariants itself in debug
    /// builds), no page stays cached past the end of the file (except in a dirty large folio, which cannot be split),
    /// the dirty count is the dirty pages', and cachestat of the whole file agrees with the final state.
    #[test]
    fn truncation_invariants(
        pages in 1u64..4096,
        memcg in prop::sample::select(vec!["", ", memcg_limit: \"16m\""]),
        writes in any::<bool>(),
        ops in proptest::collection::vec((any::<u8>(), any::<u64>(), any::<u64>()), 1..40),
    ) {
        let mut size = pages * 4096 - 1024 * (ops.len() as u64 % 4);
        let map_len = size;
        let body: Vec<String> =
            ops.iter().map(|&(k, a, b)| truncation_op_text(k, a, b, pages, map_len, &mut size, writes)).collect();
        let text = format!(
            "Scenario(name: \"p\", machine: (memory: \"4g\"{memcg}), devices: [(name: \"d\")],
              files: [(name: \"f\", size: {map_len})],
              tasks: [(name: \"t\", ops: [Open(file: \"f\", flags: [RDWR]), Mmap(fd: \"f\", map: \"m\"), {},
                Cachestat(fd: \"f\")])])",
            body.join(", ")
        );
        let sc = pcsim::scenario::Scenario::parse(&text, "prop.ron").unwrap();
        let r = match pcsim::sim::simulate(&sc, &pcsim::sim::SimOptions::default()) {
            Ok(r) => r,
            // Writes filling a memory cgroup: reclaim meets dirty folios, which the model refuses with this error
            // (it does not write back under memory pressure); nothing to check then.
            Err(pcsim::sim::SimError::Unsupported { op, .. }) if op.starts_with("reclaim of dirty folios") => {
                prop_assert!(writes && !memcg.is_empty());
                return Ok(());
            }
            Err(e) => panic!("{e}"),
        };
        let f = &r.files[0];
        let resident: u64 = f.ranges.iter().map(|(a, b)| b - a + 1).sum();
        prop_assert!(resident <= f.nr_cache, "partly written folios are not resident, nothing else is missing");
        prop_assert!(writes || resident == f.nr_cache, "nrpages equals the pages of the folios");
        prop_assert_eq!(r.vm.nr_added - r.vm.nr_deleted, f.nr_cache, "added - deleted = cached");
        prop_assert!(writes || f.ranges.last().is_none_or(|&(_, b)| b < size.div_ceil(4096)), "past EOF: {:?}", f.ranges.last());
        prop_assert_eq!(r.vm.nr_dirty, f.nr_dirty, "NR_FILE_DIRTY equals the dirty pages");
        let last = r.cachestat.last().unwrap();
        prop_assert_eq!(last.counts[0], f.nr_cache, "cachestat of the whole file counts every cached page");
        prop_assert_eq!(last.counts[1], f.nr_dirty, "and every dirty one");
        prop_assert!(memcg.is_empty() || last.counts[4] <= last.counts[3], "recently evicted <= evicted");
    }
}
