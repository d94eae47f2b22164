//! Command-line interface: clap definitions, then one function per subcommand that resolves its config and calls
//! the library. Errors carry the exit code (`Failure`): 2 for bad input or an unusable host, 1 for a failed check,
//! 130 for an interrupted probe.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod args;
mod bench_cmd;
mod bench_kernel;
mod bench_run;
mod check_cmd;
mod compare_cmd;
mod export_out;
mod failure;
mod file_sizes;
mod import_cmd;
mod merge_cmd;
mod outputs;
mod plot_cmd;
mod probe_cmd;
mod progress;
mod replay_cmd;
mod replay_report;
mod run_cmd;
mod sweep_cmd;
mod trace_args;

use args::{BenchRunArgs, Checks};
pub use failure::Failure;
use outputs::Outputs;
pub use trace_args::{ThroughArg, TraceOpts};

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
    /// Run a scenario, or a file-level trace (`--trace FORMAT:PATH`), on this host's kernel (root): scratch loop
    /// filesystem, tracefs capture, normalised event log. `--recover` undoes what a killed probe left instead.
    Probe {
        /// Scenario file (RON).
        #[arg(required_unless_present_any = ["trace", "recover"], conflicts_with = "trace")]
        scenario: Option<PathBuf>,
        /// Run a trace instead, imported as `pcsim import` does (its scenario is kept as OUT/scenario.ron).
        #[arg(long, value_name = "FORMAT:PATH")]
        trace: Option<String>,
        #[command(flatten)]
        trace_opts: TraceOpts,
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
        /// Also record a binary blktrace of the scratch devices during the workload (blktrace/NAME.blktrace.0,
        /// through ftrace's blk tracer: docs/REPLAY.md).
        #[arg(long)]
        blktrace: bool,
        /// Undo what killed probes left on this host (mounts, loop devices, tracefs instances, sysctls, throttle
        /// rules, cgroups, files), from their crash journals, and say what was restored. Every probe does this
        /// when it starts.
        #[arg(long, conflicts_with_all = ["scenario", "trace", "out", "runs", "allow_sysctl", "settle", "blktrace"])]
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
    /// Run a scenario, or replay a trace (`--trace FORMAT:PATH`), through the model and print a summary.
    Run {
        /// Scenario file (RON).
        #[arg(required_unless_present = "trace", conflicts_with = "trace")]
        scenario: Option<PathBuf>,
        /// Replay a trace instead: FORMAT:PATH with FORMAT blktrace, blkparse, iolog or strace, PATH `-` for
        /// standard input (docs/REPLAY.md).
        #[arg(long, value_name = "FORMAT:PATH")]
        trace: Option<String>,
        #[command(flatten)]
        trace_opts: TraceOpts,
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
        #[arg(long, conflicts_with = "trace")]
        extents: Option<PathBuf>,
        /// Write the model's block events as a blktrace binary DIR/NAME.blktrace.0 (NAME: the scenario's name), for
        /// blkparse and btt.
        #[arg(long, value_name = "DIR")]
        blktrace: Option<PathBuf>,
        /// Write the model's block events as blkparse's default text to FILE (`-` for stdout).
        #[arg(long, value_name = "FILE")]
        blkparse: Option<PathBuf>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Turn a trace into an editable scenario: its files, one task per traced thread, every call (with the recorded
    /// think time as Sleep ops). For small traces: `pcsim run --trace` streams traces of any size.
    Import {
        /// The trace's format: blktrace, blkparse, iolog or strace.
        format: String,
        /// The trace's file (`-` for standard input); blktrace also takes its per-CPU files one by one.
        #[arg(required = true)]
        files: Vec<String>,
        /// The scenario to write.
        #[arg(short, long, value_name = "SCENARIO.ron")]
        out: PathBuf,
        #[command(flatten)]
        trace_opts: TraceOpts,
        /// The scenario's seed (default: the machine file's, else 1).
        #[arg(long)]
        seed: Option<u64>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
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
        #[arg(required_unless_present = "trace", conflicts_with = "trace")]
        scenario: Option<PathBuf>,
        /// Validate the replay of a file-level trace instead (its scenario is kept as OUT/scenario.ron).
        #[arg(long, value_name = "FORMAT:PATH")]
        trace: Option<String>,
        #[command(flatten)]
        trace_opts: TraceOpts,
        /// Probe runs to make.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Use these probe runs (a probe output directory, e.g. traces/kernel/NAME) instead of probing: no root needed.
        #[arg(long)]
        probe_dir: Option<PathBuf>,
        /// Where to keep the simulated run and the probe runs, a new or empty directory (default: a temporary directory,
        /// removed at the end).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Apply the scenario's vm sysctls during the probe runs (restored afterwards).
        #[arg(long)]
        allow_sysctl: bool,
        /// With --probe-dir: compare even when the captures were made from another version of the scenario file
        /// (its sha256 in their manifests differs).
        #[arg(long)]
        allow_changed_scenario: bool,
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
    /// Measure the model (docs/PERFORMANCE.md): `pcsim bench` (or `bench run`) runs the benchmark cases, one
    /// process each, and prints ops/s, simulated seconds per wall second, peak RSS and bytes per cached page;
    /// `bench --vs-kernel` runs random 4 KiB preads on this host's kernel and the model side by side; `bench
    /// replay` measures the replay.
    Bench(BenchArgs),
    /// Internal: one case of `pcsim bench`, measured in its own process (prints one JSON line).
    #[command(name = "__bench-case", hide = true)]
    BenchCase {
        case: String,
        #[arg(long)]
        scale: String,
        /// `--vs-kernel`'s model side: the file's size and the preads.
        #[arg(long, requires = "ops")]
        file_size: Option<u64>,
        #[arg(long, requires = "file_size")]
        ops: Option<u64>,
    },
    /// Run a scenario over a grid of settings (what-if sweep): one row of metrics per configuration in
    /// DIR/results.csv and results.json, a table on the terminal. Exit 1 when a run failed, 2 on bad input.
    Sweep(sweep_cmd::SweepArgs),
    /// Join the outputs of `sweep --shard I/N` into what one unsharded sweep writes.
    #[command(name = "sweep-merge")]
    SweepMerge {
        /// The shards' output directories.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output directory (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw a sweep's plots (SVG; PNG too with --png).
    Plot {
        /// A sweep's output directory.
        sweep_dir: PathBuf,
        /// Where to write the plots (created; existing plots replaced).
        #[arg(long)]
        out: PathBuf,
        /// Also write PNG files.
        #[arg(long)]
        png: bool,
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

/// `pcsim bench`: a subcommand, or `run`'s options (`pcsim bench` alone is `pcsim bench run`).
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    cmd: Option<BenchCmd>,
    #[command(flatten)]
    run: BenchRunArgs,
}

/// `pcsim bench` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Run the benchmark cases (the default), or the host kernel beside the model (`--vs-kernel`).
    Run(BenchRunArgs),
    /// Import a synthetic blktrace (`--import-only`) or replay it through the model, and print records/s and the
    /// peak RSS (one measurement per process).
    Replay {
        /// Records in the trace (5 per I/O: Q, G, I, D, C).
        #[arg(long, default_value_t = 10_000_000)]
        records: u64,
        /// Pids issuing I/O (tasks of the replay).
        #[arg(long, default_value_t = 4)]
        tasks: u32,
        /// The traced device's size, GiB.
        #[arg(long, default_value_t = 16)]
        device_gib: u64,
        /// Replay through the page cache or on the device.
        #[arg(long, value_enum, default_value_t = ThroughArg::Cache)]
        through: ThroughArg,
        /// Only import (read and decode) the trace.
        #[arg(long)]
        import_only: bool,
        /// Write the synthetic trace to FILE first, and read it from there.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The machine's memory, GiB (the model refuses to reclaim dirty pages, so writes through the cache must
        /// fit: keep it above the device's size).
        #[arg(long, default_value_t = 32)]
        memory_gib: u64,
        /// Every this many I/Os of a pid, a preflush + FUA write (an fsync of the device file; 0: none).
        #[arg(long, default_value_t = 1000)]
        flush_every: u64,
        /// Percentage of the I/Os that write (the others read).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=100))]
        write_pct: u64,
    },
}

/// The workload a probe or validation runs: a scenario, or a trace with its options.
fn workload<'a>(
    scenario: Option<&'a std::path::Path>,
    trace: Option<&'a str>,
    opts: &'a TraceOpts,
) -> Result<probe_cmd::Workload<'a>, Failure> {
    match (trace, scenario) {
        (Some(t), _) => Ok(probe_cmd::Workload::Trace(t, opts)),
        (None, Some(p)) => {
            opts.refuse_without_trace()?;
            Ok(probe_cmd::Workload::Scenario(p))
        }
        (None, None) => Err(Failure { code: 2, msg: "give a scenario or --trace FORMAT:PATH".into() }),
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Probe { recover: true, .. } => probe_cmd::recover(),
        Cmd::Probe { scenario, trace, trace_opts, out: Some(out), runs, allow_sysctl, settle, blktrace, .. } => {
            let w = workload(scenario.as_deref(), trace.as_deref(), &trace_opts)?;
            probe_cmd::probe(w, out, runs, allow_sysctl, settle, blktrace)
        }
        Cmd::Probe { .. } => Err(failure::fail("pcsim probe needs a SCENARIO and --out DIR, or --recover".into())),
        Cmd::ProbeWorker { scenario, sha256, ops_dir, cgroup_procs, files } => {
            Ok(crate::probe::worker::main(&scenario, &sha256, &ops_dir, &cgroup_procs, &files)?)
        }
        Cmd::Run { scenario, trace, trace_opts, seed, events, json, out, extents, blktrace, blkparse, quiet } => {
            let outs = Outputs { events, json, out, blktrace, blkparse };
            match (trace, scenario) {
                (Some(t), _) => replay_cmd::run_trace(&t, &trace_opts, seed, &outs, quiet),
                (None, Some(sc)) => {
                    trace_opts.refuse_without_trace()?;
                    run_cmd::run(&sc, seed, &outs, extents)
                }
                (None, None) => Err(Failure { code: 2, msg: "give a scenario or --trace FORMAT:PATH".into() }),
            }
        }
        Cmd::Import { format, files, out, trace_opts, seed, quiet } => {
            import_cmd::import(&format, &files, &out, &trace_opts, seed, quiet)
        }
        Cmd::Compare { sim, probe, checks: c } => compare_cmd::compare_cmd(
            &sim,
            &probe,
            c.json.as_deref(),
            compare_cmd::compare_thresholds(&c),
            c.plot.as_deref(),
        ),
        Cmd::Validate {
            scenario,
            trace,
            trace_opts,
            runs,
            probe_dir,
            out,
            allow_sysctl,
            allow_changed_scenario,
            checks,
        } => compare_cmd::validate(compare_cmd::ValidateArgs {
            workload: workload(scenario.as_deref(), trace.as_deref(), &trace_opts)?,
            runs,
            probe_dir,
            out,
            allow_sysctl,
            allow_changed_scenario,
            checks: &checks,
        }),
        Cmd::Calibrate { out, name, size_mib, file_mib } => probe_cmd::calibrate(&out, &name, size_mib, file_mib),
        Cmd::Check { scenario, ops } => check_cmd::check(&scenario, ops),
        Cmd::Bench(BenchArgs { cmd: None, run }) | Cmd::Bench(BenchArgs { cmd: Some(BenchCmd::Run(run)), .. }) => {
            bench(&run)
        }
        Cmd::BenchCase { case, scale, file_size, ops } => bench_run::bench_case(&case, &scale, file_size.zip(ops)),
        Cmd::Bench(BenchArgs {
            cmd:
                Some(BenchCmd::Replay {
                    records,
                    tasks,
                    device_gib,
                    through,
                    import_only,
                    file,
                    memory_gib,
                    flush_every,
                    write_pct,
                }),
            ..
        }) => bench_cmd::bench_replay(&bench_cmd::BenchReplay {
            records,
            tasks,
            device_gib,
            through,
            import_only,
            file,
            memory_gib,
            flush_every,
            write_pct,
        }),
        Cmd::Sweep(a) => sweep_cmd::sweep(a),
        Cmd::SweepMerge { shards, out } => merge_cmd::merge(&shards, &out),
        Cmd::Plot { sweep_dir, out, png } => plot_cmd::plot(&sweep_dir, &out, png),
    }
}

/// `pcsim bench [run]`: the cases, or `--vs-kernel`.
fn bench(a: &BenchRunArgs) -> Result<(), Failure> {
    if a.vs_kernel {
        return bench_kernel::vs_kernel(&bench_kernel::VsKernel {
            dir: a.dir.as_deref(),
            file_size: a.file_size,
            ops: a.ops,
            rounds: a.rounds,
            json: a.json.as_deref(),
        });
    }
    bench_run::bench_run(&bench_run::RunArgs {
        cases: &a.case,
        scale: a.scale.into(),
        repeat: a.repeat,
        json: a.json.as_deref(),
    })
}
