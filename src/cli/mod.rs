//! Command-line interface: clap definitions, then one function per subcommand that resolves its config and calls
//! the library. Errors carry the exit code (`Failure`): 2 for bad input or an unusable host, 1 for a failed check,
//! 130 for an interrupted probe.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::probe::{self, ProbeError, ProbeOptions};
use crate::scenario::Scenario;

mod run_cmd;

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
        /// Write events.log and residency.txt into DIR (the layout `pcsim compare` and the probe use).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Place files on the device as a probe run's extents.txt says (exact sectors).
        #[arg(long)]
        extents: Option<PathBuf>,
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

pub(crate) fn load(path: &std::path::Path) -> Result<Scenario, Failure> {
    Scenario::load(path).map_err(|e| Failure { code: 2, msg: e.to_string() })
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Probe { scenario, out, runs, allow_sysctl } => {
            let sc = load(&scenario)?;
            let opts = ProbeOptions { out: out.clone(), runs, allow_sysctl };
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
                let mut n = 0u64;
                let mut bytes = 0u64;
                for op in sc.ops(t) {
                    if ops {
                        println!("  {} {:?}", task.name, op);
                    }
                    n += 1;
                    bytes += op.io_bytes();
                }
                println!("task {}: starts at {}, {n} ops, {bytes} bytes of I/O requested", task.name, task.start);
            }
            Ok(())
        }
    }
}
