//! The metrics of one run, computed the same way from a model run and from a probe run: both are reduced to a
//! [`RunView`] (the event log, the dirty-page series, per-task op statistics, counters) first. Definitions are in
//! docs/SWEEP.md, one per metric name; `NAMES` lists the run-level ones in the order results show them.

use std::collections::BTreeMap;

use crate::compare::curves::{self, WriteFigures};
use crate::sim::Histogram;
use crate::trace::event::EventKind;
use crate::trace::log::Log;
use crate::trace::series::Series;

/// One task's statistics, from the model's `TaskStats` or the probe's `ops/TASK.ops`.
#[derive(Clone, Debug, Default)]
pub struct TaskView {
    pub name: String,
    /// Its first op's start and its last op's end, ns from the run's start.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Bytes its reads and writes returned, and of those its reads'.
    pub bytes: u64,
    pub read_bytes: u64,
    /// Read calls, and those that waited for I/O (the model only knows the latter).
    pub read_ops: u64,
    pub read_misses: Option<u64>,
    /// Every op's latency but sleeps, and the sync calls' (fsync, fdatasync, sync, msync, sync_file_range).
    pub latency: Histogram,
    pub sync_latency: Histogram,
}

/// What the metrics are computed from.
pub struct RunView<'a> {
    pub log: &'a Log,
    pub series: Option<&'a Series>,
    /// The scenario's devices (the series' per-device keys, the block events counted).
    pub devices: Vec<String>,
    pub tasks: Vec<TaskView>,
    /// `workingset_refault_file` over the run (the probe's is host-wide).
    pub refaults: Option<i64>,
    /// Pages readahead brought in that were never read (model only).
    pub ra_unused: Option<u64>,
}

/// A run's metrics: (name, value), run-level first (in `NAMES` order), then per task (`TASK.metric`).
pub type Metrics = Vec<(String, Option<f64>)>;

/// The run-level metric names, in order.
pub const NAMES: &[&str] = &[
    "elapsed_s",
    "mib_s",
    "op_p50_us",
    "op_p99_us",
    "op_p999_us",
    "op_max_us",
    "sync_calls",
    "sync_p50_us",
    "sync_p99_us",
    "sync_max_us",
    "write_mib_s",
    "pauses",
    "pause_p50_ms",
    "pause_p90_ms",
    "pause_max_ms",
    "throttled_s",
    "steady_nr_dirty",
    "steady_dev_dirty",
    "nr_dirty_mean",
    "nr_dirty_max",
    "dirty_mib_s",
    "oldest_dirty_s",
    "at_risk_max_mib",
    "write_rqs",
    "write_rq_p50_kib",
    "write_rq_max_kib",
    "hit_ratio",
    "pages_read",
    "read_amp",
    "ra_events",
    "ra_unused_pages",
    "refaults",
    "busy_s",
];

/// Per-task metric names (columns `TASK.NAME`).
pub const TASK_NAMES: &[&str] = &["mib_s", "p50_us", "p99_us", "p999_us", "max_us", "sync_p99_us", "write_mib_s"];

/// Rounds to 3 decimals (integers stay integers), so values print and read back exactly.
pub fn round(v: f64) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    if v.abs() >= 1e9 {
        v.round()
    } else {
        (v * 1000.0).round() / 1000.0
    }
}

const PAGE: f64 = 4096.0;
const MIB: f64 = 1048576.0;

/// The quantiles of a histogram in µs, `None` when it is empty.
fn q_us(h: &Histogram, q: f64) -> Option<f64> {
    (h.count > 0).then(|| h.quantile(q) as f64 / 1000.0)
}

fn max_us(h: &Histogram) -> Option<f64> {
    (h.count > 0).then(|| h.max as f64 / 1000.0)
}

/// The write-side figures `compare::curves` computes (identical for both sides).
pub fn write_figures(v: &RunView) -> WriteFigures {
    let empty = Series::default();
    let devices: Vec<&str> = v.devices.iter().map(String::as_str).collect();
    curves::figures(v.log, v.series.unwrap_or(&empty), &devices)
}

/// Computes every metric of the run.
pub fn compute(v: &RunView) -> Metrics {
    let fig = write_figures(v);
    let mut m: BTreeMap<&str, Option<f64>> = BTreeMap::new();
    let start = v.tasks.iter().map(|t| t.start_ns).min().unwrap_or(0);
    let end = v.tasks.iter().map(|t| t.end_ns).max().unwrap_or(0);
    let elapsed = end.saturating_sub(start) as f64 / 1e9;
    m.insert("elapsed_s", Some(elapsed));
    let bytes: u64 = v.tasks.iter().map(|t| t.bytes).sum();
    m.insert("mib_s", (elapsed > 0.0).then(|| bytes as f64 / MIB / elapsed));
    let mut all = Histogram::default();
    let mut sync = Histogram::default();
    for t in &v.tasks {
        all.merge(&t.latency);
        sync.merge(&t.sync_latency);
    }
    m.insert("op_p50_us", q_us(&all, 0.5));
    m.insert("op_p99_us", q_us(&all, 0.99));
    m.insert("op_p999_us", q_us(&all, 0.999));
    m.insert("op_max_us", max_us(&all));
    m.insert("sync_calls", Some(sync.count as f64));
    m.insert("sync_p50_us", q_us(&sync, 0.5));
    m.insert("sync_p99_us", q_us(&sync, 0.99));
    m.insert("sync_max_us", max_us(&sync));
    m.insert("write_mib_s", fig.total_mib_per_s());
    m.insert("pauses", Some(fig.pauses as f64));
    m.insert("pause_p50_ms", fig.pause_ms_p50.map(|p| p as f64));
    m.insert("pause_p90_ms", fig.pause_ms_p90.map(|p| p as f64));
    m.insert("pause_max_ms", fig.pause_ms_hist.keys().next_back().map(|&p| p as f64));
    let throttled: i64 = fig.pause_ms_hist.iter().map(|(p, n)| p * *n as i64).sum();
    m.insert("throttled_s", Some(throttled as f64 / 1000.0));
    m.insert("steady_nr_dirty", fig.steady_nr_dirty.map(|p| p as f64));
    m.insert("steady_dev_dirty", fig.steady_device_dirty.map(|p| p as f64));
    series_metrics(v, start, end, &mut m);
    m.insert("write_rqs", Some(fig.write_requests as f64));
    m.insert("write_rq_p50_kib", fig.write_request_bytes_median.map(|b| b as f64 / 1024.0));
    m.insert("write_rq_max_kib", fig.write_request_hist.keys().next_back().map(|&b| b as f64 / 1024.0));
    let read_ops: u64 = v.tasks.iter().map(|t| t.read_ops).sum();
    let misses: Option<u64> = v.tasks.iter().map(|t| t.read_misses).sum();
    m.insert("hit_ratio", misses.filter(|_| read_ops > 0).map(|x| (read_ops - x) as f64 / read_ops as f64));
    event_metrics(v, &mut m);
    let read_bytes: u64 = v.tasks.iter().map(|t| t.read_bytes).sum();
    let pages_read = m["pages_read"].unwrap_or(0.0);
    m.insert("read_amp", (read_bytes > 0).then(|| pages_read * PAGE / read_bytes as f64));
    m.insert("ra_unused_pages", v.ra_unused.map(|p| p as f64));
    m.insert("refaults", v.refaults.map(|r| r as f64));
    let mut out: Metrics = NAMES.iter().map(|n| (n.to_string(), m.get(n).copied().flatten().map(round))).collect();
    for t in &v.tasks {
        out.extend(task_metrics(t, &fig));
    }
    out
}

fn task_metrics(t: &TaskView, fig: &WriteFigures) -> Metrics {
    let span = t.end_ns.saturating_sub(t.start_ns) as f64 / 1e9;
    let vals = [
        (span > 0.0).then(|| t.bytes as f64 / MIB / span),
        q_us(&t.latency, 0.5),
        q_us(&t.latency, 0.99),
        q_us(&t.latency, 0.999),
        max_us(&t.latency),
        q_us(&t.sync_latency, 0.99),
        fig.tasks.iter().find(|w| w.task == t.name).and_then(|w| w.mib_per_s()),
    ];
    TASK_NAMES.iter().zip(vals).map(|(n, v)| (format!("{}.{n}", t.name), v.map(round))).collect()
}

/// nr_dirty mean and max, data at risk, the oldest dirty page's age: from the series, over the tasks' span.
fn series_metrics(v: &RunView, start: u64, end: u64, m: &mut BTreeMap<&str, Option<f64>>) {
    let Some(s) = v.series else { return };
    let samples: Vec<_> = s.samples.iter().filter(|x| x.time.0 >= start && x.time.0 <= end.max(start)).collect();
    let dirty: Vec<u64> = samples.iter().filter_map(|x| x.get("nr_dirty")).collect();
    if dirty.is_empty() {
        return;
    }
    m.insert("nr_dirty_mean", Some(dirty.iter().sum::<u64>() as f64 / dirty.len() as f64));
    m.insert("nr_dirty_max", dirty.iter().max().map(|&d| d as f64));
    let interval = s.header.get("interval_ns").and_then(|i| i.parse::<u64>().ok()).unwrap_or(100_000_000) as f64 / 1e9;
    let at_risk: Vec<u64> =
        samples.iter().map(|x| x.get("nr_dirty").unwrap_or(0) + x.get("nr_writeback").unwrap_or(0)).collect();
    m.insert("dirty_mib_s", Some(at_risk.iter().map(|&p| p as f64 * PAGE / MIB * interval).sum()));
    m.insert("at_risk_max_mib", at_risk.iter().max().map(|&p| p as f64 * PAGE / MIB));
    m.insert("oldest_dirty_s", oldest_dirty_age(&samples).map(|ns| ns as f64 / 1e9));
}

/// The age of the oldest page not yet written, at its worst, assuming pages are written in the order they were
/// dirtied: the horizontal distance between the cumulative dirtied and written curves (nr_dirtied, nr_written),
/// the pages dirty or under writeback at the first sample counting as dirtied then.
fn oldest_dirty_age(samples: &[&crate::trace::series::Sample]) -> Option<u64> {
    let first = samples.first()?;
    let (d0, w0) = (first.get("nr_dirtied")?, first.get("nr_written")?);
    let n0 = first.get("nr_dirty").unwrap_or(0) + first.get("nr_writeback").unwrap_or(0);
    // Cumulative pages dirtied by each sample, from n0.
    let dirtied: Vec<(u64, u64)> =
        samples.iter().filter_map(|s| Some((s.time.0, n0 + s.get("nr_dirtied")?.saturating_sub(d0)))).collect();
    let mut worst = 0;
    let mut k = 0;
    for s in samples {
        let Some(w) = s.get("nr_written") else { continue };
        let written = w.saturating_sub(w0);
        let dirty_now = s.get("nr_dirty").unwrap_or(0) + s.get("nr_writeback").unwrap_or(0);
        if dirty_now == 0 {
            continue;
        }
        // The oldest page not written has ordinal written + 1: when was it dirtied?
        while k < dirtied.len() && dirtied[k].1 < written + 1 {
            k += 1;
        }
        if let Some(&(t, _)) = dirtied.get(k) {
            worst = worst.max(s.time.0.saturating_sub(t));
        }
    }
    Some(worst)
}

/// Pages read, readahead decisions, device busy time: from the event log.
fn event_metrics(v: &RunView, m: &mut BTreeMap<&str, Option<f64>>) {
    let ours = |d: &str| v.devices.iter().any(|x| x == d);
    let mut read_sectors = 0u64;
    let mut ra = 0u64;
    // Per device: issue times of requests in flight by sector, and the busy intervals.
    let mut inflight: BTreeMap<(&str, u64), Vec<u64>> = BTreeMap::new();
    let mut intervals: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for e in &v.log.events {
        match &e.kind {
            EventKind::BlockRqIssue { device, rwbs, sector, nr_sector, .. } if ours(device) => {
                if rwbs.contains('R') && !rwbs.contains('M') {
                    read_sectors += nr_sector;
                }
                inflight.entry((device, *sector)).or_default().push(e.time.0);
            }
            EventKind::BlockRqComplete { device, sector, .. } if ours(device) => {
                if let Some(q) = inflight.get_mut(&(&**device, *sector)) {
                    if !q.is_empty() {
                        let t0 = q.remove(0);
                        intervals.entry(device).or_default().push((t0, e.time.0));
                    }
                }
            }
            EventKind::PageCacheSyncRa { file, .. } | EventKind::PageCacheAsyncRa { file, .. }
                if !file.starts_with("ino:") =>
            {
                ra += 1;
            }
            _ => {}
        }
    }
    m.insert("pages_read", Some((read_sectors * 512 / 4096) as f64));
    m.insert("ra_events", Some(ra as f64));
    let mut busy = 0u64;
    for iv in intervals.values_mut() {
        iv.sort_unstable();
        let mut cur: Option<(u64, u64)> = None;
        for &(a, b) in iv.iter() {
            cur = match cur {
                Some((s, e)) if a <= e => Some((s, e.max(b))),
                Some((s, e)) => {
                    busy += e - s;
                    Some((a, b))
                }
                None => Some((a, b)),
            };
        }
        if let Some((s, e)) = cur {
            busy += e - s;
        }
    }
    m.insert("busy_s", Some(busy as f64 / 1e9));
}

/// The model's view of a run.
pub fn model_view<'a>(res: &'a crate::sim::SimResult, log: &'a Log, sc: &crate::scenario::Scenario) -> RunView<'a> {
    let tasks = res
        .tasks
        .iter()
        .zip(&sc.tasks)
        .map(|(t, spec)| TaskView {
            name: t.name.clone(),
            start_ns: spec.start.0,
            end_ns: t.end.0,
            bytes: t.bytes,
            read_bytes: t.read_bytes,
            read_ops: t.read_ops,
            read_misses: Some(t.read_misses),
            latency: t.latency.clone(),
            sync_latency: t.sync_latency.clone(),
        })
        .collect();
    let counter = |k: &str| res.counters.iter().find(|(n, _)| *n == k).map(|(_, v)| *v as i64);
    RunView {
        log,
        series: res.series.as_ref(),
        devices: sc.devices.iter().map(|d| d.name.clone()).collect(),
        tasks,
        refaults: counter("workingset_refault_file").or(Some(0)),
        ra_unused: Some(res.files.iter().map(|f| f.ra_unused).sum()),
    }
}
