//! Write-side figures of one run, from its event log and its dirty-page time series (`vmstat_series.txt`): what
//! docs/WRITE_FIXTURES.md tabulates for the kernel, computed the same way for a model run.
//!
//! Everything is derived from the two parsed inputs (a [`Log`] and a [`Series`]), never from probe-only files, so a
//! simulated run that writes the same events and series gets the same figures. Definitions:
//! - **written bytes per task**: the folios the task dirtied (`writeback_dirty_folio` fired by the task on a
//!   scenario file, each weighted by the order its `mm_filemap_add_to_page_cache` gave it, order 0 when the folio
//!   was already cached). A task that dirtied nothing is counted by the data write bios it queued itself
//!   (`block_bio_queue` with `W` and without `M`: its O_DIRECT writes; a buffered writer's own fsync or
//!   sync_file_range bios are not added, they write what it dirtied). **Throughput** = those bytes over the task's
//!   span from its first to its last such event, in MiB/s (2^20 bytes per second).
//! - **steady state**: the middle half (25 %..75 %) of the span from the first to the last `writeback_dirty_folio`
//!   on a scenario file; the steady `nr_dirty` is the median (lower middle) of the host-wide `/proc/vmstat`
//!   nr_dirty samples in it (likewise nr_writeback), the steady device dirty the median of the scenario devices' `DEV.reclaimable_kb`
//!   summed, in pages.
//! - **pauses**: `balance_dirty_pages` events with `pause > 0` (the kernel traces `min(pause, 0)` when it does not
//!   sleep, and the pause it sleeps otherwise, in ms); p50/p90 are nearest-rank percentiles of those pauses.
//! - **first background pass**: the first `writeback_start` with `reason=background`; **first write pass**: the
//!   first `writeback_start` (any reason) whose pass (up to that device's `writeback_written`) wrote pages of a
//!   scenario file (`writeback_single_inode` with `wrote > 0`), with its reason; **expiry pass**: the same among
//!   `reason=periodic` passes (the kupdate pass; note that a periodic pass also writes inodes a background pass
//!   left on b_more_io, expired or not, since queue_io splices b_more_io before moving expired inodes).
//! - **write request size**: the median (lower middle) `bytes` of `block_rq_issue` data writes: rwbs with `W`
//!   and without `M` (ext4's metadata and journal writes are `WM`/`WSM`), size not 0 (flushes are `FF`), with the
//!   count.
//! - **thresholds**: the distinct `(bg_thresh, thresh)` pairs of `global_dirty_state` (pages) fired by the tasks
//!   that wrote and by the flusher (`kworker`); other tasks' are kept apart in `foreign_thresholds`
//!   (global_dirty_state is host-wide, and a real-time task sees boosted limits: `x + x/4 + dirty_limit/32`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::trace::event::{Event, EventKind};
use crate::trace::log::Log;
use crate::trace::series::Series;

/// Bytes per page.
const PAGE: u64 = 4096;

/// One task's write volume and rate.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskWrites {
    pub task: String,
    /// Bytes dirtied in the page cache (folios, weighted by order).
    pub dirtied_bytes: u64,
    /// Bytes of write bios the task queued itself, counted only when it dirtied nothing (O_DIRECT).
    pub direct_bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

impl TaskWrites {
    /// A task first seen writing at `t` ns.
    fn starting(task: &str, t: u64) -> Self {
        TaskWrites { task: task.to_string(), dirtied_bytes: 0, direct_bytes: 0, first_ns: t, last_ns: t }
    }

    /// (dirtied + direct) bytes over the span, in MiB/s; `None` for a span of zero.
    pub fn mib_per_s(&self) -> Option<f64> {
        let span = self.last_ns.saturating_sub(self.first_ns);
        (span > 0).then(|| (self.dirtied_bytes + self.direct_bytes) as f64 / (1 << 20) as f64 / (span as f64 / 1e9))
    }
}

/// The figures of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteFigures {
    /// Tasks that wrote, by name.
    pub tasks: Vec<TaskWrites>,
    /// The steady-state window (ns), if any folio of a scenario file was dirtied.
    pub steady_window: Option<(u64, u64)>,
    /// Median host-wide nr_dirty (pages) in the window; `None` without samples there.
    pub steady_nr_dirty: Option<u64>,
    /// Median host-wide nr_writeback (pages) in the window.
    pub steady_nr_writeback: Option<u64>,
    /// Median dirty pages of the scenario devices (debugfs BdiReclaimable) in the window.
    pub steady_device_dirty: Option<u64>,
    /// balance_dirty_pages events, and those that slept.
    pub bdp_events: u64,
    pub pauses: u64,
    pub pause_ms_p50: Option<i64>,
    /// Pauses by length (ms -> count): the balance_dirty_pages pause distribution.
    pub pause_ms_hist: BTreeMap<i64, u64>,
    pub pause_ms_p90: Option<i64>,
    pub first_background_ns: Option<u64>,
    /// Start time and reason of the first pass that wrote a scenario file.
    pub first_write_pass: Option<(u64, String)>,
    pub first_expiry_pass_ns: Option<u64>,
    /// Passes started, by reason.
    pub passes: BTreeMap<String, u64>,
    /// block_rq_issue writes with data: count and median size.
    pub write_requests: u64,
    pub write_request_bytes_median: Option<u64>,
    /// Data write requests by size (bytes -> count).
    pub write_request_hist: BTreeMap<u64, u64>,
    /// Distinct (bg_thresh, thresh) of global_dirty_state fired by the writing tasks and the flusher.
    pub thresholds: BTreeSet<(u64, u64)>,
    /// The same fired by other tasks of the host.
    pub foreign_thresholds: BTreeSet<(u64, u64)>,
}

/// Nearest-rank percentile (`p` in 1..=100) of a sorted slice.
pub fn percentile<T: Copy>(sorted: &[T], p: u32) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p as usize * sorted.len()).div_ceil(100)).max(1);
    Some(sorted[rank - 1])
}

/// Median as the lower middle (nearest-rank p50).
pub fn median<T: Copy + Ord>(values: &mut [T]) -> Option<T> {
    values.sort_unstable();
    percentile(values, 50)
}

fn is_scenario_file(f: &str) -> bool {
    !f.starts_with("ino:")
}

/// Computes the figures. `devices`: the scenario's device names (for the per-device series columns).
pub fn figures(log: &Log, series: &Series, devices: &[&str]) -> WriteFigures {
    let mut scan = Scan::default();
    for e in &log.events {
        scan.event(e);
    }
    let mut fig = scan.fig;
    fig.tasks = writing_tasks(scan.tasks);
    split_thresholds(&mut fig, scan.thresholds);
    pause_figures(&mut fig, scan.pauses);
    request_figures(&mut fig, scan.rq_bytes);
    if let Some(span) = scan.dirty_span {
        steady_state(&mut fig, span, series, devices);
    }
    fig
}

/// What one walk over the log gathers: the figures counted on the way, and what the rest are computed from.
#[derive(Default)]
struct Scan<'a> {
    fig: WriteFigures,
    /// Each folio's order, from its `mm_filemap_add_to_page_cache`.
    order: BTreeMap<(&'a str, u64), u64>,
    tasks: BTreeMap<&'a str, TaskWrites>,
    /// The first and last `writeback_dirty_folio` on a scenario file.
    dirty_span: Option<(u64, u64)>,
    /// balance_dirty_pages pauses that slept (ms).
    pauses: Vec<i64>,
    /// Sizes of the data write requests issued.
    rq_bytes: Vec<u64>,
    /// Per device: the reason and start time of the pass in progress.
    pass: BTreeMap<&'a str, (&'a str, u64)>,
    /// Per task: the (bg_thresh, thresh) pairs of its global_dirty_state events.
    thresholds: BTreeMap<&'a str, BTreeSet<(u64, u64)>>,
}

impl<'a> Scan<'a> {
    /// Takes in one event.
    fn event(&mut self, e: &'a Event) {
        let t = e.time.0;
        match &e.kind {
            EventKind::MmFilemapAddToPageCache { file, index, order: o } => {
                self.order.insert((file, *index), *o);
            }
            EventKind::WritebackDirtyFolio { file, index, .. } if is_scenario_file(file) => {
                self.dirtied(&e.task, file, *index, t);
            }
            // A task's own data write bios (not the flusher's, not the journal's, not metadata).
            EventKind::BlockBioQueue { rwbs, nr_sector, .. }
                if rwbs.contains('W')
                    && !rwbs.contains('M')
                    && &*e.task != "kworker"
                    && !e.task.starts_with("jbd2") =>
            {
                let tw = self.tasks.entry(&e.task).or_insert_with(|| TaskWrites::starting(&e.task, t));
                tw.direct_bytes += nr_sector * 512;
                tw.last_ns = t;
            }
            EventKind::BalanceDirtyPages { pause, .. } => {
                self.fig.bdp_events += 1;
                if *pause > 0 {
                    self.pauses.push(*pause);
                }
            }
            EventKind::WritebackStart { device, reason, .. } => {
                *self.fig.passes.entry(reason.to_string()).or_default() += 1;
                if &**reason == "background" && self.fig.first_background_ns.is_none() {
                    self.fig.first_background_ns = Some(t);
                }
                self.pass.insert(device, (reason, t));
            }
            EventKind::WritebackWritten { device, .. } => {
                self.pass.remove(&**device);
            }
            EventKind::WritebackSingleInode { device, file, wrote, .. } if *wrote > 0 && is_scenario_file(file) => {
                self.pass_wrote(device);
            }
            EventKind::BlockRqIssue { rwbs, bytes, .. } if rwbs.contains('W') && !rwbs.contains('M') && *bytes > 0 => {
                self.rq_bytes.push(*bytes);
            }
            EventKind::GlobalDirtyState { bg_thresh, thresh, .. } => {
                self.thresholds.entry(&e.task).or_default().insert((*bg_thresh, *thresh));
            }
            _ => {}
        }
    }

    /// `task` dirtied the folio at `index` of scenario file `file` at `t` ns.
    fn dirtied(&mut self, task: &'a str, file: &'a str, index: u64, t: u64) {
        let pages = 1u64 << self.order.get(&(file, index)).copied().unwrap_or(0);
        let tw = self.tasks.entry(task).or_insert_with(|| TaskWrites::starting(task, t));
        tw.dirtied_bytes += pages * PAGE;
        tw.last_ns = t;
        self.dirty_span = Some(self.dirty_span.map_or((t, t), |(a, _)| (a, t)));
    }

    /// The pass in progress on `device` wrote a scenario file: it may be the first write pass, or expiry pass.
    fn pass_wrote(&mut self, device: &str) {
        if let Some((reason, start)) = self.pass.get(device) {
            if self.fig.first_write_pass.is_none() {
                self.fig.first_write_pass = Some((*start, reason.to_string()));
            }
            if *reason == "periodic" && self.fig.first_expiry_pass_ns.is_none() {
                self.fig.first_expiry_pass_ns = Some(*start);
            }
        }
    }
}

/// The tasks that wrote, by name; a task that dirtied folios is counted by those only (its own bios wrote them).
fn writing_tasks(tasks: BTreeMap<&str, TaskWrites>) -> Vec<TaskWrites> {
    tasks
        .into_values()
        .map(|mut t| {
            if t.dirtied_bytes > 0 {
                t.direct_bytes = 0;
            }
            t
        })
        .collect()
}

/// The global_dirty_state thresholds: the writing tasks' and the flusher's, and apart the other tasks'.
fn split_thresholds(fig: &mut WriteFigures, thresholds: BTreeMap<&str, BTreeSet<(u64, u64)>>) {
    for (task, set) in thresholds {
        if task == "kworker" || fig.tasks.iter().any(|t| t.task == task) {
            fig.thresholds.extend(set);
        } else {
            fig.foreign_thresholds.extend(set);
        }
    }
}

/// The pauses' count, distribution and p50/p90.
fn pause_figures(fig: &mut WriteFigures, mut pauses: Vec<i64>) {
    pauses.sort_unstable();
    for &p in &pauses {
        *fig.pause_ms_hist.entry(p).or_default() += 1;
    }
    fig.pauses = pauses.len() as u64;
    fig.pause_ms_p50 = percentile(&pauses, 50);
    fig.pause_ms_p90 = percentile(&pauses, 90);
}

/// The data write requests' count, distribution and median size.
fn request_figures(fig: &mut WriteFigures, mut rq_bytes: Vec<u64>) {
    for &b in &rq_bytes {
        *fig.write_request_hist.entry(b).or_default() += 1;
    }
    fig.write_requests = rq_bytes.len() as u64;
    fig.write_request_bytes_median = median(&mut rq_bytes);
}

/// The steady-state window (the middle half of the dirtying span `(a, b)`) and the medians of the series in it.
fn steady_state(fig: &mut WriteFigures, (a, b): (u64, u64), series: &Series, devices: &[&str]) {
    let q = (b - a) / 4;
    let (lo, hi) = (a + q, b - q);
    fig.steady_window = Some((lo, hi));
    let inside = series.samples.iter().filter(|s| (lo..=hi).contains(&s.time.0));
    let mut nr: Vec<u64> = Vec::new();
    let mut wb: Vec<u64> = Vec::new();
    let mut dev: Vec<u64> = Vec::new();
    for s in inside {
        if let Some(v) = s.get("nr_dirty") {
            nr.push(v);
        }
        if let Some(v) = s.get("nr_writeback") {
            wb.push(v);
        }
        let per: Option<Vec<u64>> = devices.iter().map(|d| s.get(&format!("{d}.reclaimable_kb"))).collect();
        if let Some(per) = per.filter(|p| !p.is_empty()) {
            dev.push(per.iter().sum::<u64>() * 1024 / PAGE);
        }
    }
    fig.steady_nr_dirty = median(&mut nr);
    fig.steady_nr_writeback = median(&mut wb);
    fig.steady_device_dirty = median(&mut dev);
}

impl WriteFigures {
    /// The bytes written by all tasks over the span from the first task's start to the last task's end, in MiB/s.
    pub fn total_mib_per_s(&self) -> Option<f64> {
        let first = self.tasks.iter().map(|t| t.first_ns).min()?;
        let last = self.tasks.iter().map(|t| t.last_ns).max()?;
        let bytes: u64 = self.tasks.iter().map(|t| t.dirtied_bytes + t.direct_bytes).sum();
        (last > first).then(|| bytes as f64 / (1 << 20) as f64 / ((last - first) as f64 / 1e9))
    }

    /// One line of `key=value` figures (times in ms), for reports and test messages.
    pub fn summary(&self) -> String {
        let ms = |v: Option<u64>| v.map_or("-".to_string(), |n| format!("{:.1}", n as f64 / 1e6));
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
        let mut s = String::new();
        for t in &self.tasks {
            let _ = write!(
                s,
                "{}: {} B dirtied + {} B direct, {} MiB/s; ",
                t.task,
                t.dirtied_bytes,
                t.direct_bytes,
                t.mib_per_s().map_or("-".into(), |r| format!("{r:.0}"))
            );
        }
        let _ = write!(
            s,
            "steady nr_dirty={} nr_writeback={} device_dirty={} bdp={} pauses={} p50={} p90={} ms first_background={} ms \
             first_write_pass={} expiry_pass={} ms write_rq={} median={} B thresholds={:?}",
            opt(self.steady_nr_dirty),
            opt(self.steady_nr_writeback),
            opt(self.steady_device_dirty),
            self.bdp_events,
            self.pauses,
            self.pause_ms_p50.map_or("-".into(), |v| v.to_string()),
            self.pause_ms_p90.map_or("-".into(), |v| v.to_string()),
            ms(self.first_background_ns),
            self.first_write_pass.as_ref().map_or("-".into(), |(t, r)| format!("{:.1}ms/{r}", *t as f64 / 1e6)),
            ms(self.first_expiry_pass_ns),
            self.write_requests,
            opt(self.write_request_bytes_median),
            self.thresholds
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::log::read_log;
    use crate::trace::series::read_series;

    const LOG: &str = "# pcsim event log v1
100 w mm_filemap_add_to_page_cache file=f index=0 order=5
110 w writeback_dirty_folio device=d file=f index=0
120 w global_dirty_state nr_dirty=1 nr_writeback=0 bg_thresh=8192 thresh=16384 limit=16384 nr_dirtied=1 nr_written=0
125 rtapp global_dirty_state nr_dirty=1 nr_writeback=0 bg_thresh=10752 thresh=20992 limit=16384 nr_dirtied=1 nr_written=0
130 kworker writeback_dirty_folio device=d file=ino:7 index=3
200 w mm_filemap_add_to_page_cache file=f index=32 order=5
1000000100 w writeback_dirty_folio device=d file=f index=32
1000000200 w balance_dirty_pages device=d limit=1 setpoint=1 dirty=1 wb_setpoint=1 wb_dirty=1 dirty_ratelimit=1 task_ratelimit=1 dirtied=1 dirtied_pause=1 paused=0 pause=0 period=4 think=0
1000000300 w balance_dirty_pages device=d limit=1 setpoint=1 dirty=1 wb_setpoint=1 wb_dirty=1 dirty_ratelimit=1 task_ratelimit=1 dirtied=1 dirtied_pause=1 paused=0 pause=8 period=4 think=0
1000000400 w balance_dirty_pages device=d limit=1 setpoint=1 dirty=1 wb_setpoint=1 wb_dirty=1 dirty_ratelimit=1 task_ratelimit=1 dirtied=1 dirtied_pause=1 paused=0 pause=12 period=4 think=0
1000000500 kworker writeback_start device=d nr_pages=9 sync_mode=0 kupdate=0 range_cyclic=1 background=1 reason=background
1000000600 kworker writeback_single_inode device=d file=f state=none dirtied_when=1 index=0 to_write=1024 wrote=32
1000000700 kworker writeback_written device=d nr_pages=9 sync_mode=0 kupdate=0 range_cyclic=1 background=1 reason=background
1000000800 kworker block_rq_issue device=d rwbs=W bytes=1310720 sector=8 nr_sector=2560
1000000900 kworker block_rq_issue device=d rwbs=FF bytes=0 sector=0 nr_sector=0
1000001000 kworker block_rq_issue device=d rwbs=W bytes=524288 sector=9000 nr_sector=1024
1000001100 kworker block_rq_issue device=d rwbs=R bytes=4096 sector=9 nr_sector=8
5000000000 kworker writeback_start device=d nr_pages=9 sync_mode=0 kupdate=1 range_cyclic=1 background=0 reason=periodic
5000000100 kworker writeback_single_inode device=d file=ino:12 state=none dirtied_when=1 index=0 to_write=1024 wrote=3
5000000200 kworker writeback_written device=d nr_pages=9 sync_mode=0 kupdate=1 range_cyclic=1 background=0 reason=periodic
10000000000 kworker writeback_start device=d nr_pages=9 sync_mode=0 kupdate=1 range_cyclic=1 background=0 reason=periodic
10000000100 kworker writeback_single_inode device=d file=f state=none dirtied_when=1 index=32 to_write=1024 wrote=32
10000000200 kworker writeback_written device=d nr_pages=9 sync_mode=0 kupdate=1 range_cyclic=1 background=0 reason=periodic
10000000300 dio block_bio_queue device=d rwbs=WS sector=8 nr_sector=2048
10000000400 jbd2/loop0-8 block_bio_queue device=d rwbs=WS sector=8 nr_sector=8
";

    const SERIES: &str = "# pcsim vmstat series v1
0 nr_dirty=5 d.reclaimable_kb=0
250000000 nr_dirty=7 d.reclaimable_kb=400
500000000 nr_dirty=9 d.reclaimable_kb=800 nr_writeback=40
750000000 nr_dirty=3 d.reclaimable_kb=1200 nr_writeback=60
900000000 nr_dirty=100 d.reclaimable_kb=4
";

    fn fig() -> WriteFigures {
        figures(&read_log(LOG.as_bytes()).unwrap(), &read_series(SERIES.as_bytes()).unwrap(), &["d"])
    }

    #[test]
    fn writer_volume_rate_and_steady_state() {
        let f = fig();
        let w = f.tasks.iter().find(|t| t.task == "w").unwrap();
        // Two order-5 folios; the kworker's dirtying of a non-scenario inode does not count.
        assert_eq!((w.dirtied_bytes, w.direct_bytes, w.first_ns, w.last_ns), (2 * 32 * 4096, 0, 110, 1_000_000_100));
        assert!((w.mib_per_s().unwrap() - 0.25).abs() < 1e-6, "{:?}", w.mib_per_s());
        // Window [250000107, 750000103]: the samples at 0.5 s and 0.75 s; the one at 0.25 s is just before it.
        assert_eq!(f.steady_window, Some((250_000_107, 750_000_103)));
        assert_eq!(f.steady_nr_dirty, Some(3));
        assert_eq!(f.steady_nr_writeback, Some(40));
        assert_eq!(f.steady_device_dirty, Some(200));
        let dio = f.tasks.iter().find(|t| t.task == "dio").unwrap();
        assert_eq!((dio.dirtied_bytes, dio.direct_bytes), (0, 2048 * 512));
        assert!(!f.tasks.iter().any(|t| t.task.starts_with("jbd2")));
    }

    #[test]
    fn pauses_passes_requests_and_thresholds() {
        let f = fig();
        assert_eq!((f.bdp_events, f.pauses, f.pause_ms_p50, f.pause_ms_p90), (3, 2, Some(8), Some(12)));
        assert_eq!(f.first_background_ns, Some(1_000_000_500));
        // The first periodic pass wrote only a non-scenario inode; the second wrote `f`.
        assert_eq!(f.first_expiry_pass_ns, Some(10_000_000_000));
        assert_eq!(f.passes.get("periodic"), Some(&2));
        assert_eq!((f.write_requests, f.write_request_bytes_median), (2, Some(524288)));
        assert_eq!(f.thresholds.iter().copied().collect::<Vec<_>>(), vec![(8192, 16384)]);
        assert_eq!(f.foreign_thresholds.iter().copied().collect::<Vec<_>>(), vec![(10752, 20992)]);
        assert_eq!(f.first_write_pass, Some((1_000_000_500, "background".to_string())));
        assert!(f.summary().contains("pauses=2 p50=8 p90=12"), "{}", f.summary());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&v, 100), Some(10));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile::<u64>(&[], 50), None);
        assert_eq!(median(&mut [3, 1, 2, 4]), Some(2));
    }

    #[test]
    fn an_empty_run_has_no_figures() {
        let f = figures(&Log::default(), &Series::default(), &["d"]);
        assert_eq!(f, WriteFigures::default());
        assert_eq!(f.total_mib_per_s(), None);
    }
}
