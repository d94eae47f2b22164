//! What-if sweeps (`pcsim sweep`): a scenario run over a grid of settings, each configuration's metrics in one
//! row; the kernel's beside them with `--probe`; shards and their merge; plots (`plot`).
//!
//! ```text
//! --set PATH=VALUES ...  -> grid (path: the scenario's RON tree edited in place; values: lists and ranges)
//!   -> per configuration x seed: simulate (std threads, --jobs) -> metrics + runs/ID/{timeline.json, vmstat_series.txt}
//!   -> per configuration: median/min/max over the seeds (and over the probe's runs) -> results.{json,csv}, table
//! ```
//! Every output depends only on the inputs: runs are written to their own files, rows are sorted by
//! configuration, nothing reads the wall clock but the progress display.

pub mod grid;
pub mod merge;
pub mod metrics;
pub mod outdir;
pub mod path;
pub mod plot;
pub mod probe;
pub mod results;
pub mod ron_tree;
pub mod timeline;
pub mod values;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use grid::{Config, Shard, SweepSpec};
use metrics::Metrics;
use results::{Results, Row};

use crate::scenario::{InitialState, Scenario};
use crate::sim::{self, SimOptions};
use crate::trace::log::Log;

/// A sweep's command line, resolved.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    pub scenario: PathBuf,
    pub sets: Vec<String>,
    pub zip: bool,
    pub seeds: Option<String>,
    pub jobs: usize,
    pub shard: Option<Shard>,
    pub out: PathBuf,
    /// Probe runs per configuration (0: none).
    pub probe_runs: u32,
    /// The probe's `--settle` (seconds).
    pub probe_settle: u32,
    /// Plot into OUT/plots after the runs (PNG too when `png`).
    pub plot: bool,
    pub png: bool,
}

/// Why a sweep stopped: bad input (exit 2) or a failed run (exit 1, results written).
#[derive(Debug)]
pub struct SweepError {
    pub code: i32,
    pub msg: String,
}

fn bad(msg: impl Into<String>) -> SweepError {
    SweepError { code: 2, msg: msg.into() }
}

/// Builds the grid without running it (the checks of bad input happen here).
pub fn plan(opts: &SweepOptions) -> Result<(SweepSpec, Vec<Config>), SweepError> {
    let source = opts.scenario.display().to_string();
    let text = std::fs::read_to_string(&opts.scenario).map_err(|e| bad(format!("{source}: {e}")))?;
    let (mut spec, configs) = grid::build(&source, &text, &opts.sets, opts.zip, opts.seeds.as_deref()).map_err(bad)?;
    spec.probe_runs = opts.probe_runs;
    Ok((spec, configs))
}

/// Runs the sweep into `opts.out`.
pub fn run(opts: &SweepOptions) -> Result<Results, SweepError> {
    let (spec, configs) = plan(opts)?;
    if opts.probe_runs > 0 {
        // Before any run: a host that cannot probe is bad input, not an hour of model runs and then an error.
        crate::probe::host::preflight().map_err(|e| bad(format!("--probe: {e}")))?;
    }
    let configs: Vec<Config> = configs.into_iter().filter(|c| opts.shard.is_none_or(|s| s.takes(c.index))).collect();
    let out = outdir::Staged::new(&opts.out).map_err(bad)?;
    let dir = out.path().to_path_buf();
    let io = |e: std::io::Error| bad(format!("writing into {}: {e}", opts.out.display()));
    std::fs::create_dir_all(dir.join("configs")).map_err(io)?;
    std::fs::create_dir_all(dir.join("runs")).map_err(io)?;
    for c in &configs {
        std::fs::write(dir.join("configs").join(format!("{}.ron", SweepSpec::id(c.index))), &c.text).map_err(io)?;
    }
    let jobs: Vec<(usize, u64)> =
        configs.iter().enumerate().flat_map(|(k, _)| spec.seeds.iter().map(move |&s| (k, s))).collect();
    let outcomes = run_jobs(&spec, &configs, &jobs, opts.jobs.max(1), &dir);
    let mut rows = Vec::new();
    for (k, c) in configs.iter().enumerate() {
        let mut runs: Vec<Metrics> = Vec::new();
        let mut error = None;
        for (j, &(jk, seed)) in jobs.iter().enumerate() {
            if jk != k {
                continue;
            }
            match &outcomes[j] {
                Ok(m) => runs.push(m.clone()),
                Err(e) => error = error.or(Some(format!("seed {seed}: {e}"))),
            }
        }
        rows.push(Row {
            config: c.index,
            id: SweepSpec::id(c.index),
            settings: spec.axes.iter().zip(&c.choice).map(|(a, &i)| a.labels[i].clone()).collect(),
            model: results::aggregate(&runs),
            kernel: Vec::new(),
            error,
        });
    }
    if opts.probe_runs > 0 {
        probe::run_all(&spec, &configs, &mut rows, &dir, opts.probe_runs, opts.probe_settle).map_err(bad)?;
    }
    let res = Results { sweep: spec, rows };
    write_results(&dir, &res, opts.shard).map_err(io)?;
    if opts.plot {
        plot::plot_sweep(&dir, &dir.join("plots"), opts.png).map_err(bad)?;
    }
    out.commit().map_err(bad)?;
    Ok(res)
}

/// Writes `sweep.json`, `results.json`, `results.csv` (and `shard.txt` for a shard).
pub fn write_results(dir: &Path, res: &Results, shard: Option<Shard>) -> std::io::Result<()> {
    let mut spec = serde_json::to_string_pretty(&res.sweep).unwrap_or_default();
    spec.push('\n');
    let w = |name: &str, text: &[u8]| crate::files::write_atomic(&dir.join(name), text).map_err(std::io::Error::other);
    w("sweep.json", spec.as_bytes())?;
    w("results.json", results::json(res).as_bytes())?;
    w("results.csv", results::csv(res).as_bytes())?;
    if let Some(s) = shard {
        w("shard.txt", format!("{}/{}\n", s.i, s.n).as_bytes())?;
    }
    Ok(())
}

/// Runs every (configuration, seed) on `n` threads; results in job order.
fn run_jobs(
    spec: &SweepSpec,
    configs: &[Config],
    jobs: &[(usize, u64)],
    n: usize,
    dir: &Path,
) -> Vec<Result<Metrics, String>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<Metrics, String>>>> = Mutex::new(vec![None; jobs.len()]);
    let bar = progress_bar(jobs.len());
    // The wall clock is read for the progress line only; nothing in the results depends on it.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..n.min(jobs.len()).max(1) {
            s.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(k, seed)) = jobs.get(j) else { break };
                let c = &configs[k];
                let r = run_model(spec, c, seed, dir);
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                let what = format!("{} seed {seed}: {}", SweepSpec::id(c.index), spec.setting(&c.choice));
                match &bar {
                    Some(b) => {
                        b.set_message(what);
                        b.inc(1);
                    }
                    None => eprintln!(
                        "[{d}/{}] {what}: {} ({:.1} s)",
                        jobs.len(),
                        if r.is_ok() { "done" } else { "FAILED" },
                        started.elapsed().as_secs_f64()
                    ),
                }
                slots.lock().unwrap_or_else(|e| e.into_inner())[j] = Some(r);
            });
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or(Err("not run".into())))
        .collect()
}

/// A progress bar with an ETA on a terminal; `None` (plain lines) otherwise.
fn progress_bar(n: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(n as u64);
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs, ETA {eta} {wide_msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    b.set_style(style);
    Some(b)
}

/// The initial cached ranges of the scenario's files, for the residency heatmap, and each file's largest size
/// (a file the run extends is drawn at its final size).
fn file_starts(sc: &Scenario, res: &sim::SimResult) -> Vec<timeline::FileStart> {
    sc.files
        .iter()
        .map(|f| {
            let end_pages = res.files.iter().find(|r| r.name == f.name).map_or(0, |r| r.size_pages);
            let pages = f.size.div_ceil(4096).max(end_pages);
            let cached = match f.state {
                InitialState::Cold => vec![],
                InitialState::Cached if pages > 0 => vec![(0, pages - 1)],
                InitialState::Cached => vec![],
                InitialState::CachedRange { off, len } | InitialState::DirtyRange { off, len } => {
                    vec![(off / 4096, (off + len - 1) / 4096)]
                }
            };
            timeline::FileStart { name: f.name.clone(), size_pages: pages, cached }
        })
        .collect()
}

/// One model run: simulate, compute its metrics, save what its plots need under `runs/ID/`.
fn run_model(spec: &SweepSpec, c: &Config, seed: u64, dir: &Path) -> Result<Metrics, String> {
    let sc = Scenario::parse_with_seed(&c.text, &spec.source, Some(seed)).map_err(|e| e.to_string())?;
    let mut res = sim::simulate(&sc, &SimOptions { events: true, ..Default::default() }).map_err(|e| e.to_string())?;
    let log = Log { header: Default::default(), events: std::mem::take(&mut res.events) };
    let view = metrics::model_view(&res, &log, &sc);
    let m = metrics::compute(&view);
    let tl = timeline::build(&view, &file_starts(&sc, &res));
    let run_dir = dir.join("runs").join(SweepSpec::run_id(c.index, seed));
    let w = |e: std::io::Error| format!("writing {}: {e}", run_dir.display());
    std::fs::create_dir_all(&run_dir).map_err(w)?;
    std::fs::write(run_dir.join("timeline.json"), serde_json::to_string(&tl).unwrap_or_default()).map_err(w)?;
    if let Some(s) = &res.series {
        std::fs::write(run_dir.join("vmstat_series.txt"), crate::trace::series::write_series(s)).map_err(w)?;
    }
    Ok(m)
}
