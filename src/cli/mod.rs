//! Command-line interface: clap definitions, then one function per subcommand that resolves its config and calls
//! the library. Errors carry the exit code (`Failure`): 2 for bad input or an unusable host, 1 for a failed check,
//! 130 for an interrupted probe.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::compare;
use crate::probe::{self, ProbeError, ProbeOptions};
use crate::scenario::Scenario;

mod run_cmd;

pub use run_cmd::summary;

#[derive(Parser, Debug)]
#[command(
    name = "pcsim",
    version,
    about = "Deterministic model of the Linux page cache and writeback, and a probe \
    that runs the same workload on the host kernel"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run a scenario on this host's kernel (root): scratch loop filesystem, tracefs capture, normalised event log.
    Probe {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Output directory (must not exist or be empty); written atomically on success.
        #[arg(long)]
        out: PathBuf,
        /// Number of runs (each gets run-K/ and a stability.txt is written when more than one).
        #[arg(long, default_value_t = 1)]
        runs: u32,
        /// Apply the scenario's vm sysctls for the run (restored on every exit path).
        #[arg(long)]
        allow_sysctl: bool,
        /// Wait this many seconds after the set-up and sync(2), before the workload, so the writeout fractions
        /// of earlier writeback (3 s half-life) stop weighing on the devices' share of the dirty limit.
        #[arg(long, default_value_t = 0)]
        settle: u32,
    },
    /// Internal: the workload process of a probe run with a memory cgroup (started by `pcsim probe`).
    #[command(name = "__probe-worker", hide = true)]
    ProbeWorker {
        #[arg(long)]
        scenario: PathBuf,
        #[arg(long)]
        sha256: String,
        #[arg(long)]
        ops_dir: PathBuf,
        #[arg(long)]
        cgroup_procs: PathBuf,
        #[arg(long = "file")]
        files: Vec<PathBuf>,
    },
    /// Run a scenario through the model and print a summary.
    Run {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Write the event log to FILE (`-` for stdout).
        #[arg(long)]
        events: Option<PathBuf>,
        /// Write the summary as JSON to FILE (`-` for stdout).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write events.log, residency.txt, vmstat.txt (and cachestat.txt) into DIR (the probe's layout, for `compare`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Place files on the device as a probe run's extents.txt says (exact sectors).
        #[arg(long)]
        extents: Option<PathBuf>,
    },
    /// Compare a simulated run with probe runs: per-tracepoint agreement in log order and as a multiset,
    /// first disagreements, residency (Jaccard). Exit 1 when a threshold is not met, 2 on bad input.
    Compare {
        /// Simulated run: an output directory (events.log or events.log.gz, residency.txt) or an event-log file.
        sim: PathBuf,
        /// Probe output: a run directory, a directory of run-K/ subdirectories (each compared), or a log file.
        probe: PathBuf,
        #[command(flatten)]
        checks: Checks,
    },
    /// Simulate a scenario, run it on this kernel with the probe (or use captured probe runs), and compare: exit 1
    /// when agreement is below the thresholds (readahead and pages default to 100%). For a scenario with a memory
    /// cgroup limit the median run is checked, readahead needs the kernel runs' agreement among themselves, page
    /// events and the eviction order are reported only (they vary run to run), residency needs Jaccard 0.95 and
    /// the pressure counters must be within 10%. For a scenario that writes, the median run is checked, readahead
    /// and page events need the kernel runs' agreement among themselves, and the write-side figures must lie within
    /// 10% of the kernel's range.
    Validate {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Probe runs to make.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Use these probe runs (a probe output directory, e.g. traces/kernel/NAME) instead of probing: no root needed.
        #[arg(long)]
        probe_dir: Option<PathBuf>,
        /// Where to keep the simulated run and the probe runs (default: a new directory under /tmp).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Apply the scenario's vm sysctls during the probe runs (restored afterwards).
        #[arg(long)]
        allow_sysctl: bool,
        #[command(flatten)]
        checks: Checks,
    },
    /// Measure the probe's scratch device on this host (O_DIRECT bandwidth and latency) and write a device section
    /// for scenarios (root).
    Calibrate {
        /// Where to write the device section (RON).
        #[arg(long)]
        out: PathBuf,
        /// The device's name in the section.
        #[arg(long, default_value = "disk0")]
        name: String,
        /// Size of the scratch device, MiB.
        #[arg(long, default_value_t = 2048)]
        size_mib: u64,
        /// Size of the file measured on it, MiB (at most half the device).
        #[arg(long, default_value_t = 512)]
        file_mib: u64,
    },
    /// Validate a scenario and print what it describes.
    Check {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Also print every op of every task.
        #[arg(long)]
        ops: bool,
    },
}

/// A command's failure: message and exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub msg: String,
}

impl From<ProbeError> for Failure {
    fn from(e: ProbeError) -> Self {
        let code = match e {
            ProbeError::Interrupted(_) => 130,
            _ => 2,
        };
        Failure { code, msg: e.to_string() }
    }
}

fn bounded(s: &str, max: f64) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and {max}"))
    }
}

/// The comparison's outputs and thresholds, shared by `compare` and `validate` (validate fills in defaults by the
/// scenario's kind, given in brackets).
#[derive(Args, Debug)]
pub struct Checks {
    /// Also write the comparison as JSON to FILE (`-`: stdout, instead of the table).
    #[arg(long, value_name = "FILE|-")]
    json: Option<PathBuf>,
    /// Minimum in-order agreement of readahead events, percent [validate: 100].
    #[arg(long, value_name = "PCT", value_parser = percent)]
    min_readahead: Option<f64>,
    /// Minimum in-order agreement of page-cache (filemap) events, percent [validate: 100; memory-cgroup scenarios:
    /// none].
    #[arg(long, value_name = "PCT", value_parser = percent)]
    min_pages: Option<f64>,
    /// Minimum multiset agreement of block events, percent.
    #[arg(long, value_name = "PCT", value_parser = percent)]
    min_block: Option<f64>,
    /// Minimum residency Jaccard index over files (0..1) [validate, memory-cgroup scenarios: 0.95].
    #[arg(long, value_name = "J", value_parser = fraction)]
    min_residency: Option<f64>,
    /// Check the memory-pressure counters (workingset refaults, activations, shadow nodes reclaimed, KiB read from
    /// the scenario's devices) against the kernel's runs: inside their range widened by PCT of the median
    /// [validate, memory-cgroup scenarios: 10].
    #[arg(long, value_name = "PCT", value_parser = percent)]
    counters: Option<f64>,
    /// Check the median probe run instead of the least agreeing one [validate, memory-cgroup and writing
    /// scenarios: on].
    #[arg(long)]
    median: bool,
    /// Check the write-side figures (steady nr_dirty, writer throughput, balance_dirty_pages pauses and their
    /// p50/p90, the expiry pass, the write request size) against the kernel's runs: inside their range widened by
    /// PCT of the median [validate, scenarios that write: 10].
    #[arg(long, value_name = "PCT", value_parser = percent)]
    writes: Option<f64>,
    /// Also plot the devices' dirty and writeback pages over time, the pause distribution and the write request
    /// sizes, model and kernel runs, as SVG to FILE (needs
    /// vmstat_series.txt on every side).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

fn percent(s: &str) -> Result<f64, String> {
    bounded(s.trim_end_matches('%'), 100.0)
}

fn fraction(s: &str) -> Result<f64, String> {
    bounded(s, 1.0)
}

/// `pcsim validate`: probe (or take captured runs), simulate with the probe's extent map, compare.
fn validate(
    scenario: &std::path::Path,
    runs: u32,
    probe_dir: Option<PathBuf>,
    out: Option<PathBuf>,
    allow_sysctl: bool,
    (json, plot): (Option<&std::path::Path>, Option<&std::path::Path>),
    thresholds: compare::output::Thresholds,
) -> Result<(), Failure> {
    let sc = load(scenario)?;
    let bad = |msg: String| Failure { code: 2, msg };
    let dir =
        out.unwrap_or_else(|| std::env::temp_dir().join(format!("pcsim-validate-{}-{}", sc.name, std::process::id())));
    let probe_dir = match probe_dir {
        Some(p) => p,
        None => {
            let p = dir.join("probe");
            let opts = ProbeOptions { out: p.clone(), runs, allow_sysctl, settle_s: 0 };
            probe::probe(&sc, &opts)?;
            p
        }
    };
    let extents_path = ["run-1/extents_start.txt", "extents_start.txt", "run-1/extents.txt", "extents.txt"]
        .map(|n| probe_dir.join(n))
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| bad(format!("{}: no extents.txt (run-1/extents.txt) from a probe run", probe_dir.display())))?;
    // Files written during the run: complete the start layout with where the run allocated their blocks.
    let extents_path = match (
        std::fs::read_to_string(probe_dir.join("run-1/extents_start.txt")),
        std::fs::read_to_string(probe_dir.join("run-1/extents.txt")),
    ) {
        (Ok(start), Ok(end)) => {
            std::fs::create_dir_all(&dir).map_err(|e| bad(format!("creating {}: {e}", dir.display())))?;
            let p = dir.join("extents_merged.txt");
            std::fs::write(&p, crate::sim::merge_extents(&start, &end))
                .map_err(|e| bad(format!("writing {}: {e}", p.display())))?;
            p
        }
        _ => extents_path,
    };
    let sim_dir = dir.join("sim");
    run_cmd::simulate_into(&sc, scenario, &extents_path, &sim_dir)?;
    println!("simulated run: {}\nprobe runs: {}", sim_dir.display(), probe_dir.display());
    compare_cmd(&sim_dir, &probe_dir, json, thresholds, plot)
}

/// `pcsim compare`: load both sides, compare, print or write, and map the checks to exit codes.
fn compare_cmd(
    sim: &std::path::Path,
    probe: &std::path::Path,
    json: Option<&std::path::Path>,
    thresholds: compare::output::Thresholds,
    plot: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let bad = |msg: String| Failure { code: 2, msg };
    let sim = compare::input::load_run(sim).map_err(bad)?;
    let probes = compare::input::load_probe(probe).map_err(bad)?;
    if let Some(p) = plot {
        let mut runs: Vec<(String, &crate::trace::series::Series, compare::curves::WriteFigures)> = Vec::new();
        for (label, input) in std::iter::once(("model".to_string(), &sim))
            .chain(probes.iter().map(|i| (format!("kernel {}", i.path.display()), i)))
        {
            let s = input.series.as_ref().ok_or_else(|| {
                bad(format!(
                    "{}: --plot needs a vmstat_series.txt on every side, and there is none here",
                    input.path.display()
                ))
            })?;
            let devices: Vec<&str> = s.header.get("devices").map(|d| d.split(',').collect()).unwrap_or_default();
            let figures = compare::curves::figures(&input.log, s, &devices);
            runs.push((label, s, figures));
        }
        crate::report::plot::write_curves_svg(p, &format!("{}: the write side", sim.path.display()), &runs)
            .map_err(bad)?;
    }
    if thresholds.residency_jaccard.is_some() {
        for side in std::iter::once(&sim).chain(&probes) {
            if side.residency.is_none() {
                return Err(bad(format!(
                    "{}: --min-residency needs a residency.txt on both sides, and there is none here",
                    side.path.display()
                )));
            }
        }
    }
    let c = compare::output::compare_runs(&sim, &probes, thresholds, compare::align::DEFAULT_WORK_LIMIT);
    let to_stdout = json.is_some_and(|p| p.as_os_str() == "-");
    if !to_stdout {
        print!("{}", compare::output::render_text(&c));
    }
    if let Some(p) = json {
        let text = compare::output::render_json(&c);
        if to_stdout {
            print!("{text}");
        } else {
            std::fs::write(p, text).map_err(|e| bad(format!("{}: {e}", p.display())))?;
        }
    }
    let failed: Vec<String> = c
        .failures()
        .map(|ch| {
            if ch.measure == "jaccard" {
                format!("residency jaccard {:.4} < {:.4} ({})", ch.actual, ch.required, ch.run)
            } else {
                format!("{} {} {:.2}% < {:.2}% ({})", ch.name, ch.measure, ch.actual, ch.required, ch.run)
            }
        })
        .collect();
    let failed: Vec<String> = failed
        .into_iter()
        .chain(c.counter_failures().map(|ch| format!("{} model {} outside {}..={}", ch.name, ch.model, ch.lo, ch.hi)))
        .chain(c.write_failures().map(|ch| {
            format!(
                "{} model {} outside {:.1}..={:.1}",
                ch.name,
                ch.model.map_or("-".into(), |v| format!("{v:.1}")),
                ch.lo,
                ch.hi
            )
        }))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure { code: 1, msg: format!("below threshold: {}", failed.join("; ")) })
    }
}

pub(crate) fn load(path: &std::path::Path) -> Result<Scenario, Failure> {
    Scenario::load(path).map_err(|e| Failure { code: 2, msg: e.to_string() })
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Probe { scenario, out, runs, allow_sysctl, settle } => {
            let sc = load(&scenario)?;
            let opts = ProbeOptions { out: out.clone(), runs, allow_sysctl, settle_s: settle };
            let sums = probe::probe(&sc, &opts)?;
            for s in &sums {
                println!(
                    "{}: {} events ({} lost), {} ops ({} failed) in {:.3} s",
                    s.dir.display(),
                    s.events,
                    s.lost_events,
                    s.ops,
                    s.failed_ops,
                    s.duration_ns as f64 / 1e9
                );
            }
            if sums.len() > 1 {
                println!("{}", out.join("stability.txt").display());
            }
            Ok(())
        }
        Cmd::ProbeWorker { scenario, sha256, ops_dir, cgroup_procs, files } => {
            Ok(probe::worker::main(&scenario, &sha256, &ops_dir, &cgroup_procs, &files)?)
        }
        Cmd::Run { scenario, seed, events, json, out, extents } => {
            run_cmd::run(&scenario, seed, events, json, out, extents)
        }
        Cmd::Compare { sim, probe, checks: c } => {
            let thresholds = compare::output::Thresholds {
                readahead_pct: c.min_readahead,
                pages_pct: c.min_pages,
                block_pct: c.min_block,
                residency_jaccard: c.min_residency,
                counters_tolerance: c.counters.map(|p| p / 100.0),
                median: c.median,
                relative_to_kernel: false,
                write_tolerance: c.writes.map(|p| p / 100.0),
                writeback_interval_ns: 5_000_000_000,
            };
            compare_cmd(&sim, &probe, c.json.as_deref(), thresholds, c.plot.as_deref())
        }
        Cmd::Validate { scenario, runs, probe_dir, out, allow_sysctl, checks: c } => {
            let sc_loaded = load(&scenario)?;
            let pressure = sc_loaded.machine.memcg_limit.is_some();
            // A scenario that writes (scenarios/write/) is judged on issue 5's write-side figures.
            let writer = sc_loaded.writes();
            let thresholds = compare::output::Thresholds {
                readahead_pct: Some(c.min_readahead.unwrap_or(100.0)),
                pages_pct: c.min_pages.or(if pressure { None } else { Some(100.0) }),
                block_pct: c.min_block,
                residency_jaccard: c.min_residency.or(if pressure { Some(0.95) } else { None }),
                counters_tolerance: c.counters.or(if pressure { Some(10.0) } else { None }).map(|p| p / 100.0),
                median: c.median || pressure || writer,
                relative_to_kernel: pressure || writer,
                write_tolerance: c.writes.or(if writer { Some(10.0) } else { None }).map(|p| p / 100.0),
                writeback_interval_ns: sc_loaded.sysctls.dirty_writeback_centisecs * 10_000_000,
            };
            validate(&scenario, runs, probe_dir, out, allow_sysctl, (c.json.as_deref(), c.plot.as_deref()), thresholds)
        }
        Cmd::Calibrate { out, name, size_mib, file_mib } => {
            let p = probe::calibrate::calibrate(size_mib, file_mib)?;
            let (release, _) = probe::host::uname();
            let text =
                p.to_ron(&name, &format!("pcsim calibrate on kernel {release}: the probe's scratch loop device"));
            std::fs::write(&out, &text).map_err(|e| Failure { code: 2, msg: format!("{}: {e}", out.display()) })?;
            print!("{text}");
            Ok(())
        }
        Cmd::Check { scenario, ops } => {
            let sc = load(&scenario)?;
            println!("scenario {} (seed {}, sha256 {})", sc.name, sc.seed, &sc.sha256[..16.min(sc.sha256.len())]);
            for d in &sc.devices {
                println!(
                    "device {}: {} {} bytes, read_ahead_kb {}, max_sectors_kb {}",
                    d.name,
                    d.fs.name(),
                    d.size,
                    d.read_ahead_kb,
                    d.max_sectors_kb
                );
            }
            for f in &sc.files {
                println!("file {}: {} bytes on {}, {:?}", f.name, f.size, sc.devices[f.device].name, f.state);
            }
            for (t, task) in sc.tasks.iter().enumerate() {
                // Ops are counted by walking the stream, up to a limit so a Repeat of 10^12 does not hang `check`.
                const LIMIT: u64 = 50_000_000;
                let mut n = 0u64;
                let mut bytes = 0u64;
                for op in sc.ops(t).take(LIMIT as usize + 1) {
                    if n == LIMIT {
                        n += 1;
                        break;
                    }
                    if ops {
                        println!("  {} {:?}", task.name, op);
                    }
                    n += 1;
                    bytes = bytes.saturating_add(op.io_bytes());
                }
                if n > LIMIT {
                    println!(
                        "task {}: starts at {}, more than {LIMIT} ops (counted {bytes} bytes of I/O in the first {LIMIT})",
                        task.name, task.start
                    );
                } else {
                    println!("task {}: starts at {}, {n} ops, {bytes} bytes of I/O requested", task.name, task.start);
                }
            }
            Ok(())
        }
    }
}
