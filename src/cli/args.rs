//! Arguments shared by several subcommands, and their value parsers.

use std::path::PathBuf;

use clap::Args;

/// The comparison's outputs and thresholds, shared by `compare` and `validate` (validate fills in defaults by the
/// scenario's kind, given in brackets).
#[derive(Args, Debug)]
pub struct Checks {
    /// Also write the comparison as JSON to FILE (`-`: stdout, instead of the table).
    #[arg(long, value_name = "FILE|-")]
    pub(crate) json: Option<PathBuf>,
    /// Minimum in-order agreement of readahead events, percent [validate: 100].
    #[arg(long, value_name = "PCT", value_parser = percent)]
    pub(crate) min_readahead: Option<f64>,
    /// Minimum in-order agreement of page-cache (filemap) events, percent [validate: 100; memory-cgroup scenarios:
    /// none].
    #[arg(long, value_name = "PCT", value_parser = percent)]
    pub(crate) min_pages: Option<f64>,
    /// Minimum multiset agreement of block events, percent.
    #[arg(long, value_name = "PCT", value_parser = percent)]
    pub(crate) min_block: Option<f64>,
    /// Minimum residency Jaccard index over files (0..1) [validate, memory-cgroup scenarios: 0.95].
    #[arg(long, value_name = "J", value_parser = fraction)]
    pub(crate) min_residency: Option<f64>,
    /// Check the memory-pressure counters (workingset refaults, activations, shadow nodes reclaimed, KiB read from
    /// the scenario's devices) against the kernel's runs: inside their range widened by PCT of the median
    /// [validate, memory-cgroup scenarios: 10].
    #[arg(long, value_name = "PCT", value_parser = percent)]
    pub(crate) counters: Option<f64>,
    /// Check the median probe run instead of the least agreeing one [validate, memory-cgroup and writing
    /// scenarios: on].
    #[arg(long)]
    pub(crate) median: bool,
    /// Check the write-side figures (steady nr_dirty, writer throughput, balance_dirty_pages pauses and their
    /// p50/p90, the expiry pass, the write request size) against the kernel's runs: inside their range widened by
    /// PCT of the median [validate, scenarios that write: 10].
    #[arg(long, value_name = "PCT", value_parser = percent)]
    pub(crate) writes: Option<f64>,
    /// Also plot the devices' dirty and writeback pages over time, the pause distribution and the write request
    /// sizes, model and kernel runs, as SVG to FILE (needs
    /// vmstat_series.txt on every side).
    #[arg(long, value_name = "FILE")]
    pub(crate) plot: Option<PathBuf>,
}

fn bounded(s: &str, max: f64) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and {max}"))
    }
}

pub(crate) fn percent(s: &str) -> Result<f64, String> {
    bounded(s.trim_end_matches('%'), 100.0)
}

pub(crate) fn fraction(s: &str) -> Result<f64, String> {
    bounded(s, 1.0)
}
