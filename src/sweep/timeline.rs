//! What the per-run plots need from one run, kept in the sweep directory as `runs/ID/timeline.json` beside the
//! run's `vmstat_series.txt`: the event log itself would be megabytes per run, this is kilobytes.
//!
//! Times are ns from the run's start, pages are 4 KiB.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::metrics::RunView;
use crate::trace::event::EventKind;

/// Width of the time bins of the per-task dirty rate, ns.
pub const RATE_BIN_NS: u64 = 100_000_000;
/// Bins of the residency heatmap along the file and along time.
pub const HEAT_BINS: usize = 48;

/// The dirty limits in force: a `global_dirty_state` whose values changed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Limits {
    pub t: u64,
    pub bg_thresh: u64,
    pub thresh: u64,
    pub limit: u64,
}

/// One `balance_dirty_pages` pass of a task: its pause (ms, 0 when it did not sleep) and its task_ratelimit (KB/s).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Pass {
    pub t: u64,
    pub task: String,
    pub pause_ms: i64,
    pub task_ratelimit_kbps: u64,
    pub dirty_ratelimit_kbps: u64,
}

/// A device's bandwidth estimate (`bdi_dirty_ratelimit`), KB/s.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Bandwidth {
    pub t: u64,
    pub device: String,
    pub write_bw_kbps: u64,
    pub avg_write_bw_kbps: u64,
}

/// A readahead window (`page_cache_ra_order` / `page_cache_ra_unbounded`): its size in pages.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Window {
    pub t: u64,
    pub file: String,
    pub index: u64,
    pub size: u64,
}

/// A file's residency over time: `pages[time_bin][offset_bin]` resident at the end of each time bin.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Heat {
    pub file: String,
    pub size_pages: u64,
    pub bin_ns: u64,
    pub bin_pages: u64,
    pub pages: Vec<Vec<u64>>,
}

/// Everything the per-run plots draw.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timeline {
    pub end_ns: u64,
    pub limits: Vec<Limits>,
    pub passes: Vec<Pass>,
    pub bandwidth: Vec<Bandwidth>,
    /// Per task: pages dirtied in each `RATE_BIN_NS` bin.
    pub dirtied: BTreeMap<String, Vec<u64>>,
    pub windows: Vec<Window>,
    pub heat: Vec<Heat>,
    /// Per task: the op latency histogram's buckets (lower bound ns, count).
    pub latency: BTreeMap<String, Vec<(u64, u64)>>,
    /// Data write request sizes (bytes) and how many.
    pub write_rq: BTreeMap<u64, u64>,
}

/// The files and their initial cached page ranges, for the heatmap's start.
pub struct FileStart {
    pub name: String,
    pub size_pages: u64,
    pub cached: Vec<(u64, u64)>,
}

/// Builds a run's timeline.
pub fn build(v: &RunView, files: &[FileStart]) -> Timeline {
    let end = v.tasks.iter().map(|t| t.end_ns).max().unwrap_or(0);
    let mut tl = Timeline { end_ns: end, ..Default::default() };
    let mut order: BTreeMap<(&str, u64), u64> = BTreeMap::new();
    let bins = (end / RATE_BIN_NS + 1) as usize;
    let mut heat = HeatBuilder::new(files, end);
    for e in &v.log.events {
        let t = e.time.0;
        match &e.kind {
            EventKind::GlobalDirtyState { bg_thresh, thresh, limit, .. } => {
                let l = Limits { t, bg_thresh: *bg_thresh, thresh: *thresh, limit: *limit };
                let same = tl
                    .limits
                    .last()
                    .is_some_and(|p| (p.bg_thresh, p.thresh, p.limit) == (l.bg_thresh, l.thresh, l.limit));
                if !same {
                    tl.limits.push(l);
                }
            }
            EventKind::BalanceDirtyPages { pause, task_ratelimit, dirty_ratelimit, .. } => tl.passes.push(Pass {
                t,
                task: e.task.to_string(),
                pause_ms: *pause,
                task_ratelimit_kbps: *task_ratelimit,
                dirty_ratelimit_kbps: *dirty_ratelimit,
            }),
            EventKind::BdiDirtyRatelimit { device, write_bw, avg_write_bw, .. } => tl.bandwidth.push(Bandwidth {
                t,
                device: device.to_string(),
                write_bw_kbps: *write_bw,
                avg_write_bw_kbps: *avg_write_bw,
            }),
            EventKind::MmFilemapAddToPageCache { file, index, order: o } => {
                order.insert((file, *index), *o);
                heat.add(file, *index, 1 << o, t);
            }
            EventKind::MmFilemapDeleteFromPageCache { file, index, order: o } => heat.del(file, *index, 1 << o, t),
            EventKind::WritebackDirtyFolio { file, index, .. } if !file.starts_with("ino:") => {
                let pages = 1u64 << order.get(&(&**file, *index)).copied().unwrap_or(0);
                let v = tl.dirtied.entry(e.task.to_string()).or_insert_with(|| vec![0; bins]);
                let b = ((t / RATE_BIN_NS) as usize).min(bins - 1);
                v[b] += pages;
            }
            EventKind::PageCacheRaOrder { file, index, size, .. }
            | EventKind::PageCacheRaUnbounded { file, index, nr_to_read: size, .. }
                // page_cache_ra_order falling back to page_cache_ra_unbounded traces one window twice.
                if !file.starts_with("ino:")
                    && !tl.windows.last().is_some_and(|w| w.t == t && w.file == **file && w.index == *index) =>
            {
                tl.windows.push(Window { t, file: file.to_string(), index: *index, size: *size });
            }
            EventKind::BlockRqIssue { device, rwbs, bytes, .. }
                if rwbs.contains('W')
                    && !rwbs.contains('M')
                    && *bytes > 0
                    && v.devices.iter().any(|d| d == &**device) =>
            {
                *tl.write_rq.entry(*bytes).or_default() += 1;
            }
            _ => {}
        }
    }
    tl.heat = heat.finish();
    for task in &v.tasks {
        tl.latency.insert(task.name.clone(), task.latency.buckets().collect());
    }
    tl
}

/// Sweeps the page-cache insertions and deletions into per-bin residency counts.
struct HeatBuilder {
    files: Vec<(String, u64, u64)>,
    bin_ns: u64,
    cur: Vec<Vec<u64>>,
    out: Vec<Vec<Vec<u64>>>,
    next_bin: usize,
}

impl HeatBuilder {
    fn new(files: &[FileStart], end: u64) -> Self {
        let bin_ns = (end / HEAT_BINS as u64).max(1);
        let mut cur = Vec::new();
        let mut meta = Vec::new();
        for f in files {
            let bin_pages = f.size_pages.div_ceil(HEAT_BINS as u64).max(1);
            let mut row = vec![0u64; HEAT_BINS];
            for &(a, b) in &f.cached {
                for p in a..=b {
                    row[((p / bin_pages) as usize).min(HEAT_BINS - 1)] += 1;
                }
            }
            cur.push(row);
            meta.push((f.name.clone(), f.size_pages, bin_pages));
        }
        HeatBuilder { files: meta, bin_ns, out: vec![Vec::new(); cur.len()], cur, next_bin: 0 }
    }

    fn advance(&mut self, t: u64) {
        while self.next_bin < HEAT_BINS && t >= (self.next_bin as u64 + 1) * self.bin_ns {
            for (k, row) in self.cur.iter().enumerate() {
                self.out[k].push(row.clone());
            }
            self.next_bin += 1;
        }
    }

    fn change(&mut self, file: &str, index: u64, pages: u64, t: u64, add: bool) {
        self.advance(t);
        let Some(k) = self.files.iter().position(|f| f.0 == file) else { return };
        let bin_pages = self.files[k].2;
        for p in index..index + pages {
            let b = ((p / bin_pages) as usize).min(HEAT_BINS - 1);
            let c = &mut self.cur[k][b];
            *c = if add { *c + 1 } else { c.saturating_sub(1) };
        }
    }

    fn add(&mut self, file: &str, index: u64, pages: u64, t: u64) {
        self.change(file, index, pages, t, true);
    }

    fn del(&mut self, file: &str, index: u64, pages: u64, t: u64) {
        self.change(file, index, pages, t, false);
    }

    fn finish(mut self) -> Vec<Heat> {
        self.advance(u64::MAX);
        self.files
            .into_iter()
            .zip(self.out)
            .map(|((file, size_pages, bin_pages), pages)| Heat {
                file,
                size_pages,
                bin_ns: self.bin_ns,
                bin_pages,
                pages,
            })
            .collect()
    }
}
