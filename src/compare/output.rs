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
    /// With `write_tolerance`: the dirty, writeback and write-rate curves' agreement with the kernel runs'
    /// envelope over time (reported, not thresholded yet).
    pub curves: Vec<super::envelope::CurveScore>,
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
    let runs: Vec<RunReport> = probes.iter().map(|p| run_report(sim, p, work_limit)).collect();
    let cs_runs: Vec<Vec<cachestat::OpReport>> = runs.iter().filter_map(|r| r.cachestat.clone()).collect();
    let cachestat_ranges = (!cs_runs.is_empty()).then(|| cachestat::ranges(&cs_runs));
    let files = residency_files(&runs);
    let minimum = minimums(&runs, &files, thresholds.median);
    let (pcts, kernel_agreement) = event_thresholds(probes, &thresholds, work_limit);
    let mut checks = event_checks(&runs, pcts, thresholds.median);
    checks.extend(residency_check(&runs, &files, &thresholds));
    let counters = match thresholds.counters_tolerance {
        Some(tol) => check_counters(sim, probes, &PRESSURE_COUNTERS, tol),
        None => Vec::new(),
    };
    let eviction_order = eviction_order(sim, probes, work_limit);
    let writes = match thresholds.write_tolerance {
        Some(tol) => check_writes(sim, probes, tol, thresholds.writeback_interval_ns),
        None => Vec::new(),
    };
    let curves = match thresholds.write_tolerance {
        Some(_) => super::envelope::curve_scores(sim, probes),
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
        curves,
        cachestat_ranges,
        passed,
    }
}

/// One probe run compared with the simulated run: events, and residency, vmstat and cachestat where both sides
/// recorded them.
fn run_report(sim: &Input, p: &Input, work_limit: u64) -> RunReport {
    RunReport {
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
    }
}

/// The run that agrees least by `f`, or with `median` the median run (the lower one of an even count): its value
/// and name. Runs without a value are skipped.
fn worst(runs: &[RunReport], median: bool, f: &dyn Fn(&RunReport) -> Option<f64>) -> Option<(f64, String)> {
    let mut v: Vec<(f64, String)> = runs.iter().filter_map(|r| f(r).map(|v| (v, r.probe.clone()))).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let at = if median { (v.len().max(1) - 1) / 2 } else { 0 };
    v.into_iter().nth(at)
}

/// A run's Jaccard index for `file`, if it compared that file's residency.
fn file_jaccard(r: &RunReport, file: &str) -> Option<f64> {
    r.residency.as_ref()?.iter().find(|f| f.file == file).map(|f| f.jaccard)
}

/// The files whose residency some run compared, sorted.
fn residency_files(runs: &[RunReport]) -> Vec<String> {
    let mut files: Vec<String> =
        runs.iter().flat_map(|r| r.residency.iter().flatten().map(|f| f.file.clone())).collect();
    files.sort();
    files.dedup();
    files
}

/// Per scored group, then per file's residency, the worst (or median) value over the runs.
fn minimums(runs: &[RunReport], files: &[String], median: bool) -> Vec<Minimum> {
    let mut minimum = Vec::new();
    for g in SCORED {
        if let Some((value, run)) = worst(runs, median, &|r| Some(r.score(g))) {
            minimum.push(Minimum { name: g.name().to_string(), value, run });
        }
    }
    for file in files {
        if let Some((value, run)) = worst(runs, median, &|r| file_jaccard(r, file)) {
            minimum.push(Minimum { name: format!("residency {file}"), value, run });
        }
    }
    minimum
}

/// The required percentages of the scored groups; with `relative_to_kernel` (and several runs) the readahead and
/// pages ones lowered to the kernel's agreement among its own runs, which is returned too.
fn event_thresholds(probes: &[Input], thresholds: &Thresholds, work_limit: u64) -> ([Option<f64>; 3], Vec<Minimum>) {
    let mut pcts = [thresholds.readahead_pct, thresholds.pages_pct, thresholds.block_pct];
    let mut kernel_agreement = Vec::new();
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
    (pcts, kernel_agreement)
}

/// The scored groups' checks, for those with a required percentage.
fn event_checks(runs: &[RunReport], pcts: [Option<f64>; 3], median: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    for (g, req) in SCORED.into_iter().zip(pcts) {
        if let (Some(required), Some((v, run))) = (req, worst(runs, median, &|r| Some(r.score(g)))) {
            let actual = v * 100.0;
            let measure = if g == Group::Block { "multiset" } else { "in_order" };
            checks.push(Check { name: g.name().into(), measure, required, actual, run, passed: actual >= required });
        }
    }
    checks
}

/// The residency check, when required: per file over the runs, then the least agreeing file.
fn residency_check(runs: &[RunReport], files: &[String], thresholds: &Thresholds) -> Option<Check> {
    let residency = files
        .iter()
        .filter_map(|file| worst(runs, thresholds.median, &|r| file_jaccard(r, file)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let (required, (actual, run)) = (thresholds.residency_jaccard?, residency?);
    Some(Check { name: "residency".into(), measure: "jaccard", required, actual, run, passed: actual >= required })
}

/// A fraction as a percentage with two decimals.
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
        render_run(&mut o, &c.sim_log, run);
    }
    render_cachestat_ranges(&mut o, c);
    render_minimum(&mut o, c);
    render_kernel_and_evictions(&mut o, c);
    render_writes(&mut o, &c.writes);
    render_curves(&mut o, &c.curves);
    render_counters(&mut o, &c.counters);
    render_checks(&mut o, &c.checks);
    o
}

/// One run's part: header, tracepoint table, groups, first disagreements, residency, vmstat, cachestat, notes.
fn render_run(o: &mut String, sim_log: &str, run: &RunReport) {
    let r = &run.events;
    let _ = writeln!(o, "sim   {} ({} events)", sim_log, r.sim_events);
    let _ = writeln!(o, "probe {} ({} events)", run.probe, r.probe_events);
    render_kinds(o, r);
    render_groups(o, r);
    render_first_disagreements(o, r);
    render_residency(o, run.residency.as_deref());
    if let Some(rows) = &run.vmstat {
        render_vmstat(o, rows);
    }
    if let Some(ops) = &run.cachestat {
        render_cachestat(o, ops);
    }
    for note in &r.notes {
        let _ = writeln!(o, "note: {note}");
    }
}

/// The per-tracepoint table: counts, agreements and where the streams first part.
fn render_kinds(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "{:<34} {:<10} {:>8} {:>8} {:>9} {:>9}  first disagreement",
        "kind", "group", "sim", "probe", "in order", "multiset"
    );
    for k in &r.kinds {
        let first = k.first_disagreement.as_ref().map_or("-".to_string(), |d| format!("{} #{}", d.scope, d.position));
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
}

/// The group totals, and which agreement the thresholds use.
fn render_groups(o: &mut String, r: &Report) {
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
}

/// Each tracepoint's first disagreement with both sides' event lines.
fn render_first_disagreements(o: &mut String, r: &Report) {
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
}

/// The residency per file, or why it was not compared.
fn render_residency(o: &mut String, residency: Option<&[ResidencyReport]>) {
    let Some(files) = residency else {
        let _ = writeln!(o, "residency: not compared (residency.txt missing on a side)");
        return;
    };
    let _ = writeln!(o, "residency (Jaccard of resident page sets; nr_cache and resident pages sim/probe):");
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

/// The model's counters beside the kernel's deltas.
fn render_vmstat(o: &mut String, rows: &[(String, i64, i64)]) {
    let _ = writeln!(
        o,
        "vmstat (model / kernel; the kernel's counters are host-wide deltas, and its pgpgin counts the loop device \
         and its backing disk, twice the model's):"
    );
    for (name, sim, probe) in rows {
        let _ = writeln!(o, "  {name:<28} {sim:>12} {probe:>12}");
    }
}

/// Each cachestat op on both sides, those that differ marked.
fn render_cachestat(o: &mut String, ops: &[cachestat::OpReport]) {
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

/// With several runs: how many cachestat counts fall inside the kernel's range, and those outside it.
fn render_cachestat_ranges(o: &mut String, c: &Comparison) {
    let Some(ranges) = c.cachestat_ranges.as_ref().filter(|_| c.runs.len() > 1) else { return };
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
        let _ = writeln!(o, "  {} #{} {}: sim {sim}, kernel {}..={}", f.task, f.n, f.field, f.probe_min, f.probe_max);
    }
}

/// With several runs: the minimum (or median) over them, per group and per file.
fn render_minimum(o: &mut String, c: &Comparison) {
    if c.runs.len() <= 1 {
        return;
    }
    let over = if c.thresholds.median { "median" } else { "minimum" };
    let _ = writeln!(o, "\n{over} over {} runs:", c.runs.len());
    for m in &c.minimum {
        let v = if m.name.starts_with("residency") { format!("{:.4}", m.value) } else { pct(m.value) };
        let _ = writeln!(o, "  {:<32} {v:>9}  ({})", m.name, m.run);
    }
}

/// The kernel runs' agreement among themselves, and the eviction order's.
fn render_kernel_and_evictions(o: &mut String, c: &Comparison) {
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
}

/// The write-side checks.
fn render_writes(o: &mut String, writes: &[WriteCheck]) {
    for ch in writes {
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
}

/// The curve scores (reported, not thresholded).
fn render_curves(o: &mut String, curves: &[super::envelope::CurveScore]) {
    use super::envelope::{FLOOR_PAGES, TARGET, WIDEN};
    if !curves.is_empty() {
        let _ = writeln!(
            o,
            "curves: each run aligned on its first write; envelope = the kernel runs' min..max +-{:.0}% of their \
             median (at least {FLOOR_PAGES:.0} pages); reported, not thresholded",
            100.0 * WIDEN
        );
    }
    for s in curves {
        let _ = write!(
            o,
            "curve {:<14} {:>6.1}% of {} samples inside the kernel runs' envelope over {:.1} s from the first write \
             (target {:.0}%)",
            s.curve,
            100.0 * s.share(),
            s.samples,
            s.span_ns as f64 / 1e9,
            100.0 * TARGET
        );
        if let Some((t, v, lo, hi)) = s.first_outside {
            let _ = write!(o, "; first outside at +{:.1} s: model {v:.0}, envelope {lo:.0}..={hi:.0}", t as f64 / 1e9);
        }
        o.push('\n');
    }
}

/// The counter checks.
fn render_counters(o: &mut String, counters: &[CounterCheck]) {
    for ch in counters {
        let verdict = if ch.passed { "ok" } else { "OUTSIDE" };
        let _ = writeln!(
            o,
            "counter {:<26} model {:>10}  kernel {:?}  accepted {}..={} {verdict}",
            ch.name, ch.model, ch.kernel, ch.lo, ch.hi
        );
    }
}

/// The threshold checks.
fn render_checks(o: &mut String, checks: &[Check]) {
    for ch in checks {
        let (req, act) = if ch.measure == "jaccard" {
            (format!("{:.4}", ch.required), format!("{:.4}", ch.actual))
        } else {
            (format!("{:.2}%", ch.required), format!("{:.2}%", ch.actual))
        };
        let verdict = if ch.passed { "ok" } else { "BELOW THRESHOLD" };
        let _ = writeln!(o, "threshold {} ({}) >= {req}: {act} ({}) {verdict}", ch.name, ch.measure, ch.run);
    }
}

/// The JSON rendering (pretty-printed, with a trailing newline).
pub fn render_json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("the comparison serialises");
    s.push('\n');
    s
}
