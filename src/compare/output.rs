//! The comparison of one simulated run with one or more probe runs, the threshold checks, and its two renderings:
//! a text table (stdout) and JSON (`--json`, with `schema_version`).
//!
//! With several probe runs each is compared and reported, and thresholds are checked against the minimum over
//! the runs (the run that agrees least).

use std::fmt::Write as _;

use serde::Serialize;

use super::cachestat;
use super::counters::{check_counters, eviction_order, CounterCheck, EvictionOrder, PRESSURE_COUNTERS};
use super::input::Input;
use super::residency::{self, ResidencyReport};
use super::write_checks::{check_writes, WriteCheck};
use super::{compare_with_limit, Group, Report, SCHEMA_VERSION};

/// Requested minimum agreements: percentages for the event groups, a Jaccard index for residency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Thresholds {
    pub readahead_pct: Option<f64>,
    pub pages_pct: Option<f64>,
    pub block_pct: Option<f64>,
    pub residency_jaccard: Option<f64>,
    /// Check the memory-pressure counters (`counters::PRESSURE_COUNTERS`) with this tolerance (fraction of the
    /// kernel's median, e.g. 0.10).
    pub counters_tolerance: Option<f64>,
    /// Check the median run's agreement instead of the least agreeing run's (for workloads where the kernel's own
    /// runs differ, e.g. under memory pressure).
    pub median: bool,
    /// Lower the readahead and pages thresholds to the kernel's own agreement: the least in-order agreement between
    /// two of its runs (where the kernel repeats itself exactly this stays 100%).
    pub relative_to_kernel: bool,
    /// Check the write-side figures (`write_checks`) with this tolerance (fraction of the kernel's median).
    pub write_tolerance: Option<f64>,
    /// dirty_writeback_centisecs of the scenario, in ns (the expiry pass's tolerance).
    pub writeback_interval_ns: u64,
}

/// One probe run compared with the simulated run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    pub probe: String,
    pub events: Report,
    /// Per file; `None` when either side has no residency.txt.
    pub residency: Option<Vec<ResidencyReport>>,
    /// The model's counters beside the kernel's deltas (name, sim, probe); `None` when either side has no vmstat.txt.
    pub vmstat: Option<Vec<(String, i64, i64)>>,
    /// Each cachestat op on both sides; `None` when either side has no cachestat.txt.
    pub cachestat: Option<Vec<cachestat::OpReport>>,
}

impl RunReport {
    /// The score thresholds use for a group: 1.0 when neither side has any of its events.
    pub fn score(&self, g: Group) -> f64 {
        self.events.group(g).map_or(1.0, |r| r.score)
    }

    /// The smallest Jaccard index over files (1.0 with no files), if residency was compared.
    pub fn min_jaccard(&self) -> Option<f64> {
        self.residency.as_ref().map(|r| r.iter().map(|f| f.jaccard).fold(1.0, f64::min))
    }
}

/// The worst value of a score over the runs, and which run it came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Minimum {
    pub name: String,
    pub value: f64,
    pub run: String,
}

/// One threshold and whether the minimum over the runs meets it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    /// What is measured: `in_order`, `multiset` or `jaccard`.
    pub measure: &'static str,
    /// The requested minimum (percent for event groups, a fraction for residency).
    pub required: f64,
    /// The minimum over the runs, in the same unit.
    pub actual: f64,
    pub run: String,
    pub passed: bool,
}

/// The whole comparison, as written by `--json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub sim: String,
    pub sim_log: String,
    pub runs: Vec<RunReport>,
    /// Per group score (`in_order`, `multiset` for block) and per-file residency Jaccard: minimum over the runs.
    pub minimum: Vec<Minimum>,
    pub thresholds: Thresholds,
    pub checks: Vec<Check>,
    /// Counter checks (with `counters_tolerance`).
    pub counters: Vec<CounterCheck>,
    /// How the order of evictions agrees, when there were any.
    pub eviction_order: Option<EvictionOrder>,
    /// With `relative_to_kernel`: the least in-order agreement between two kernel runs, per group.
    pub kernel_agreement: Vec<Minimum>,
    /// Write-side figure checks (with `write_tolerance`).
    pub writes: Vec<WriteCheck>,
    /// Per cachestat op and count, the model against the kernel's range over the runs (when both sides have
    /// cachestat.txt).
    pub cachestat_ranges: Option<Vec<cachestat::FieldRange>>,
    pub passed: bool,
}

impl Comparison {
    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// The write-side checks that failed.
    pub fn write_failures(&self) -> impl Iterator<Item = &WriteCheck> {
        self.writes.iter().filter(|c| !c.passed)
    }

    /// The counter checks that failed.
    pub fn counter_failures(&self) -> impl Iterator<Item = &CounterCheck> {
        self.counters.iter().filter(|c| !c.passed)
    }
}

const SCORED: [Group; 3] = [Group::Readahead, Group::Pages, Group::Block];

/// Compares `sim` with every probe run and checks the thresholds against the minimum over the runs.
pub fn compare_runs(sim: &Input, probes: &[Input], thresholds: Thresholds, work_limit: u64) -> Comparison {
    let runs: Vec<RunReport> = probes
        .iter()
        .map(|p| RunReport {
            probe: p.path.display().to_string(),
            events: compare_with_limit(&sim.log, &p.log, work_limit),
            residency: match (&sim.residency, &p.residency) {
                (Some(s), Some(p)) => Some(residency::compare(s, p)),
                _ => None,
            },
            vmstat: match (&sim.vmstat, &p.vmstat) {
                (Some(s), Some(p)) => Some(
                    s.iter()
                        .filter_map(|(k, v)| p.iter().find(|(pk, _)| pk == k).map(|(_, pv)| (k.clone(), *v, *pv)))
                        .collect(),
                ),
                _ => None,
            },
            cachestat: match (&sim.cachestat, &p.cachestat) {
                (Some(s), Some(p)) => Some(cachestat::compare(s, p)),
                _ => None,
            },
        })
        .collect();
    let cs_runs: Vec<Vec<cachestat::OpReport>> = runs.iter().filter_map(|r| r.cachestat.clone()).collect();
    let cachestat_ranges = (!cs_runs.is_empty()).then(|| cachestat::ranges(&cs_runs));
    // The run that agrees least, or with `median` the median run (the lower one of an even count).
    let worst = |f: &dyn Fn(&RunReport) -> Option<f64>| -> Option<(f64, String)> {
        let mut v: Vec<(f64, String)> = runs.iter().filter_map(|r| f(r).map(|v| (v, r.probe.clone()))).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let at = if thresholds.median { (v.len().max(1) - 1) / 2 } else { 0 };
        v.into_iter().nth(at)
    };
    let mut kernel_agreement = Vec::new();
    let mut minimum = Vec::new();
    for g in SCORED {
        if let Some((value, run)) = worst(&|r| Some(r.score(g))) {
            minimum.push(Minimum { name: g.name().to_string(), value, run });
        }
    }
    let mut files: Vec<String> =
        runs.iter().flat_map(|r| r.residency.iter().flatten().map(|f| f.file.clone())).collect();
    files.sort();
    files.dedup();
    for file in &files {
        let j = |r: &RunReport| r.residency.as_ref()?.iter().find(|f| &f.file == file).map(|f| f.jaccard);
        if let Some((value, run)) = worst(&j) {
            minimum.push(Minimum { name: format!("residency {file}"), value, run });
        }
    }
    let mut checks = Vec::new();
    let mut pcts = [thresholds.readahead_pct, thresholds.pages_pct, thresholds.block_pct];
    if thresholds.relative_to_kernel && probes.len() > 1 {
        let mut pairs = Vec::new();
        for i in 0..probes.len() {
            for j in i + 1..probes.len() {
                pairs.push(compare_with_limit(&probes[i].log, &probes[j].log, work_limit));
            }
        }
        for (g, req) in SCORED.into_iter().zip(pcts.iter_mut()).take(2) {
            let kernel = pairs.iter().map(|r| r.group(g).map_or(1.0, |x| x.in_order)).fold(1.0, f64::min) * 100.0;
            *req = req.map(|r| r.min(kernel));
            kernel_agreement.push(Minimum { name: g.name().to_string(), value: kernel / 100.0, run: "kernel".into() });
        }
    }
    for (g, req) in SCORED.into_iter().zip(pcts) {
        if let (Some(required), Some((v, run))) = (req, worst(&|r| Some(r.score(g)))) {
            let actual = v * 100.0;
            let measure = if g == Group::Block { "multiset" } else { "in_order" };
            checks.push(Check { name: g.name().into(), measure, required, actual, run, passed: actual >= required });
        }
    }
    // Residency: per file over the runs, then the least agreeing file.
    let residency = files
        .iter()
        .filter_map(|file| {
            worst(&|r: &RunReport| r.residency.as_ref()?.iter().find(|f| &f.file == file).map(|f| f.jaccard))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some(required), Some((actual, run))) = (thresholds.residency_jaccard, residency) {
        checks.push(Check {
            name: "residency".into(),
            measure: "jaccard",
            required,
            actual,
            run,
            passed: actual >= required,
        });
    }
    let counters = match thresholds.counters_tolerance {
        Some(tol) => check_counters(sim, probes, &PRESSURE_COUNTERS, tol),
        None => Vec::new(),
    };
    let eviction_order = eviction_order(sim, probes, work_limit);
    let writes = match thresholds.write_tolerance {
        Some(tol) => check_writes(sim, probes, tol, thresholds.writeback_interval_ns),
        None => Vec::new(),
    };
    let passed =
        checks.iter().all(|c| c.passed) && counters.iter().all(|c| c.passed) && writes.iter().all(|c| c.passed);
    Comparison {
        schema_version: SCHEMA_VERSION,
        sim: sim.path.display().to_string(),
        sim_log: sim.log_path.display().to_string(),
        runs,
        minimum,
        thresholds,
        checks,
        counters,
        eviction_order,
        kernel_agreement,
        writes,
        cachestat_ranges,
        passed,
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// The text rendering: per run the tracepoint table, group totals, first disagreements, residency and notes;
/// then the minimum over the runs and the threshold checks.
pub fn render_text(c: &Comparison) -> String {
    let mut o = String::new();
    for (n, run) in c.runs.iter().enumerate() {
        if n > 0 {
            o.push('\n');
        }
        let r = &run.events;
        let _ = writeln!(o, "sim   {} ({} events)", c.sim_log, r.sim_events);
        let _ = writeln!(o, "probe {} ({} events)", run.probe, r.probe_events);
        let _ = writeln!(
            o,
            "{:<34} {:<10} {:>8} {:>8} {:>9} {:>9}  first disagreement",
            "kind", "group", "sim", "probe", "in order", "multiset"
        );
        for k in &r.kinds {
            let first =
                k.first_disagreement.as_ref().map_or("-".to_string(), |d| format!("{} #{}", d.scope, d.position));
            let approx = if k.exact { "" } else { " (greedy: lower bound)" };
            let _ = writeln!(
                o,
                "{:<34} {:<10} {:>8} {:>8} {:>9} {:>9}  {first}{approx}",
                k.kind,
                k.group.name(),
                k.sim_count,
                k.probe_count,
                pct(k.in_order),
                pct(k.multiset)
            );
        }
        let _ = writeln!(o, "groups:");
        for g in &r.groups {
            let used = match (g.thresholded, g.group) {
                (false, _) => "not thresholded",
                (true, Group::Block) => "thresholds use multiset",
                (true, _) => "thresholds use in order",
            };
            let _ = writeln!(
                o,
                "  {:<32} {:<10} {:>8} {:>8} {:>9} {:>9}  {used}",
                g.group.name(),
                "",
                g.sim_count,
                g.probe_count,
                pct(g.in_order),
                pct(g.multiset)
            );
        }
        let firsts: Vec<_> = r.kinds.iter().filter_map(|k| Some((k.kind, k.first_disagreement.as_ref()?))).collect();
        if !firsts.is_empty() {
            let _ = writeln!(o, "first disagreements (event = ordinal among the log's events):");
        }
        for (kind, d) in firsts {
            let _ = writeln!(o, "  {kind} {} #{}:", d.scope, d.position);
            for (label, side) in [("sim  ", &d.sim), ("probe", &d.probe)] {
                match side {
                    Some(s) => writeln!(o, "    {label} event {}: {}", s.event, s.line),
                    None => writeln!(o, "    {label} (stream ended)"),
                }
                .expect("writing to a String");
            }
        }
        match &run.residency {
            None => {
                let _ = writeln!(o, "residency: not compared (residency.txt missing on a side)");
            }
            Some(files) => {
                let _ =
                    writeln!(o, "residency (Jaccard of resident page sets; nr_cache and resident pages sim/probe):");
                for f in files {
                    let nc = |v: Option<u64>| v.map_or("absent".to_string(), |n| n.to_string());
                    let _ = writeln!(
                        o,
                        "  {:<20} jaccard {:.4}  nr_cache {}/{}  resident {}/{}  common {}",
                        f.file,
                        f.jaccard,
                        nc(f.sim_nr_cache),
                        nc(f.probe_nr_cache),
                        f.sim_resident,
                        f.probe_resident,
                        f.common
                    );
                }
            }
        }
        if let Some(rows) = &run.vmstat {
            let _ = writeln!(
                o,
                "vmstat (model / kernel; the kernel's counters are host-wide deltas, and its pgpgin counts the loop device \
                 and its backing disk, twice the model's):"
            );
            for (name, sim, probe) in rows {
                let _ = writeln!(o, "  {name:<28} {sim:>12} {probe:>12}");
            }
        }
        if let Some(ops) = &run.cachestat {
            let equal = ops.iter().filter(|op| op.equal()).count();
            let _ = writeln!(
                o,
                "cachestat ({equal}/{} ops equal; nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted, \
                 sim / probe):",
                ops.len()
            );
            let show = |c: Option<[u64; 5]>| {
                c.map_or("absent".to_string(), |c| c.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "))
            };
            for op in ops {
                let mark = if op.equal() { "" } else { "  DIFFERS" };
                let _ = writeln!(
                    o,
                    "  {} #{} {} off {} len {}: {} / {}{mark}",
                    op.task,
                    op.n,
                    op.file,
                    op.off,
                    op.len,
                    show(op.sim),
                    show(op.probe)
                );
            }
        }
        for note in &r.notes {
            let _ = writeln!(o, "note: {note}");
        }
    }
    if let Some(ranges) = c.cachestat_ranges.as_ref().filter(|_| c.runs.len() > 1) {
        let outside: Vec<_> = ranges.iter().filter(|f| !f.within).collect();
        let _ = writeln!(
            o,
            "\ncachestat over {} runs: {} of {} counts inside the kernel's range ({} repeatable in every run)",
            c.runs.len(),
            ranges.len() - outside.len(),
            ranges.len(),
            ranges.iter().filter(|f| f.repeatable).count()
        );
        for f in outside {
            let sim = f.sim.map_or("absent".to_string(), |v| v.to_string());
            let _ =
                writeln!(o, "  {} #{} {}: sim {sim}, kernel {}..={}", f.task, f.n, f.field, f.probe_min, f.probe_max);
        }
    }
    if c.runs.len() > 1 {
        let over = if c.thresholds.median { "median" } else { "minimum" };
        let _ = writeln!(o, "\n{over} over {} runs:", c.runs.len());
        for m in &c.minimum {
            let v = if m.name.starts_with("residency") { format!("{:.4}", m.value) } else { pct(m.value) };
            let _ = writeln!(o, "  {:<32} {v:>9}  ({})", m.name, m.run);
        }
    }
    for k in &c.kernel_agreement {
        let _ = writeln!(o, "kernel runs among themselves: {} in order >= {}", k.name, pct(k.value));
    }
    if let Some(e) = &c.eviction_order {
        let model: Vec<String> = e.model.iter().map(|&v| pct(v)).collect();
        let _ = writeln!(
            o,
            "eviction order (deletes in order): model vs kernel runs {}; kernel runs among themselves >= {} ({}); \
             deletes model {} kernel {:?}",
            model.join(" "),
            pct(e.kernel_min),
            if e.kernel_deterministic() { "deterministic" } else { "not deterministic" },
            e.deletes_model,
            e.deletes_kernel
        );
    }
    for ch in &c.writes {
        let verdict = if ch.passed { "ok" } else { "OUTSIDE" };
        let v = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
        let kernel: Vec<String> = ch.kernel.iter().map(|&x| v(x)).collect();
        let _ = writeln!(
            o,
            "write {:<36} model {:>10}  kernel [{}]  accepted {:.1}..={:.1} {verdict}",
            ch.name,
            v(ch.model),
            kernel.join(", "),
            ch.lo,
            ch.hi
        );
    }
    for ch in &c.counters {
        let verdict = if ch.passed { "ok" } else { "OUTSIDE" };
        let _ = writeln!(
            o,
            "counter {:<26} model {:>10}  kernel {:?}  accepted {}..={} {verdict}",
            ch.name, ch.model, ch.kernel, ch.lo, ch.hi
        );
    }
    for ch in &c.checks {
        let (req, act) = if ch.measure == "jaccard" {
            (format!("{:.4}", ch.required), format!("{:.4}", ch.actual))
        } else {
            (format!("{:.2}%", ch.required), format!("{:.2}%", ch.actual))
        };
        let verdict = if ch.passed { "ok" } else { "BELOW THRESHOLD" };
        let _ = writeln!(o, "threshold {} ({}) >= {req}: {act} ({}) {verdict}", ch.name, ch.measure, ch.run);
    }
    o
}

/// The JSON rendering (pretty-printed, with a trailing newline).
pub fn render_json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("the comparison serialises");
    s.push('\n');
    s
}
