//! Every bundled scenario the model runs: byte-identical event logs from two runs (determinism), and an insta
//! snapshot of each run (`SimResult::snapshot`: the summary without latency, the log's digest, per tracepoint its
//! count, digest and deciding fields, the first decisions). A snapshot changes only with a reason given in the
//! commit message (kernel evidence: the fixtures in traces/kernel/).

use std::path::PathBuf;

use pcsim::scenario::Scenario;
use pcsim::sim::{simulate, SimOptions};
use pcsim::trace::log::{write_log, Log};

fn bundled() -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() && p.ends_with("scenarios/scale") {
                continue; // minutes each: `pcsim bench` runs them, tests/scenario_bundled.rs loads them
            }
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "ron") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios"), &mut v);
    v.sort();
    v
}

/// The snapshot's name: the scenario's path under scenarios/, `/` as `__`.
fn snapshot_name(p: &std::path::Path) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let rel = p.strip_prefix(&root).unwrap().with_extension("");
    rel.to_string_lossy().replace('/', "__")
}

fn log_text(sc: &Scenario) -> Option<(String, pcsim::sim::SimResult)> {
    let res = simulate(sc, &SimOptions { events: true, ..Default::default() }).ok()?;
    let log = Log { header: Default::default(), events: res.events.clone() };
    Some((String::from_utf8(write_log(&log)).unwrap(), res))
}

#[test]
fn same_scenario_same_bytes() {
    let mut ran = 0;
    for p in bundled() {
        let sc = Scenario::load(&p).unwrap();
        let Some((a, _)) = log_text(&sc) else { continue };
        let (b, _) = log_text(&sc).unwrap();
        assert!(a == b, "{}: two runs produced different event logs", p.display());
        ran += 1;
    }
    assert!(ran >= 40, "only {ran} scenarios simulated");
}

#[test]
fn snapshots_of_summaries_and_decisions() {
    for p in bundled() {
        let sc = Scenario::load(&p).unwrap();
        let Ok(res) = simulate(&sc, &SimOptions { events: true, ..Default::default() }) else { continue };
        insta::assert_snapshot!(snapshot_name(&p), res.snapshot());
    }
}

/// The snapshots stay reviewable: a few KB each, under 300 KB in all.
#[test]
fn snapshots_stay_small() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let sizes: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
        .collect();
    let total: u64 = sizes.iter().map(|s| s.1).sum();
    assert!(total < 300_000, "the snapshots hold {total} bytes");
    for (name, len) in sizes {
        assert!(len < 16_384, "{name} is {len} bytes");
    }
}
