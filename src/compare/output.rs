//! The comparison of one simulated run with one or more probe runs, the threshold checks, and its two renderings:
//! a text table (stdout) and JSON (`--json`, with `schema_version`).
//!
//! With several probe runs each is compared and reported, and thresholds are checked against the minimum over
//! the runs (the run that agrees least).

use serde::Serialize;

use super::cachestat;
use super::counters::{check_counters, eviction_order, CounterCheck, EvictionOrder, PRESSURE_COUNTERS};
use super::input::Input;
use super::residency::{self, ResidencyReport};
use super::write_checks::{check_writes, WriteCheck};
use super::{compare_with_limit, Group, Report, SCHEMA_VERSION};

pub use super::render::render_text;

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
    /// How long the workload ran: the model's simulated time and each kernel run's (ns), when both sides record
    /// it (reported, not thresholded).
    pub elapsed: Option<Elapsed>,
    /// With `write_tolerance`: the dirty, writeback and write-rate curves' agreement with the kernel runs'
    /// envelope over time (reported, not thresholded yet).
    pub curves: Vec<super::envelope::CurveScore>,
    /// Per cachestat op and count, the model against the kernel's range over the runs (when both sides have
    /// cachestat.txt).
    pub cachestat_ranges: Option<Vec<cachestat::FieldRange>>,
    pub passed: bool,
}

/// The workload's elapsed time on both sides.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Elapsed {
    pub model_ns: u64,
    pub kernel_ns: Vec<u64>,
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
    let elapsed = sim.duration_ns.and_then(|model_ns| {
        let kernel_ns = probes.iter().map(|p| p.duration_ns).collect::<Option<Vec<u64>>>()?;
        (!kernel_ns.is_empty()).then_some(Elapsed { model_ns, kernel_ns })
    });
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
        elapsed,
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

/// The JSON rendering (pretty-printed, with a trailing newline).
pub fn render_json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("the comparison serialises");
    s.push('\n');
    s
}
