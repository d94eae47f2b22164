//! Arguments shared by several subcommands, and their value parsers.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::bench::cases::Scale;

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

/// `pcsim bench [run]`'s options: the cases, or `--vs-kernel`'s.
#[derive(Args, Debug)]
pub struct BenchRunArgs {
    /// Run only this case (repeatable; default: every case). The cases: hit-64m-seq, hit-64m-rand,
    /// cold-seq-ra128, cold-seq-ra2048, pressure-memcg64m, writer-throttled, rand-10g, zipf-10g, rand-100g,
    /// zipf-100g, miss-10g-mem4g, host-1t, zipf-stream-1e7, zipf-stream-1e8, mem-order0, mem-order9, mem-shadow.
    #[arg(long, value_name = "NAME", conflicts_with = "vs_kernel")]
    pub(crate) case: Vec<String>,
    /// The cases' sizes: full (the figures of docs/PERFORMANCE.md: GiB of memory, minutes) or tiny (seconds).
    #[arg(long, value_enum, default_value_t = ScaleArg::Full, conflicts_with = "vs_kernel")]
    pub(crate) scale: ScaleArg,
    /// Runs of each case (one process each); the table shows the median.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000), conflicts_with = "vs_kernel")]
    pub(crate) repeat: u32,
    /// Also write every run's figures as JSON to FILE (`-`: stdout).
    #[arg(long, value_name = "FILE|-")]
    pub(crate) json: Option<PathBuf>,
    /// Random 4 KiB preads over a cached file on this host's kernel (no root) and in the model, alternated
    /// `--rounds` times: ops/s of both and their ratio.
    #[arg(long)]
    pub(crate) vs_kernel: bool,
    /// With --vs-kernel: where to create the file (in a new directory, removed at the end) [default: the current
    /// directory].
    #[arg(long, value_name = "DIR", requires = "vs_kernel")]
    pub(crate) dir: Option<PathBuf>,
    /// With --vs-kernel: the file's size (e.g. 10g; a multiple of 4k).
    #[arg(long, value_name = "SIZE", default_value = "10g", value_parser = size, requires = "vs_kernel")]
    pub(crate) file_size: u64,
    /// With --vs-kernel: preads per round, on each side.
    #[arg(long, value_name = "N", default_value_t = 20_000_000, value_parser = clap::value_parser!(u64).range(1..), requires = "vs_kernel")]
    pub(crate) ops: u64,
    /// With --vs-kernel: rounds (kernel, then model, each round).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100), requires = "vs_kernel")]
    pub(crate) rounds: u32,
}

/// `--scale`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScaleArg {
    Tiny,
    Full,
}

impl From<ScaleArg> for Scale {
    fn from(s: ScaleArg) -> Scale {
        match s {
            ScaleArg::Tiny => Scale::Tiny,
            ScaleArg::Full => Scale::Full,
        }
    }
}

/// A size such as `10g` or `4096` (bytes).
fn size(s: &str) -> Result<u64, String> {
    crate::units::parse_size(s).map_err(|e| e.to_string())
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
