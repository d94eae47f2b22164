//! `pcsim compare` against the kernel fixtures: runs of one scenario agree exactly on readahead and pages
//! (docs/FIXTURES.md), an altered readahead decision is caught and named, residency Jaccard, and the exit codes of
//! the binary (0 thresholds met, 1 below a threshold, 2 bad input).

use std::path::{Path, PathBuf};
use std::process::Command;

use pcsim::compare::{self, input, residency, Group};
use pcsim::trace::event::EventKind;
use pcsim::trace::log::{read_log_file, write_log, MAGIC};

fn pcsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pcsim"))
}

fn kernel() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/kernel")
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(kernel())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("run-1").is_dir() && p.join("run-2").is_dir())
        .collect();
    v.sort();
    assert!(v.len() >= 3, "kernel fixtures missing under {}", kernel().display());
    v
}

#[test]
fn runs_of_every_fixture_agree_exactly_on_readahead_and_pages() {
    for sc in scenarios() {
        let a = input::load_run(&sc.join("run-1")).unwrap();
        let b = input::load_run(&sc.join("run-2")).unwrap();
        let r = compare::compare(&a.log, &b.log);
        // (mmap with MADV_RANDOM has no readahead events at all: vacuous agreement.)
        let ra = r.group(Group::Readahead).map_or(1.0, |g| g.in_order);
        assert_eq!(ra, 1.0, "{}: {:?}", sc.display(), r.group(Group::Readahead));
        let pages = r.group(Group::Pages).unwrap_or_else(|| panic!("{}: no page-cache events", sc.display()));
        assert_eq!(pages.in_order, 1.0, "{}: {pages:?}", sc.display());
        for k in r.kinds.iter().filter(|k| matches!(k.group, Group::Readahead | Group::Pages)) {
            assert!(k.exact && k.first_disagreement.is_none(), "{}: {k:?}", sc.display());
            assert_eq!(k.sim_count, k.probe_count);
        }
        // Block requests repeat exactly except where forced readahead races the reader.
        let block = r.group(Group::Block).unwrap();
        assert!(block.multiset > 0.95, "{}: {block:?}", sc.display());
        let res = residency::compare(a.residency.as_ref().unwrap(), b.residency.as_ref().unwrap());
        assert!(!res.is_empty());
    }
}

#[test]
fn identical_runs_have_residency_jaccard_one() {
    let dir = kernel().join("random_read/run-1");
    let a = input::load_run(&dir).unwrap();
    let res = residency::compare(a.residency.as_ref().unwrap(), a.residency.as_ref().unwrap());
    assert!(res.iter().all(|f| f.jaccard == 1.0 && f.sim_nr_cache == f.probe_nr_cache), "{res:?}");
}

/// Copies run-1 of seq_read_4k into `dir` with the `nth` page_cache_async_ra event's size doubled.
fn altered_run(dir: &Path, nth: usize) -> String {
    let src = kernel().join("seq_read_4k/run-1");
    let mut log = read_log_file(&src.join("events.log.gz")).unwrap();
    let e = log
        .events
        .iter_mut()
        .filter(|e| matches!(e.kind, EventKind::PageCacheAsyncRa { .. }))
        .nth(nth)
        .expect("enough async readahead events");
    if let EventKind::PageCacheAsyncRa { size, .. } = &mut e.kind {
        *size *= 2;
    }
    let altered = e.to_string();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("events.log"), write_log(&log)).unwrap();
    std::fs::copy(src.join("residency.txt"), dir.join("residency.txt")).unwrap();
    altered
}

#[test]
fn an_altered_readahead_decision_is_caught_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let altered = altered_run(&sim, 9);
    let a = input::load_run(&sim).unwrap();
    let b = input::load_run(&kernel().join("seq_read_4k/run-2")).unwrap();
    let r = compare::compare(&a.log, &b.log);
    let ra = r.group(Group::Readahead).unwrap();
    assert!(ra.in_order < 1.0 && ra.in_order > 0.99, "{ra:?}");
    let k = r.kind("page_cache_async_ra").unwrap();
    assert_eq!((k.sim_count - k.matched_in_order, k.sim_count), (1, 517));
    let d = k.first_disagreement.as_ref().unwrap();
    assert_eq!((d.scope.as_str(), d.position), ("data", 10));
    assert_eq!(d.sim.as_ref().unwrap().line, altered);
    assert!(d.probe.as_ref().unwrap().line.contains("page_cache_async_ra"));
    // Other kinds are untouched.
    assert_eq!(r.kind("page_cache_ra_order").unwrap().in_order, 1.0);
    assert_eq!(r.group(Group::Pages).unwrap().in_order, 1.0);

    // The binary prints it, and a threshold of 100% fails with exit 1 naming the group.
    let out = pcsim()
        .args(["compare", sim.to_str().unwrap(), kernel().join("seq_read_4k").to_str().unwrap()])
        .args(["--min-readahead", "100", "--min-pages", "100"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains(&altered), "{stdout}");
    assert!(stdout.contains("minimum over 3 runs"), "{stdout}");
    assert!(stdout.contains("threshold readahead (in_order) >= 100.00%") && stdout.contains("BELOW"), "{stdout}");
    assert!(stdout.contains("threshold pages (in_order) >= 100.00%: 100.00%"), "{stdout}");
    assert!(stderr.contains("below threshold: readahead") && !stderr.contains("pages"), "{stderr}");
    // A lower threshold passes.
    let out = pcsim()
        .args(["compare", sim.to_str().unwrap(), kernel().join("seq_read_4k/run-1").to_str().unwrap()])
        .args(["--min-readahead", "99"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn exit_codes_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let run1 = kernel().join("small_file/run-1");
    let all = kernel().join("small_file");
    let ok = pcsim()
        .args(["compare", run1.to_str().unwrap(), all.to_str().unwrap(), "--json", "-"])
        .args(["--min-readahead", "100", "--min-pages", "100", "--min-block", "90", "--min-residency", "1"])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("--json - writes only JSON to stdout");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["runs"].as_array().unwrap().len(), 3);
    assert_eq!(v["passed"], true);
    assert_eq!(v["checks"].as_array().unwrap().len(), 4);
    assert!(v["runs"][0]["events"]["kinds"].as_array().unwrap().iter().any(|k| k["kind"] == "page_cache_sync_ra"));

    // No thresholds: always 0, table on stdout, JSON to a file.
    let json = tmp.path().join("c.json");
    let out = pcsim()
        .args(["compare", run1.join("events.log.gz").to_str().unwrap(), run1.to_str().unwrap()])
        .args(["--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("residency: not compared"));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["runs"][0]["residency"], serde_json::Value::Null);

    // Bad input: 2, naming the file (and the line).
    let missing = tmp.path().join("nope");
    let out = pcsim().args(["compare", missing.to_str().unwrap(), run1.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    let bad = tmp.path().join("bad.log");
    std::fs::write(&bad, format!("{MAGIC}\n1 t mm_filemap_fault file=a index=1\n2 t mm_filemap_fault file=a\n"))
        .unwrap();
    let out = pcsim().args(["compare", bad.to_str().unwrap(), run1.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.log: line 3:") && err.contains("index"), "{err}");
    // --min-residency without residency on a side is bad input.
    let out = pcsim()
        .args(["compare", run1.join("events.log.gz").to_str().unwrap(), run1.to_str().unwrap()])
        .args(["--min-residency", "0.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Out-of-range thresholds are usage errors.
    let out = pcsim().args(["compare", run1.to_str().unwrap(), run1.to_str().unwrap(), "--min-pages", "101"]).output();
    assert_eq!(out.unwrap().status.code(), Some(2));
}

#[test]
fn residency_jaccard_of_a_hand_made_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let log = format!("{MAGIC}\n1 t mm_filemap_add_to_page_cache file=data index=0 order=0\n");
    let header = "# file size_pages nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted resident_ranges\n";
    let sides =
        [("sim", "data 300 101 0 0 0 0 0-99,200\nidle 8 0 0 0 0 0 -\n"), ("probe", "data 300 100 0 0 0 0 50-149\n")];
    for (name, res) in sides {
        let d = tmp.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("events.log"), &log).unwrap();
        std::fs::write(d.join("residency.txt"), format!("{header}{res}")).unwrap();
    }
    let (sim, probe) = (tmp.path().join("sim"), tmp.path().join("probe"));
    let a = input::load_run(&sim).unwrap();
    let b = input::load_run(&probe).unwrap();
    let r = residency::compare(a.residency.as_ref().unwrap(), b.residency.as_ref().unwrap());
    assert_eq!(r[0].file, "data");
    assert_eq!((r[0].sim_nr_cache, r[0].probe_nr_cache, r[0].common), (Some(101), Some(100), 50));
    assert!((r[0].jaccard - 50.0 / 151.0).abs() < 1e-12, "{r:?}");
    assert_eq!((r[1].file.as_str(), r[1].probe_nr_cache, r[1].jaccard), ("idle", None, 1.0));

    let run = |j: &str| {
        pcsim()
            .args(["compare", sim.to_str().unwrap(), probe.to_str().unwrap(), "--min-residency", j])
            .output()
            .unwrap()
    };
    let below = run("0.34");
    assert_eq!(below.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&below.stderr).contains("residency jaccard 0.3311 < 0.3400"));
    assert!(String::from_utf8_lossy(&below.stdout).contains("jaccard 0.3311  nr_cache 101/100"));
    assert_eq!(run("0.33").status.code(), Some(0));
}

#[test]
fn vmstat_counters_are_compared_when_both_sides_have_them() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let root = env!("CARGO_MANIFEST_DIR");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_pcsim"))
        .args([
            "run",
            &format!("{root}/scenarios/pressure/reread_after_evict_nosleep.ron"),
            "--out",
            sim.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcsim"))
        .args(["compare", sim.to_str().unwrap(), &format!("{root}/traces/pressure/reread_after_evict_nosleep/run-1")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text.lines().find(|l| l.trim_start().starts_with("workingset_refault_file")).expect("a vmstat row");
    let nums: Vec<i64> = row.split_whitespace().skip(1).map(|v| v.parse().unwrap()).collect();
    // Both sides: every page of `a` refaults once (kernel: 4096 in each of 3 runs).
    assert_eq!(nums, vec![4096, 4096], "{text}");
    assert!(!text.contains("  nr_active_file"), "gauges are not compared: {text}");
}

#[test]
fn plot_draws_one_line_per_run_and_panel() {
    // The model's run and the three kernel runs of a write fixture, four panels (dirty, writeback, pauses,
    // request sizes).
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("p.svg");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcsim"))
        .args(["validate", root.join("scenarios/write/small_dirty_expire_3s.ron").to_str().unwrap()])
        .args(["--probe-dir", root.join("traces/write/small_dirty_expire_3s").to_str().unwrap()])
        .args(["--out", tmp.path().join("v").to_str().unwrap(), "--plot", svg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "not an SVG");
    // Each panel's legend names the model and the three kernel runs (plotters writes a text element per label).
    let label = |l: &str| text.lines().filter(|t| t.trim() == l).count();
    assert_eq!(label("model"), 4, "four panels");
    for k in 1..=3 {
        assert_eq!(
            label(&format!("kernel {}", root.join(format!("traces/write/small_dirty_expire_3s/run-{k}")).display())),
            4
        );
    }
    // The model's curve is drawn thicker than the kernel's: one per panel (in the small_dirty scenarios there is no
    // pause, so that panel's lines have no points and plotters draws no path for them).
    assert_eq!(text.matches("stroke-width=\"2\"").count(), 3);
}
