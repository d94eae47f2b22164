//! Kernel fixtures (traces/kernel/<scenario>/run-K/), checked without root:
//! - the normalised log's readahead and filemap events are exactly the events in the kernel's own ftrace text
//!   captured beside it (read here by a parser that shares no code with the probe's normaliser);
//! - every fixture log round-trips through the log reader and writer byte for byte;
//! - every fixture was captured from a bundled scenario that still loads, with the scenario hash recorded.

mod common;
use common::{log_read_side, raw_read_side};
use std::io::Read;
use std::path::{Path, PathBuf};

use pcsim::trace::log::{open_maybe_gzip, read_log_file, write_log};

fn fixture_runs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/kernel");
    let mut runs = Vec::new();
    for sc in std::fs::read_dir(&root).expect("traces/kernel exists").flatten() {
        if !sc.path().is_dir() {
            continue;
        }
        for run in std::fs::read_dir(sc.path()).unwrap().flatten() {
            if run.file_name().to_string_lossy().starts_with("run-") {
                runs.push(run.path());
            }
        }
    }
    runs.sort();
    runs
}

fn find(dir: &Path, base: &str) -> PathBuf {
    for cand in [base.to_string(), format!("{base}.gz")] {
        let p = dir.join(cand);
        if p.is_file() {
            return p;
        }
    }
    panic!("{} has no {base}(.gz)", dir.display());
}

fn read_text(p: &Path) -> String {
    let mut s = String::new();
    open_maybe_gzip(p).unwrap().read_to_string(&mut s).unwrap();
    s
}

#[test]
fn fixtures_exist_for_the_read_side() {
    let runs = fixture_runs();
    let scenarios: std::collections::BTreeSet<_> = runs.iter().map(|r| r.parent().unwrap().to_path_buf()).collect();
    assert!(scenarios.len() >= 14, "expected at least 14 captured scenarios, found {}", scenarios.len());
    for s in &scenarios {
        let n = runs.iter().filter(|r| r.parent() == Some(s.as_path())).count();
        assert!(n >= 3, "{} has {n} runs; each fixture needs at least 3", s.display());
    }
}

#[test]
fn normalised_read_side_events_equal_ftrace_text() {
    let mut checked = 0;
    for run in fixture_runs() {
        if !run.join("raw_trace.txt.gz").exists() && !run.join("raw_trace.txt").exists() {
            continue;
        }
        checked += 1;
        let log = read_log_file(&find(&run, "events.log")).unwrap();
        let raw = read_text(&find(&run, "raw_trace.txt"));
        let from_log = log_read_side(&log);
        let from_raw = raw_read_side(&raw);
        assert!(!from_log.is_empty(), "{}: no read-side events", run.display());
        assert_eq!(from_log.len(), from_raw.len(), "{}: event counts differ", run.display());
        if let Some(i) = from_log.iter().zip(&from_raw).position(|(a, b)| a != b) {
            panic!("{}: event {i} differs: log {:?} vs ftrace {:?}", run.display(), from_log[i], from_raw[i]);
        }
    }
    assert!(checked >= 14, "only {checked} fixture runs keep their raw trace");
}

#[test]
fn fixture_logs_round_trip() {
    for run in fixture_runs() {
        let p = find(&run, "events.log");
        let text = read_text(&p);
        let log = read_log_file(&p).unwrap();
        assert_eq!(String::from_utf8(write_log(&log)).unwrap(), text, "{} does not round-trip", p.display());
    }
}

#[test]
fn fixtures_come_from_bundled_scenarios() {
    for run in fixture_runs() {
        let manifest = std::fs::read_to_string(run.join("manifest.ron")).unwrap();
        let path = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("scenario_path: \"").map(|r| r.trim_end_matches("\",").to_string()))
            .unwrap_or_else(|| panic!("{}: manifest has no scenario_path", run.display()));
        let sc = pcsim::scenario::Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(&path))
            .unwrap_or_else(|e| panic!("{}: scenario {path} no longer loads: {e}", run.display()));
        assert!(
            manifest.contains(&format!("scenario_sha256: \"{}\"", sc.sha256)),
            "{}: {path} changed since capture; recapture the fixture",
            run.display()
        );
    }
}
