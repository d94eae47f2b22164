//! `pcsim compare`: align a simulated event stream with an observed (probe) one and score their agreement.
//!
//! Events are split into streams, one per (tracepoint, file) — per device for events without a file — and each
//! stream is aligned in log order, never by time (the model's virtual clock and the kernel's clock differ). An event
//! is reduced to its canonical field tuple: every field except task and time, minus the fields that only describe
//! host state (see [`ignored_fields`]). Per tracepoint the report gives:
//! - **in order**: matched / max(sim, probe) summed over its streams, where matched is the longest common
//!   subsequence of the two tuple sequences (`align`), so one extra or missing event costs one event;
//! - **multiset**: the same ratio for events matched regardless of order (block requests are reordered slightly
//!   by the kernel from run to run);
//! - the first disagreement: where the two streams first part, with both sides' event lines.
//!
//! Tracepoints fall into groups ([`Group`]); thresholds apply to the readahead and pages groups in order and to
//! the block group as a multiset. Writeback events depend on host timing and `global_dirty_state` on the whole host:
//! they are reported, compared without their jiffies fields (global_dirty_state by count only), and never
//! thresholded. Residency (resident page sets from `residency.txt`) is compared in [`residency`].

#[doc(hidden)]
pub mod align;
#[doc(hidden)]
pub mod cachestat;
#[doc(hidden)]
pub mod counters;
#[doc(hidden)]
pub mod curves;
#[doc(hidden)]
pub mod envelope;
#[doc(hidden)]
pub mod input;
#[doc(hidden)]
pub mod output;
#[doc(hidden)]
pub mod render;
#[doc(hidden)]
pub mod residency;
#[doc(hidden)]
pub mod write_checks;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::trace::event::{EventKind, System};
use crate::trace::log::{format_event, Log};

/// Version of the JSON output's layout (`--json`); bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// What a tracepoint's agreement is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// readahead:* decisions; threshold `--min-readahead` on the in-order agreement.
    Readahead,
    /// filemap:* (folios added and deleted, faults, get_pages, map_pages); threshold `--min-pages`, in order.
    Pages,
    /// block:* requests; threshold `--min-block` on the multiset agreement.
    Block,
    /// writeback:* driven by host timing; reported only.
    Writeback,
    /// Host-wide state (global_dirty_state); reported only, compared by count.
    HostState,
}

impl Group {
    /// The group's name in reports (`readahead`, `pages`, `block`, `writeback`, `other`).
    pub fn name(self) -> &'static str {
        match self {
            Group::Readahead => "readahead",
            Group::Pages => "pages",
            Group::Block => "block",
            Group::Writeback => "writeback",
            Group::HostState => "host_state",
        }
    }

    /// Whether a threshold may apply to this group.
    pub fn thresholded(self) -> bool {
        matches!(self, Group::Readahead | Group::Pages | Group::Block)
    }

    /// The group of a tracepoint.
    pub fn of(kind: &EventKind) -> Group {
        match kind {
            EventKind::GlobalDirtyState { .. } => Group::HostState,
            _ => match kind.system() {
                System::Readahead => Group::Readahead,
                System::Filemap => Group::Pages,
                System::Block => Group::Block,
                System::Writeback => Group::Writeback,
            },
        }
    }
}

/// Fields left out of the canonical tuple because they only describe the host (jiffies, host-wide counters).
pub fn ignored_fields(kind: &EventKind) -> &'static [&'static str] {
    match kind {
        EventKind::WritebackDirtyInodeEnqueue { .. }
        | EventKind::WritebackSingleInode { .. }
        | EventKind::WritebackSingleInodeStart { .. }
        | EventKind::WritebackSbInodesRequeue { .. }
        | EventKind::SbMarkInodeWriteback { .. }
        | EventKind::SbClearInodeWriteback { .. } => &["dirtied_when"],
        EventKind::WritebackQueueIo { .. } => &["older", "age"],
        EventKind::GlobalDirtyState { .. } => {
            &["nr_dirty", "nr_writeback", "bg_thresh", "thresh", "limit", "nr_dirtied", "nr_written"]
        }
        _ => &[],
    }
}

/// The stream an event belongs to: its file, else its device, else `host` (host-wide events).
pub fn scope(kind: &EventKind) -> String {
    if let Some(f) = kind.file() {
        return f.to_string();
    }
    kind.fields().into_iter().find(|(k, _)| *k == "device").map_or_else(|| "host".to_string(), |(_, v)| v.to_string())
}

/// The canonical tuple of an event as text: ` key=value` for every compared field.
pub fn canonical(kind: &EventKind) -> String {
    let ignored = ignored_fields(kind);
    let mut s = String::with_capacity(96);
    for (k, v) in kind.fields() {
        if !ignored.contains(&k) {
            let _ = write!(s, " {k}={v}");
        }
    }
    s
}

/// One side of a disagreement: the event's 1-based ordinal among the log's events, and its line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    /// The event's ordinal among its log's events (from 1).
    pub event: usize,
    /// The event's log line.
    pub line: String,
}

/// Where a tracepoint's streams first part.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Disagreement {
    /// The stream's file or device.
    pub scope: String,
    /// 1-based position in the stream (the n-th event of this tracepoint for this file).
    pub position: usize,
    /// The simulated event there (`None`: the simulated stream ended).
    pub sim: Option<Side>,
    /// The observed event there (`None`: the observed stream ended).
    pub probe: Option<Side>,
}

/// Agreement of one tracepoint over all its streams.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindReport {
    /// The tracepoint.
    pub kind: &'static str,
    /// What its agreement is used for.
    pub group: Group,
    /// Events of this tracepoint in the simulated log.
    pub sim_count: usize,
    /// Events of this tracepoint in the probe's log.
    pub probe_count: usize,
    /// Σ over streams of max(sim, probe): the denominator of both agreements.
    pub denominator: usize,
    /// Events matched in log order (the longest common subsequence, summed over the streams).
    pub matched_in_order: usize,
    /// Events matched regardless of order.
    pub matched_multiset: usize,
    /// matched_in_order / denominator (1.0 when both sides are empty).
    pub in_order: f64,
    /// matched_multiset / denominator.
    pub multiset: f64,
    /// Fields not compared (host state).
    pub ignored_fields: Vec<&'static str>,
    /// False when some stream was aligned by the greedy fallback (in_order is then a lower bound).
    pub exact: bool,
    /// The earliest (by simulated log position) first disagreement among the streams.
    pub first_disagreement: Option<Disagreement>,
}

/// Agreement of a group of tracepoints (pooled counts).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupReport {
    /// The group.
    pub group: Group,
    /// Whether a threshold may apply to it (writeback events never are).
    pub thresholded: bool,
    /// Events of the group in the simulated log.
    pub sim_count: usize,
    /// Events of the group in the probe's log.
    pub probe_count: usize,
    /// The longer side's count, summed over the group's streams: what the agreements are fractions of.
    pub denominator: usize,
    /// In-order agreement, percent.
    pub in_order: f64,
    /// Multiset agreement, percent.
    pub multiset: f64,
    /// The agreement thresholds use: multiset for block, in order otherwise.
    pub score: f64,
}

/// The event comparison of one simulated log with one observed log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Events in the simulated log (left-out ones excluded).
    pub sim_events: usize,
    /// Events in the probe's log (left-out ones excluded).
    pub probe_events: usize,
    /// One row per tracepoint present on either side, in `EventKind::NAMES` order.
    pub kinds: Vec<KindReport>,
    /// One row per group present on either side.
    pub groups: Vec<GroupReport>,
    /// What was left out of the scores and why (filesystem metadata, other reclaimers' evictions, host-only events).
    pub notes: Vec<String>,
}

impl Report {
    /// The group's row, if any event of it was seen.
    pub fn group(&self, g: Group) -> Option<&GroupReport> {
        self.groups.iter().find(|r| r.group == g)
    }

    /// The tracepoint's row, if any event of it was seen.
    pub fn kind(&self, name: &str) -> Option<&KindReport> {
        self.kinds.iter().find(|r| r.kind == name)
    }
}

/// Per stream, the events' indices in the log, for each side.
type Streams = BTreeMap<(usize, String), [Vec<usize>; 2]>;

fn kind_index(kind: &EventKind) -> usize {
    EventKind::NAMES.iter().position(|n| *n == kind.name()).expect("every kind is in NAMES")
}

/// Why an event is left out of the comparison: 0 for filesystem metadata (files named `ino:N`), 1 for an
/// eviction by DAMON's kdamond.
fn unscored_reason(e: &crate::trace::event::Event) -> Option<usize> {
    if e.kind.file().is_some_and(|f| f.starts_with("ino:")) {
        return Some(0);
    }
    if matches!(e.kind, EventKind::MmFilemapDeleteFromPageCache { .. }) && e.task.starts_with("kdamond") {
        return Some(1);
    }
    None
}

/// Compares a simulated log with an observed one (see the module doc).
pub fn compare(sim: &Log, probe: &Log) -> Report {
    compare_with_limit(sim, probe, align::DEFAULT_WORK_LIMIT)
}

/// [`compare`] with an explicit work budget for each stream's Myers alignment.
pub fn compare_with_limit(sim: &Log, probe: &Log, work_limit: u64) -> Report {
    let logs = [sim, probe];
    let (streams, unscored) = split_streams(logs);
    let mut kinds: BTreeMap<usize, KindReport> = BTreeMap::new();
    for ((ki, scope), idx) in &streams {
        align_stream(logs, *ki, scope, idx, work_limit, &mut kinds);
    }
    let mut notes = unscored_notes(unscored);
    let kinds = kind_ratios(kinds, &mut notes);
    let groups = group_reports(&kinds);
    if groups.iter().any(|g| !g.thresholded) {
        notes.push(
            "writeback and host-state events are reported but excluded from thresholds: they follow host timing \
             and host-wide counters (dirtied_when, older and age are jiffies and are not compared; \
             global_dirty_state is compared by count only)"
                .to_string(),
        );
    }
    notes.extend(foreign_evictions_note(probe));
    Report { sim_events: sim.events.len(), probe_events: probe.events.len(), kinds, groups, notes }
}

/// Splits both logs into streams, and counts per side the events left out (by [`unscored_reason`]).
fn split_streams(logs: [&Log; 2]) -> (Streams, [[usize; 2]; 2]) {
    let mut streams: Streams = BTreeMap::new();
    let mut unscored = [[0usize; 2]; 2];
    for (side, log) in logs.iter().enumerate() {
        for (i, e) in log.events.iter().enumerate() {
            if let Some(why) = unscored_reason(e) {
                unscored[why][side] += 1;
                continue;
            }
            streams.entry((kind_index(&e.kind), scope(&e.kind))).or_default()[side].push(i);
        }
    }
    (streams, unscored)
}

/// Aligns one stream of tracepoint `ki` (events `idx` of each side) and adds it to the tracepoint's row.
fn align_stream(
    logs: [&Log; 2],
    ki: usize,
    scope: &str,
    idx: &[Vec<usize>; 2],
    work_limit: u64,
    kinds: &mut BTreeMap<usize, KindReport>,
) {
    // Intern canonical tuples as dense symbols local to this stream.
    let mut table: hashbrown::HashMap<String, u32> = hashbrown::HashMap::new();
    let syms: Vec<Vec<u32>> = (0..2)
        .map(|side| {
            idx[side]
                .iter()
                .map(|&i| {
                    let key = canonical(&logs[side].events[i].kind);
                    let next = table.len() as u32;
                    *table.entry(key).or_insert(next)
                })
                .collect()
        })
        .collect();
    let al = align::align_with_limit(&syms[0], &syms[1], work_limit);
    let multiset = align::multiset_matches(&syms[0], &syms[1]);
    let (s0, i0) = match idx[0].first() {
        Some(&i) => (0, i),
        None => (1, idx[1][0]),
    };
    let row = kinds.entry(ki).or_insert_with(|| empty_row(ki, &logs[s0].events[i0].kind));
    row.sim_count += idx[0].len();
    row.probe_count += idx[1].len();
    row.denominator += idx[0].len().max(idx[1].len());
    row.matched_in_order += al.matched;
    row.matched_multiset += multiset;
    row.exact &= al.exact;
    if let Some(p) = al.first_diff {
        let d = disagreement(logs, scope, idx, p);
        let order = |d: &Disagreement| {
            (d.sim.as_ref().map_or(usize::MAX, |s| s.event), d.probe.as_ref().map_or(usize::MAX, |s| s.event))
        };
        if row.first_disagreement.as_ref().is_none_or(|old| order(&d) < order(old)) {
            row.first_disagreement = Some(d);
        }
    }
}

/// The row of tracepoint `ki` before any stream is added, its group and ignored fields those of `first_kind`.
fn empty_row(ki: usize, first_kind: &EventKind) -> KindReport {
    KindReport {
        kind: EventKind::NAMES[ki],
        group: Group::of(first_kind),
        sim_count: 0,
        probe_count: 0,
        denominator: 0,
        matched_in_order: 0,
        matched_multiset: 0,
        in_order: 1.0,
        multiset: 1.0,
        ignored_fields: ignored_fields(first_kind).to_vec(),
        exact: true,
        first_disagreement: None,
    }
}

/// Where a stream first parts: position `p` (from 0) of the stream, with both sides' events there.
fn disagreement(logs: [&Log; 2], scope: &str, idx: &[Vec<usize>; 2], p: usize) -> Disagreement {
    let side = |s: usize| {
        idx[s].get(p).map(|&i| {
            let mut line = String::new();
            format_event(&logs[s].events[i], &mut line);
            Side { event: i + 1, line }
        })
    };
    Disagreement { scope: scope.to_string(), position: p + 1, sim: side(0), probe: side(1) }
}

/// The notes saying which events were left out (counts from [`split_streams`]).
fn unscored_notes(unscored: [[usize; 2]; 2]) -> Vec<String> {
    let mut notes = Vec::new();
    if unscored[0] != [0, 0] {
        notes.push(format!(
            "{} sim / {} probe events on filesystem metadata (ino:N: the block device's and the journal's pages, \
             which the model does not have) are not compared",
            unscored[0][0], unscored[0][1]
        ));
    }
    if unscored[1] != [0, 0] {
        notes.push(format!(
            "{} probe evictions by DAMON's kdamond (host behaviour the model does not predict) are not compared",
            unscored[1][1]
        ));
    }
    notes
}

/// The rows in `EventKind::NAMES` order with their agreements computed; a note for each greedily aligned one.
fn kind_ratios(kinds: BTreeMap<usize, KindReport>, notes: &mut Vec<String>) -> Vec<KindReport> {
    let mut kinds: Vec<KindReport> = kinds.into_values().collect();
    for k in &mut kinds {
        k.in_order = align::ratio(k.matched_in_order, k.denominator);
        k.multiset = align::ratio(k.matched_multiset, k.denominator);
        if !k.exact {
            notes.push(format!(
                "{}: the streams differ too much for an exact alignment within the work budget; the in-order \
                 agreement comes from a greedy alignment and is a lower bound",
                k.kind
            ));
        }
    }
    kinds
}

/// The tracepoints' counts pooled per group.
fn group_reports(kinds: &[KindReport]) -> Vec<GroupReport> {
    let mut groups: BTreeMap<Group, (usize, usize, usize, usize, usize)> = BTreeMap::new();
    for k in kinds {
        let g = groups.entry(k.group).or_default();
        g.0 += k.sim_count;
        g.1 += k.probe_count;
        g.2 += k.denominator;
        g.3 += k.matched_in_order;
        g.4 += k.matched_multiset;
    }
    groups
        .into_iter()
        .map(|(group, (s, p, den, mo, mm))| {
            let (in_order, multiset) = (align::ratio(mo, den), align::ratio(mm, den));
            let score = if group == Group::Block { multiset } else { in_order };
            GroupReport {
                group,
                thresholded: group.thresholded(),
                sim_count: s,
                probe_count: p,
                denominator: den,
                in_order,
                multiset,
                score,
            }
        })
        .collect()
}

/// A note on the evictions the workload did not cause (kswapd, DAMON's kdamond), if the observed run had any: the
/// model cannot predict them, and the readahead that follows an evicted page differs. Say so rather than hide it.
fn foreign_evictions_note(probe: &Log) -> Option<String> {
    let mut foreign: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &probe.events {
        if matches!(e.kind, EventKind::MmFilemapDeleteFromPageCache { .. }) && crate::trace::event::is_foreign(&e.task)
        {
            *foreign.entry(&e.task).or_default() += 1;
        }
    }
    if foreign.is_empty() {
        return None;
    }
    let list: Vec<String> = foreign.iter().map(|(t, n)| format!("{t}: {n}")).collect();
    Some(format!(
        "the observed run had folios evicted by other reclaimers ({}); decisions after such an eviction can differ \
         from the model's, which does not model them",
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::log::read_log;
    use crate::trace::log::MAGIC;

    fn log(lines: &[&str]) -> Log {
        read_log(format!("{MAGIC}\n{}\n", lines.join("\n")).as_bytes()).unwrap()
    }

    const RA: &str = "reader page_cache_sync_ra file=data index=0 req_count=1 order=0 size=0 async_size=0 \
                      ra_pages=32 mmap_miss=0 prev_pos=-1";

    #[test]
    fn times_and_tasks_do_not_matter_fields_do() {
        let a = log(&[&format!("10 {RA}"), "20 reader mm_filemap_add_to_page_cache file=data index=0 order=0"]);
        let b = log(&[
            &format!("999 {}", RA.replace("reader", "other")),
            "1000 kworker mm_filemap_add_to_page_cache file=data index=0 order=0",
        ]);
        let r = compare(&a, &b);
        assert!(r.kinds.iter().all(|k| k.in_order == 1.0 && k.first_disagreement.is_none()), "{r:#?}");
        let c = log(&[&format!("10 {}", RA.replace("ra_pages=32", "ra_pages=64"))]);
        let r = compare(&a, &c);
        let k = r.kind("page_cache_sync_ra").unwrap();
        assert_eq!((k.matched_in_order, k.denominator, k.in_order), (0, 1, 0.0));
        let d = k.first_disagreement.as_ref().unwrap();
        assert_eq!((d.scope.as_str(), d.position), ("data", 1));
        assert!(d.probe.as_ref().unwrap().line.contains("ra_pages=64"));
        assert_eq!(d.sim.as_ref().unwrap().event, 1);
        // The add event exists on one side only.
        let add = r.kind("mm_filemap_add_to_page_cache").unwrap();
        assert_eq!((add.sim_count, add.probe_count, add.in_order), (1, 0, 0.0));
        assert!(add.first_disagreement.as_ref().unwrap().probe.is_none());
        assert_eq!(r.group(Group::Readahead).unwrap().score, 0.0);
    }

    #[test]
    fn streams_are_per_file_and_device() {
        let a = log(&[
            "1 t mm_filemap_fault file=a index=1",
            "2 t mm_filemap_fault file=b index=1",
            "3 t mm_filemap_fault file=a index=2",
        ]);
        // Interleaving across files changes nothing: each file's own order is the same.
        let b = log(&[
            "1 t mm_filemap_fault file=b index=1",
            "2 t mm_filemap_fault file=a index=1",
            "3 t mm_filemap_fault file=a index=2",
        ]);
        assert_eq!(compare(&a, &b).kind("mm_filemap_fault").unwrap().in_order, 1.0);
        let c = log(&["1 t block_rq_issue device=d0 rwbs=R bytes=4096 sector=8 nr_sector=8"]);
        let d = log(&["1 t block_rq_issue device=d1 rwbs=R bytes=4096 sector=8 nr_sector=8"]);
        let r = compare(&c, &d);
        assert_eq!(r.kind("block_rq_issue").unwrap().denominator, 2);
        assert_eq!(r.group(Group::Block).unwrap().score, 0.0);
    }

    #[test]
    fn block_reordering_is_forgiven_by_the_multiset() {
        let i1 = "t block_rq_issue device=d rwbs=R bytes=4096 sector=8 nr_sector=8";
        let i2 = "t block_rq_issue device=d rwbs=R bytes=4096 sector=16 nr_sector=8";
        let a = log(&[&format!("1 {i1}"), &format!("2 {i2}")]);
        let b = log(&[&format!("1 {i2}"), &format!("2 {i1}")]);
        let r = compare(&a, &b);
        let k = r.kind("block_rq_issue").unwrap();
        assert_eq!((k.in_order, k.multiset), (0.5, 1.0));
        assert_eq!(r.group(Group::Block).unwrap().score, 1.0);
    }

    #[test]
    fn host_state_fields_are_not_compared_and_not_thresholded() {
        let a = log(&[
            "1 t writeback_dirty_inode_enqueue device=d file=f dirtied_when=100 state=I_DIRTY_SYNC",
            "2 t global_dirty_state nr_dirty=1 nr_writeback=0 bg_thresh=5 thresh=10 limit=10 nr_dirtied=1 nr_written=0",
        ]);
        let b = log(&[
            "1 t writeback_dirty_inode_enqueue device=d file=f dirtied_when=555 state=I_DIRTY_SYNC",
            "2 t global_dirty_state nr_dirty=9 nr_writeback=3 bg_thresh=6 thresh=12 limit=12 nr_dirtied=7 nr_written=2",
        ]);
        let r = compare(&a, &b);
        assert!(r.kinds.iter().all(|k| k.in_order == 1.0), "{r:#?}");
        assert_eq!(r.kind("writeback_dirty_inode_enqueue").unwrap().ignored_fields, vec!["dirtied_when"]);
        assert_eq!(r.kind("global_dirty_state").unwrap().group, Group::HostState);
        assert!(r.groups.iter().all(|g| !g.thresholded));
        assert!(r.notes.iter().any(|n| n.contains("excluded from thresholds")));
        assert_eq!(scope(&b.events[1].kind), "host");
    }

    #[test]
    fn empty_logs_agree_vacuously() {
        let r = compare(&Log::default(), &Log::default());
        assert!(r.kinds.is_empty() && r.groups.is_empty());
    }

    #[test]
    fn the_fallback_is_reported() {
        let lines: Vec<String> = (0..50).map(|i| format!("{i} t mm_filemap_fault file=a index={}", i % 5)).collect();
        let refs: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
        let a = log(&refs);
        let mut rev = refs.clone();
        rev.reverse();
        let r = compare_with_limit(&a, &log(&rev), 0);
        let k = r.kind("mm_filemap_fault").unwrap();
        assert!(!k.exact && k.in_order < 1.0 && k.multiset == 1.0);
        assert!(r.notes.iter().any(|n| n.contains("lower bound")));
    }
}
