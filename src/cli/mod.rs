//! Command-line interface: clap definitions, then one function per subcommand that resolves its config and calls
//! the library. Errors carry the exit code (`Failure`): 2 for bad input or an unusable host, 1 for a failed check,
//! 130 for an interrupted probe.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod args;
mod check_cmd;
mod compare_cmd;
mod failure;
mod probe_cmd;
mod run_cmd;

use args::Checks;
pub use failure::Failure;

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
    /// `--recover` undoes what a killed probe left instead.
    Probe {
        /// Scenario file (RON).
        #[arg(required_unless_present = "recover")]
        scenario: Option<PathBuf>,
        /// Output directory (must not exist or be empty; its parent must exist); written atomically on success.
        #[arg(long, required_unless_present = "recover")]
        out: Option<PathBuf>,
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
        /// Undo what killed probes left on this host (mounts, loop devices, tracefs instances, sysctls, throttle
        /// rules, cgroups, files), from their crash journals, and say what was restored. Every probe does this
        /// when it starts.
        #[arg(long, conflicts_with_all = ["scenario", "out", "runs", "allow_sysctl", "settle"])]
        recover: bool,
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

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Probe { recover: true, .. } => probe_cmd::recover(),
        Cmd::Probe { scenario: Some(scenario), out: Some(out), runs, allow_sysctl, settle, .. } => {
            probe_cmd::probe(&scenario, out, runs, allow_sysctl, settle)
        }
        Cmd::Probe { .. } => Err(failure::fail("pcsim probe needs a SCENARIO and --out DIR, or --recover".into())),
        Cmd::ProbeWorker { scenario, sha256, ops_dir, cgroup_procs, files } => {
            Ok(crate::probe::worker::main(&scenario, &sha256, &ops_dir, &cgroup_procs, &files)?)
        }
        Cmd::Run { scenario, seed, events, json, out, extents } => {
            run_cmd::run(&scenario, seed, events, json, out, extents)
        }
        Cmd::Compare { sim, probe, checks: c } => compare_cmd::compare_cmd(
            &sim,
            &probe,
            c.json.as_deref(),
            compare_cmd::compare_thresholds(&c),
            c.plot.as_deref(),
        ),
        Cmd::Validate { scenario, runs, probe_dir, out, allow_sysctl, checks } => {
            compare_cmd::validate(compare_cmd::ValidateArgs {
                scenario: &scenario,
                runs,
                probe_dir,
                out,
                allow_sysctl,
                checks: &checks,
            })
        }
        Cmd::Calibrate { out, name, size_mib, file_mib } => probe_cmd::calibrate(&out, &name, size_mib, file_mib),
        Cmd::Check { scenario, ops } => check_cmd::check(&scenario, ops),
    }
}
