//! Outputs streamed to disk as the run goes (`SimOptions::spill_dir`, what `pcsim run --events/--out` uses) are
//! byte for byte what a run held in memory writes, with the events spilled in small chunks so the merge of many
//! chunks (ties across chunk boundaries included) is exercised; and the scratch files are gone afterwards.

use pcsim::scenario::Scenario;
use pcsim::sim::{simulate, SimOptions};
use std::path::Path;

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_streamed_run_writes_what_an_in_memory_run_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Several tasks (events emitted out of time order), writeback (the series), memory pressure.
    for name in ["write/readers_and_writer", "write/two_devices", "pressure/stream_vs_hot", "validation/reverse_read"] {
        let sc = Scenario::load(&root.join(format!("scenarios/{name}.ron"))).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mem = simulate(&sc, &SimOptions { events: true, ..Default::default() }).unwrap();
        mem.write_dir(&tmp.path().join("mem")).unwrap();
        let spill_dir = tmp.path().join("spill");
        std::fs::create_dir(&spill_dir).unwrap();
        let opts =
            SimOptions { events: true, spill_dir: Some(spill_dir.clone()), spill_chunk: 997, ..Default::default() };
        let streamed = simulate(&sc, &opts).unwrap();
        assert!(streamed.events.is_empty() && streamed.series.is_none(), "{name}: the streamed run holds its events");
        assert!(std::fs::read_dir(&spill_dir).unwrap().count() > 0, "{name}: nothing was spilled");
        streamed.write_dir(&tmp.path().join("streamed")).unwrap();
        let mut events = Vec::new();
        streamed.write_events(&mut events).unwrap();
        drop(streamed);
        assert_eq!(std::fs::read_dir(&spill_dir).unwrap().count(), 0, "{name}: the spill files were left behind");
        let (a, b) = (files_of(&tmp.path().join("mem")), files_of(&tmp.path().join("streamed")));
        assert_eq!(a.iter().map(|f| &f.0).collect::<Vec<_>>(), b.iter().map(|f| &f.0).collect::<Vec<_>>(), "{name}");
        for ((n, x), (_, y)) in a.iter().zip(&b) {
            assert!(x == y, "{name}: {n} differs ({} vs {} bytes)", x.len(), y.len());
        }
        let log = &a.iter().find(|f| f.0 == "events.log").unwrap().1;
        assert!(log.len() > 100_000, "{name}: a small log ({} bytes) does not exercise the merge", log.len());
        assert_eq!(&events, log, "{name}: write_events");
    }
}
