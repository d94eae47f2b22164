//! Snapshots of a run for review: what an insta snapshot test pins, small enough to read in a diff.
//!
//! [`SimResult::snapshot`] gives, in a few KB whatever the run's length:
//! - the summary without its latency columns (those move whenever a cost constant does);
//! - the event log's size and SHA-256 (any change at all to the log, times included, changes it);
//! - per tracepoint: the count, the SHA-256 of its events without time and task (a change in the model's decisions
//!   changes it, a change in timing alone does not), and for the decisions that matter (readahead windows, folio
//!   insertions and deletions, block requests, balance_dirty_pages pauses) how often each distinct value of their
//!   deciding fields occurs;
//! - the first decisions of the run, verbatim without their time.
//!
//! [`SimResult::event_lines`] gives the events of one's own choosing as log lines without their time.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::trace::event::{Event, System};
use crate::trace::log::format_event;

use super::result::SimResult;

/// How many distinct values of a tracepoint's deciding fields a snapshot lists (the rest are counted).
const PATTERNS_MAX: usize = 24;
/// How many of the run's first decisions a snapshot shows verbatim.
const FIRST_DECISIONS: usize = 24;

/// The fields that carry a tracepoint's decision (`None`: the tracepoint is not one of the decisions listed).
fn deciding_fields(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "page_cache_sync_ra" | "page_cache_async_ra" => &["req_count", "order", "size", "async_size", "ra_pages"],
        "page_cache_ra_order" => &["order", "size", "async_size", "ra_pages"],
        "page_cache_ra_unbounded" => &["nr_to_read", "lookahead_size"],
        "mm_filemap_add_to_page_cache" | "mm_filemap_delete_from_page_cache" => &["order"],
        "block_rq_issue" => &["rwbs", "nr_sector"],
        "balance_dirty_pages" => &["pause", "period"],
        _ => return None,
    })
}

/// An event's log line without its time, and with the task kept: `TASK EVENT key=value...`.
fn timeless(e: &Event, buf: &mut String) {
    buf.clear();
    format_event(e, buf);
    if let Some(i) = buf.find(' ') {
        buf.drain(..=i);
    }
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl SimResult {
    /// The run's snapshot (see the module doc). Needs a run with events (`SimOptions::events`).
    pub fn snapshot(&self) -> String {
        let mut s = format!("# pcsim snapshot: scenario {} seed {}\n", self.scenario, self.seed);
        let _ = write!(s, "## summary (without latency)\n{}", self.summary().without_latency());
        let mut log = Sha256::new();
        let mut per_kind: BTreeMap<&'static str, (u64, Sha256, BTreeMap<String, u64>)> = BTreeMap::new();
        let mut first = Vec::new();
        let mut line = String::with_capacity(160);
        for e in &self.events {
            line.clear();
            format_event(e, &mut line);
            log.update(line.as_bytes());
            log.update(b"\n");
            let name = e.kind.name();
            let entry = per_kind.entry(name).or_insert_with(|| (0, Sha256::new(), BTreeMap::new()));
            entry.0 += 1;
            timeless(e, &mut line);
            entry.1.update(line.as_bytes());
            entry.1.update(b"\n");
            if let Some(fields) = deciding_fields(name) {
                let key = e
                    .kind
                    .fields()
                    .into_iter()
                    .filter(|(k, _)| fields.contains(k))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                *entry.2.entry(key).or_default() += 1;
                if first.len() < FIRST_DECISIONS && matches!(e.kind.system(), System::Readahead | System::Filemap) {
                    first.push(line.clone());
                }
            }
        }
        let _ = writeln!(s, "## event log\n{} events, sha256 {}", self.events.len(), hex(&log.finalize()));
        s.push_str("## per tracepoint: count, sha256 of its events without time; deciding fields by count\n");
        for (name, (n, h, patterns)) in per_kind {
            let _ = writeln!(s, "{name} {n} {}", &hex(&h.finalize())[..16]);
            let mut by_count: Vec<(&String, &u64)> = patterns.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (p, c) in by_count.iter().take(PATTERNS_MAX) {
                let _ = writeln!(s, "  {c:>7} {p}");
            }
            if by_count.len() > PATTERNS_MAX {
                let rest: u64 = by_count[PATTERNS_MAX..].iter().map(|(_, c)| **c).sum();
                let _ = writeln!(s, "  {rest:>7} in {} other patterns", by_count.len() - PATTERNS_MAX);
            }
        }
        let _ = writeln!(s, "## the first {} readahead and page-cache decisions", first.len());
        for l in first {
            let _ = writeln!(s, "{l}");
        }
        s
    }

    /// The events `keep` selects, one log line each without the time (`TASK EVENT key=value...`), for a snapshot
    /// of one's own choosing.
    pub fn event_lines(&self, keep: impl Fn(&Event) -> bool) -> String {
        let mut s = String::new();
        let mut line = String::with_capacity(160);
        for e in self.events.iter().filter(|e| keep(e)) {
            timeless(e, &mut line);
            s.push_str(&line);
            s.push('\n');
        }
        s
    }
}
