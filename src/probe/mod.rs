//! The probe: runs a scenario's workload on the host kernel, on a scratch loop-backed filesystem, and records the
//! kernel's own tracepoints in pcsim's event vocabulary.
//!
//! Output directory (one run; with `--runs N`, one `run-K/` per run plus `stability.txt`):
//! - `events.log`: normalised events (`trace::log` format), `raw_trace.txt`: the kernel's own text, kept beside it;
//! - `residency.txt`: per file, cachestat(2) counts and the resident page ranges (mincore) at the end;
//! - `vmstat.txt`: /proc/vmstat deltas over the workload; `extents.txt`: FIEMAP of each file after the run,
//!   `extents_start.txt` before it (what the model reads through, `run-1/extents_start.txt` first);
//! - `vmstat_series.txt`: nr_dirty, nr_writeback, nr_dirtied, nr_written and per-device bdi stats every 100 ms
//!   (`sampler`, format in `trace::series`);
//! - `cachestat.txt`: the result of each `Cachestat` op (`compare::cachestat`), when the scenario has any;
//! - `ops/<task>.ops`: per-op start, duration and result; `manifest.ron`: kernel, devices, sysctls, reclaimers...
//! - with `--blktrace`, `blktrace/NAME.blktrace.0`: a binary blktrace of the scratch devices (`blkrec`).
//!
//! The directory appears only when the probe succeeds (it is written as `DIR.partial-PID` and renamed).

pub mod blkrec;
pub mod calibrate;
pub mod cgroup;
pub mod change;
pub mod clock;
pub mod collect;
mod error;
pub mod ftrace;
pub mod guard;
pub mod host;
pub mod journal;
mod lock;
pub mod manifest;
pub mod normalise;
pub mod pread_bench;
pub mod recover;
mod run;
pub mod runner;
pub mod sampler;
pub mod scratch;
pub mod stability;
mod syscalls;
pub mod sysctl;
pub mod throttle;
pub mod tracefs;
pub mod warm;
pub mod worker;

pub use error::ProbeError;
pub use host::preflight;
pub use lock::{host_lock, LOCK_FILE};
pub use normalise::{normalise_file, NormaliseStats};
pub use run::{probe, ProbeOptions, RunSummary};
