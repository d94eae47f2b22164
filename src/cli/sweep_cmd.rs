//! `pcsim sweep`: a what-if grid over a scenario's settings (src/sweep).

use std::path::PathBuf;

use clap::Args;

use super::failure::Failure;
use crate::sweep::{self, grid::Shard, SweepOptions};

/// `pcsim sweep`'s arguments.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Scenario file (RON).
    scenario: PathBuf,
    /// PATH=VALUES: a scenario field and its values, e.g. devices.disk0.read_ahead_kb=128..4096:x2,
    /// 'sysctls."vm.dirty_ratio"=5,10,20', machine.memory=1g..8g:x2 (repeat for more axes).
    #[arg(long = "set", value_name = "PATH=VALUES")]
    sets: Vec<String>,
    /// Pair the axes' values (all the same length) instead of taking their cartesian product.
    #[arg(long)]
    zip: bool,
    /// Seeds to run each configuration with (a list or range, e.g. 1..5): results give the median, min and max.
    #[arg(long)]
    seeds: Option<String>,
    /// Runs at once (threads); the output is the same at any value.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Run only shard I of N (configurations with index % N == I - 1); join the shards with `pcsim sweep-merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Output directory (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Also run each configuration on this host's kernel through the probe (root; sysctls applied and restored).
    #[arg(long)]
    probe: bool,
    /// Probe runs per configuration.
    #[arg(long, default_value_t = 3)]
    probe_runs: u32,
    /// The probe's --settle: seconds to wait before each run's workload (write-side sweeps: 12).
    #[arg(long, default_value_t = 0)]
    probe_settle: u32,
    /// Draw the plots into OUT/plots.
    #[arg(long)]
    plot: bool,
    /// With --plot, also write PNG files.
    #[arg(long)]
    png: bool,
}

/// Runs the sweep and prints its table.
pub(crate) fn sweep(a: SweepArgs) -> Result<(), Failure> {
    let shard = a.shard.as_deref().map(Shard::parse).transpose().map_err(|msg| Failure { code: 2, msg })?;
    if a.jobs == 0 {
        return Err(Failure { code: 2, msg: "--jobs 0: give at least 1".into() });
    }
    let opts = SweepOptions {
        scenario: a.scenario,
        sets: a.sets,
        zip: a.zip,
        seeds: a.seeds,
        jobs: a.jobs,
        shard,
        out: a.out.clone(),
        probe_runs: if a.probe { a.probe_runs.max(1) } else { 0 },
        probe_settle: a.probe_settle,
        plot: a.plot,
        png: a.png,
    };
    let res = sweep::run(&opts).map_err(|e| Failure { code: e.code, msg: e.msg })?;
    super::failure::out!("{}", sweep::results::table(&res))?;
    super::failure::outln!("{}", a.out.join("results.csv").display())?;
    let failed: Vec<&str> = res.rows.iter().filter(|r| r.error.is_some()).map(|r| r.id.as_str()).collect();
    if !failed.is_empty() {
        return Err(Failure {
            code: 1,
            msg: format!("{} configuration(s) failed: {}", failed.len(), failed.join(", ")),
        });
    }
    Ok(())
}
