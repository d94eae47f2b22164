//! What a run produced: per task, device and file, the vm counters, the zone, cachestat records, the event log and
//! the dirty-page series; and the probe-format texts written from them (`residency.txt`, `vmstat.txt`,
//! `cachestat.txt`).

use crate::kernel::VmStat;
use crate::trace::event::Event;
use crate::units::Nanos;

pub use super::task::TaskStats;

/// Per device results.
#[derive(Clone, Debug, Default)]
pub struct DeviceStats {
    pub name: String,
    pub requests: u64,
    pub sectors_read: u64,
    pub busy_ns: u64,
}

/// Per file residency at the end.
#[derive(Clone, Debug, Default)]
pub struct FileResidency {
    pub name: String,
    /// i_size in pages at the end of the run.
    pub size_pages: u64,
    /// Dirty pages at the end (cachestat's nr_dirty).
    pub nr_dirty: u64,
    pub nr_cache: u64,
    /// Resident pages as inclusive ranges.
    pub ranges: Vec<(u64, u64)>,
    /// Pages brought in by readahead that were never read.
    pub ra_unused: u64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Default)]
pub struct SimResult {
    pub scenario: String,
    pub seed: u64,
    /// Events in time order (same-time events in emission order).
    pub events: Vec<Event>,
    pub tasks: Vec<TaskStats>,
    pub devices: Vec<DeviceStats>,
    pub files: Vec<FileResidency>,
    pub vm: VmStat,
    /// Pages on the inactive and active file LRU lists at the end (nr_inactive_file, nr_active_file).
    pub nr_inactive_file: u64,
    pub nr_active_file: u64,
    /// Reclaim and workingset counters, named as in /proc/vmstat.
    pub counters: Vec<(&'static str, u64)>,
    /// The machine's zone: free pages at the start and the end (nr_free_pages), the fewest seen.
    pub zone: ZoneStats,
    /// The result of each cachestat op, in the order they ran.
    pub cachestat: Vec<crate::trace::cachestat::Record>,
    pub end: Nanos,
    /// The dirty-page time series (vmstat_series.txt), sampled every 100 ms when events are on.
    pub series: Option<crate::trace::series::Series>,
}

/// The machine's one zone over the run (pages).
#[derive(Clone, Debug, Default)]
pub struct ZoneStats {
    pub managed: u64,
    pub min: u64,
    pub low: u64,
    pub high: u64,
    pub free_start: u64,
    pub free_end: u64,
    /// The fewest free pages right after an allocation.
    pub free_lowest: u64,
    /// The most file pages cached at once.
    pub peak_cached: u64,
    /// Allocations reclaim could not make room for (the kernel would OOM-kill), and __GFP_NORETRY failures.
    pub overcommitted: u64,
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
