//! What a run produced: per task, device and file, the vm counters, the zone, cachestat records, the event log and
//! the dirty-page series; and the probe-format texts written from them (`residency.txt`, `vmstat.txt`,
//! `cachestat.txt`).

use crate::kernel::VmStat;
use crate::trace::event::Event;
use crate::units::Nanos;

use super::stats::Histogram;

/// Why a scenario cannot be simulated (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("task `{task}`: op `{op}` is not modelled yet (the model covers every op but this variant)")]
    /// An op the model does not run yet.
    Unsupported {
        /// The task that issued it.
        task: String,
        /// The op.
        op: &'static str,
    },
    #[error("task `{task}`: {why}")]
    /// An op the model refuses in this situation (the message says why).
    Refused {
        /// The task that issued it.
        task: String,
        /// Why.
        why: &'static str,
    },
    #[error(
        "task `{task}`: a sleep of {sleep} at {at} would take the virtual clock past its range (146 years, 2^62 ns)"
    )]
    /// A sleep past the end of the virtual clock.
    ClockRange {
        /// The task.
        task: String,
        /// The sleep.
        sleep: Nanos,
        /// When it starts.
        at: Nanos,
    },
    #[error("{0}")]
    /// The run's outputs could not be streamed to disk (the message names the file).
    Output(String),
    #[error("file `{file}` starts with dirty pages, which the read-side model does not handle yet")]
    /// A file that starts with dirty pages.
    DirtyInitialState {
        /// The file.
        file: String,
    },
    #[error("{0}")]
    /// An extent map that does not fit the scenario.
    BadExtents(String),
    #[error("machine.memcg_limit with files cached before the run: the probe charges those to another cgroup, which the model does not represent yet; start the files cold")]
    /// A memory cgroup with files cached before the run.
    MemcgUnsupported,
    #[error("the files start with {cached} bytes cached but the machine has {memory} bytes of memory for the page cache (its managed memory less machine.used)")]
    /// More cached at the start than the machine's memory holds.
    TooMuchCached {
        /// Bytes cached at the start.
        cached: u64,
        /// Bytes the page cache may use.
        memory: u64,
    },
}

/// Per-task results.
#[derive(Clone, Debug, Default)]
pub struct TaskStats {
    /// The task's name.
    pub name: String,
    /// Ops it ran (Sleep included).
    pub ops: u64,
    /// Ops that returned an error (-errno).
    pub failed_ops: u64,
    /// Bytes moved by its reads and writes (what the calls returned).
    pub bytes: u64,
    /// Read calls (read, pread, readv, preadv, sendfile).
    pub read_ops: u64,
    /// Read ops that waited for I/O or started synchronous readahead.
    pub read_misses: u64,
    /// Each op's latency (virtual time from its start to its return; Sleep not recorded), nanoseconds.
    pub latency: Histogram,
    /// Bytes its read calls returned (part of `bytes`).
    pub read_bytes: u64,
    /// The latency of its sync calls ([`Op::is_sync`](crate::trace::op::Op::is_sync): fsync, fdatasync, sync, msync,
    /// sync_file_range), nanoseconds.
    pub sync_latency: Histogram,
    /// When its last op returned.
    pub end: Nanos,
}

/// Per device results.
#[derive(Clone, Debug, Default)]
pub struct DeviceStats {
    /// The device's name.
    pub name: String,
    /// Requests it served (reads and writes).
    pub requests: u64,
    /// Sectors read (512 bytes).
    pub sectors_read: u64,
    /// Time it was busy (the union of its service intervals), nanoseconds.
    pub busy_ns: u64,
}

/// Per file residency at the end.
#[derive(Clone, Debug, Default)]
pub struct FileResidency {
    /// The file's name.
    pub name: String,
    /// i_size in pages at the end of the run.
    pub size_pages: u64,
    /// Dirty pages at the end (cachestat's nr_dirty).
    pub nr_dirty: u64,
    /// Pages cached at the end (cachestat's nr_cache).
    pub nr_cache: u64,
    /// Resident pages as inclusive ranges.
    pub ranges: Vec<(u64, u64)>,
    /// Pages brought in by readahead that were never read.
    pub ra_unused: u64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Default)]
pub struct SimResult {
    /// The scenario's name.
    pub scenario: String,
    /// The seed the run used.
    pub seed: u64,
    /// Events in time order (same-time events in emission order).
    pub events: Vec<Event>,
    /// Per task, in the scenario's order.
    pub tasks: Vec<TaskStats>,
    /// Per device, in the scenario's order.
    pub devices: Vec<DeviceStats>,
    /// Per file at the end, in the scenario's order.
    pub files: Vec<FileResidency>,
    /// The vm counters over the run.
    pub vm: VmStat,
    /// Pages on the inactive and active file LRU lists at the end (nr_inactive_file, nr_active_file).
    pub nr_inactive_file: u64,
    /// Pages on the active file list at the end.
    pub nr_active_file: u64,
    /// Reclaim and workingset counters, named as in /proc/vmstat.
    pub counters: Vec<(&'static str, u64)>,
    /// The machine's zone: free pages at the start and the end (nr_free_pages), the fewest seen.
    pub zone: ZoneStats,
    /// The result of each cachestat op, in the order they ran.
    pub cachestat: Vec<crate::trace::cachestat::Record>,
    /// When the last task ended (virtual time).
    pub end: Nanos,
    /// The dirty-page time series (vmstat_series.txt), sampled every 100 ms when events are on.
    pub series: Option<crate::trace::series::Series>,
    /// A run streamed with `SimOptions::spill_dir`: its events and series are in these scratch files (and `events`
    /// and `series` are empty); `write_events` and `write_dir` write them from there.
    pub(crate) spill: Option<std::sync::Arc<super::spill::Spill>>,
}

/// The machine's one zone over the run (pages).
#[derive(Clone, Debug, Default)]
pub struct ZoneStats {
    /// Pages the zone manages (its memory less the struct pages).
    pub managed: u64,
    /// The min watermark, pages.
    pub min: u64,
    /// The low watermark (kswapd wakes below it), pages.
    pub low: u64,
    /// The high watermark (kswapd sleeps above it), pages.
    pub high: u64,
    /// Free pages at the start (after the initial page cache).
    pub free_start: u64,
    /// Free pages at the end.
    pub free_end: u64,
    /// The fewest free pages right after an allocation.
    pub free_lowest: u64,
    /// The most file pages cached at once.
    pub peak_cached: u64,
    /// Allocations reclaim could not make room for (the kernel would OOM-kill), and __GFP_NORETRY failures.
    pub overcommitted: u64,
    /// __GFP_NORETRY allocations (readahead's) that failed.
    pub noretry_failed: u64,
}

impl SimResult {
    /// vmstat.txt in the probe's format (`name value`), with the model's counters.
    pub fn vmstat_text(&self) -> String {
        let mut s = String::from(
            "# the model's event counters over the run (names as in /proc/vmstat; pgpgin in KiB read from the devices; \
             nr_free_pages is the change over the run)\n",
        );
        // Gauges (nr_*) are left out: the probe's vmstat.txt holds deltas, which are not comparable for them, except
        // free pages, whose change over the run the model knows.
        let free_delta = self.zone.free_end as i64 - self.zone.free_start as i64;
        s.push_str(&format!("nr_free_pages {free_delta}\n"));
        for (k, v) in self.counters.iter().filter(|(k, _)| !k.starts_with("nr_")) {
            s.push_str(&format!("{k} {v}\n"));
        }
        s
    }

    /// cachestat.txt in the probe's format (`None` when the scenario ran no cachestat op).
    pub fn cachestat_text(&self) -> Option<String> {
        (!self.cachestat.is_empty()).then(|| crate::trace::cachestat::format(&self.cachestat))
    }

    /// residency.txt in the probe's format.
    pub fn residency_text(&self) -> String {
        use crate::trace::residency::{format_line, HEADER};
        let mut s = format!("{HEADER}\n");
        for f in &self.files {
            s.push_str(&format_line(&f.name, f.size_pages, [f.nr_cache, f.nr_dirty, 0, 0, 0], &f.ranges));
            s.push('\n');
        }
        s
    }
}
