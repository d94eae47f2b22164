//! `pcsim plot SWEEP_DIR --out PLOT_DIR` (and `sweep --plot`): the sweep's plots, SVG (PNG too with `--png`).
//!
//! - `metric-NAME.svg`: a metric against the first knob, one line per value of the other knobs, a band for the
//!   seeds' spread (min..max), the kernel's runs as points with their range (`--probe`);
//! - `mrc-miss_ratio.svg`, `mrc-device_reads.svg`: the miss-ratio curve, when a knob is a memory size
//!   (`machine.memory`, `machine.memcg_limit`);
//! - per run (each configuration's first seed), under `runs/ID/`: `dirty.svg` (dirty and writeback pages with the
//!   background threshold, freerun, setpoint and limit), `pauses.svg` (balance_dirty_pages pauses over time),
//!   `pause_hist.svg` (their distribution), `rates.svg` (per-task dirty rate, its task_ratelimit and the device's
//!   bandwidth estimate), `readahead.svg` (window sizes over time), `residency-FILE.svg` (a heatmap of file
//!   offset x time), `latency_cdf.svg` (op latency CDF per task), `write_rq.svg` (write request sizes).
//!
//! Titles name the scenario and the setting, never a path.

pub mod chart;
mod heat;
mod runs;

use std::path::{Path, PathBuf};

use chart::{Chart, Series, Style};

use super::grid::SweepSpec;
use super::results::{self, Results, Row};

/// What a metric is, for titles and axes: (name, description, unit label, integer).
pub const METRICS: &[(&str, &str, &str, bool)] = &[
    ("elapsed_s", "elapsed time", "seconds", false),
    ("mib_s", "throughput (all tasks' bytes)", "MiB/s", false),
    ("write_mib_s", "write throughput (pages dirtied)", "MiB/s", false),
    ("op_p99_us", "op latency p99", "µs", false),
    ("op_max_us", "op latency max", "µs", false),
    ("sync_p99_us", "fsync/sync latency p99", "µs", false),
    ("sync_max_us", "fsync/sync latency max", "µs", false),
    ("pauses", "balance_dirty_pages pauses", "pauses", true),
    ("pause_p50_ms", "balance_dirty_pages pause p50", "ms", true),
    ("pause_p90_ms", "balance_dirty_pages pause p90", "ms", true),
    ("throttled_s", "time throttled in balance_dirty_pages", "seconds", false),
    ("steady_nr_dirty", "steady nr_dirty", "pages", true),
    ("nr_dirty_max", "nr_dirty max", "pages", true),
    ("at_risk_max_mib", "data at risk at the worst moment (dirty + writeback)", "MiB", false),
    ("dirty_mib_s", "data at risk over time (dirty byte-seconds)", "MiB·s", false),
    ("oldest_dirty_s", "oldest unwritten page's age, worst", "seconds", false),
    ("hit_ratio", "read hit ratio", "fraction of reads", false),
    ("pages_read", "pages read from the device", "pages", true),
    ("read_amp", "read amplification", "device bytes per byte read", false),
    ("ra_events", "readahead decisions (sync + async)", "events", true),
    ("ra_unused_pages", "readahead pages never read", "pages", true),
    ("refaults", "refaults (workingset_refault_file)", "refaults", true),
    ("busy_s", "device busy time", "seconds", false),
    ("write_rqs", "data write requests", "requests", true),
];

/// Per-task metrics plotted: (suffix, description, unit, integer).
const TASK_METRICS: &[(&str, &str, &str, bool)] = &[
    ("mib_s", "throughput", "MiB/s", false),
    ("p99_us", "op latency p99", "µs", false),
    ("sync_p99_us", "fsync/sync latency p99", "µs", false),
];

fn io(p: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", p.display())
}

/// Draws every plot of the sweep in `dir` into `out` (created if needed; files there are replaced).
pub fn plot_sweep(dir: &Path, out: &Path, png: bool) -> Result<Vec<PathBuf>, String> {
    let res = results::load(dir)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut written = Vec::new();
    written.extend(knob_plots(&res, out, png)?);
    written.extend(mrc_plots(&res, out, png)?);
    for row in &res.rows {
        let seed = res.sweep.seeds[0];
        let run = dir.join("runs").join(SweepSpec::run_id(row.config, seed));
        if run.join("timeline.json").is_file() {
            let title = format!("{} [{}, seed {seed}]", res.sweep.scenario, setting(&res.sweep, row));
            let dest = out.join("runs").join(&row.id);
            std::fs::create_dir_all(&dest).map_err(io(&dest))?;
            written.extend(runs::plot_run(&run, &dest, &title, png)?);
        }
    }
    Ok(written)
}

/// "path=label, ..." of a row.
pub fn setting(spec: &SweepSpec, row: &Row) -> String {
    spec.axes.iter().zip(&row.settings).map(|(a, l)| format!("{}={l}", a.path)).collect::<Vec<_>>().join(", ")
}

/// The x coordinate of each value of axis `a`, whether it is logarithmic, and the value names when not numeric.
fn x_axis(spec: &SweepSpec, a: usize) -> (Vec<f64>, bool, Vec<String>) {
    let ax = &spec.axes[a];
    let nums: Option<Vec<f64>> = ax.nums.iter().copied().collect();
    match nums {
        Some(n) if n.iter().all(|&v| v > 0.0) && n.len() > 2 => {
            let (lo, hi) = n.iter().fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            (scale(ax, &n), hi / lo >= 16.0, Vec::new())
        }
        Some(n) => (scale(ax, &n), false, Vec::new()),
        None => ((0..ax.labels.len()).map(|i| i as f64).collect(), false, ax.labels.clone()),
    }
}

/// Sizes in MiB and times in ms on plots (labels like `4g` mean bytes; `500ms` ns).
fn scale(ax: &super::grid::Axis, n: &[f64]) -> Vec<f64> {
    let unit = x_unit(ax);
    n.iter().map(|v| v / unit.1).collect()
}

/// (unit label, divisor) of an axis, from its labels' style.
fn x_unit(ax: &super::grid::Axis) -> (&'static str, f64) {
    let l = ax.labels.iter().find(|l| l.parse::<f64>().is_err());
    match l {
        Some(l) if l.ends_with("s") => ("ms", 1e6),
        Some(_) => ("MiB", 1048576.0),
        None => ("", 1.0),
    }
}

fn x_label(ax: &super::grid::Axis) -> String {
    let (u, _) = x_unit(ax);
    if u.is_empty() {
        ax.path.clone()
    } else {
        format!("{} ({u})", ax.path)
    }
}

/// Rows grouped by the values of every axis but `a` (in row order), named "path=v, ...".
fn groups(res: &Results, a: usize) -> Vec<(String, Vec<&Row>)> {
    let mut out: Vec<(String, Vec<&Row>)> = Vec::new();
    for r in &res.rows {
        let key = if res.sweep.zip {
            String::new()
        } else {
            res.sweep
                .axes
                .iter()
                .zip(&r.settings)
                .enumerate()
                .filter(|(k, _)| *k != a)
                .map(|(_, (ax, l))| format!("{}={l}", ax.path))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => out.push((key, vec![r])),
        }
    }
    out
}

/// The chart of metric `m` against axis `a`: a line (and band) per group, the kernel's points beside.
fn metric_chart(res: &Results, a: usize, m: &str, desc: &str, unit: &str, int: bool, f: impl Fn(f64) -> f64) -> Chart {
    let spec = &res.sweep;
    let (xs, log, names) = x_axis(spec, a);
    let x_of = |r: &Row| xs[spec.axes[a].labels.iter().position(|l| *l == r.settings[a]).unwrap_or(0)];
    let mut series = Vec::new();
    for (key, rows) in groups(res, a) {
        let name = if key.is_empty() { "model".to_string() } else { format!("model {key}") };
        let mut s = Series::new(name, Style::Line, Vec::new());
        s.marker = true;
        for r in &rows {
            if let Some(st) = r.get(m) {
                if let Some(v) = st.median {
                    s.pts.push((x_of(r), f(v)));
                    if spec.seeds.len() > 1 {
                        s.spread.push((x_of(r), f(st.min.unwrap_or(v)), f(st.max.unwrap_or(v))));
                    }
                }
            }
        }
        let mut k = Series::new(
            if key.is_empty() { "kernel (median, min..max of runs)".to_string() } else { format!("kernel {key}") },
            Style::Points,
            Vec::new(),
        );
        for r in &rows {
            if let Some(st) = r.kernel(m) {
                if let Some(v) = st.median {
                    k.pts.push((x_of(r), f(v)));
                    k.spread.push((x_of(r), f(st.min.unwrap_or(v)), f(st.max.unwrap_or(v))));
                }
            }
        }
        series.push(s);
        if !k.pts.is_empty() {
            series.push(k);
        }
    }
    let mut title = format!("{}: {desc} against {}", spec.scenario, spec.axes[a].path);
    if spec.seeds.len() > 1 {
        title.push_str(&format!(" (seeds {})", results::seeds_label(&spec.seeds)));
    }
    Chart {
        title,
        x_label: x_label(&spec.axes[a]),
        y_label: format!("{desc} ({unit})"),
        x_log: log,
        x_int: names.is_empty() && x_unit(&spec.axes[a]).0.is_empty(),
        y_int: int,
        x_names: names,
        series,
    }
}

fn has_values(res: &Results, m: &str) -> bool {
    res.rows.iter().any(|r| {
        r.get(m).and_then(|s| s.median).is_some_and(|v| v != 0.0) || r.kernel(m).and_then(|s| s.median).is_some()
    })
}

fn knob_plots(res: &Results, out: &Path, png: bool) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for &(m, desc, unit, int) in METRICS {
        if has_values(res, m) {
            let c = metric_chart(res, 0, m, desc, unit, int, |v| v);
            written.extend(chart::write(&c, &out.join(format!("metric-{m}")), png)?);
        }
    }
    let mut tasks: Vec<String> = Vec::new();
    for r in &res.rows {
        for s in &r.model {
            if let Some((t, _)) = s.name.rsplit_once('.').filter(|(_, suf)| *suf == "mib_s") {
                if !tasks.iter().any(|x| x == t) {
                    tasks.push(t.to_string());
                }
            }
        }
    }
    if tasks.len() > 1 {
        for t in &tasks {
            for &(suf, desc, unit, int) in TASK_METRICS {
                let m = format!("{t}.{suf}");
                if has_values(res, &m) {
                    let c = metric_chart(res, 0, &m, &format!("task {t}: {desc}"), unit, int, |v| v);
                    written.extend(chart::write(&c, &out.join(format!("metric-{m}")), png)?);
                }
            }
        }
    }
    Ok(written)
}

/// The miss-ratio curve: miss ratio and device reads against the memory knob.
fn mrc_plots(res: &Results, out: &Path, png: bool) -> Result<Vec<PathBuf>, String> {
    let Some(a) = res.sweep.axes.iter().position(|ax| ax.path.ends_with("memory") || ax.path.ends_with("memcg_limit"))
    else {
        return Ok(Vec::new());
    };
    let mut written = Vec::new();
    let mut c =
        metric_chart(res, a, "hit_ratio", "miss ratio (reads that waited for I/O)", "fraction of reads", false, |v| {
            crate::sweep::metrics::round(1.0 - v)
        });
    c.title = format!("{}: miss-ratio curve against {}", res.sweep.scenario, res.sweep.axes[a].path);
    written.extend(chart::write(&c, &out.join("mrc-miss_ratio"), png)?);
    let mut c = metric_chart(res, a, "pages_read", "read from the device", "MiB", false, |v| v * 4096.0 / 1048576.0);
    c.title = format!("{}: device reads against {}", res.sweep.scenario, res.sweep.axes[a].path);
    written.extend(chart::write(&c, &out.join("mrc-device_reads"), png)?);
    Ok(written)
}
