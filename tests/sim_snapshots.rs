//! Every bundled scenario the model runs: byte-identical event logs from two runs (determinism), and insta
//! snapshots of the summary and of the readahead decisions. A snapshot changes only with a reason given in the
//! commit message (kernel evidence: the fixtures in traces/kernel/).

use std::path::PathBuf;

use pcsim::scenario::Scenario;
use pcsim::sim::{simulate, SimOptions};
use pcsim::trace::log::{write_log, Log};

fn bundled() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut v = vec![root.join("quickstart.ron")];
    let mut val: Vec<PathBuf> =
        std::fs::read_dir(root.join("validation")).unwrap().flatten().map(|e| e.path()).collect();
    val.sort();
    v.extend(val);
    v
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
    assert!(ran >= 16, "only {ran} scenarios simulated");
}

#[test]
fn snapshots_of_summaries_and_readahead_decisions() {
    for p in bundled() {
        let sc = Scenario::load(&p).unwrap();
        let Some((text, res)) = log_text(&sc) else { continue };
        let decisions: Vec<&str> =
            text.lines().filter(|l| l.contains(" page_cache_")).map(|l| l.splitn(3, ' ').nth(2).unwrap()).collect();
        let summary = res.summary().to_string();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(
            format!("{name}"),
            format!("{summary}\n# readahead decisions\n{}\n", decisions.join("\n"))
        );
    }
}
