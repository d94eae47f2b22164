//! Helpers shared by integration tests.

use pcsim::trace::event::{System, Value};
use pcsim::trace::log::Log;

/// (event, page index) of the readahead and filemap lines of ftrace text, read by a parser that shares no code with
/// the probe's normaliser (so the two can be checked against each other).
pub fn raw_read_side(raw: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for line in raw.lines() {
        let Some(colon) = line.find(": ") else { continue };
        let rest = &line[colon + 2..];
        let Some((ev, body)) = rest.split_once(": ") else { continue };
        if !(ev.starts_with("page_cache_") || ev.starts_with("mm_filemap_")) {
            continue;
        }
        let index = if let Some(i) = body.split("index=").nth(1) {
            i.split_whitespace().next().unwrap().parse().unwrap()
        } else {
            let ofs = body.split("ofs=").nth(1).unwrap().split(['-', ' ']).next().unwrap();
            ofs.parse::<u64>().unwrap() / 4096
        };
        out.push((ev.to_string(), index));
    }
    out
}

/// (event, page index) of the readahead and filemap events of a normalised log.
pub fn log_read_side(log: &Log) -> Vec<(String, u64)> {
    log.events
        .iter()
        .filter(|e| matches!(e.kind.system(), System::Readahead | System::Filemap))
        .map(|e| {
            let idx = e.kind.fields().into_iter().find(|(k, _)| *k == "index").map(|(_, v)| match v {
                Value::U(u) => u,
                _ => panic!("index is unsigned"),
            });
            (e.kind.name().to_string(), idx.expect("readahead and filemap events have an index"))
        })
        .collect()
}
