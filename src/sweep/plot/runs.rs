//! Per-run time series and distributions, from a run's `timeline.json` and `vmstat_series.txt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::chart::{self, Chart, Series, Style};
use crate::sweep::timeline::{Timeline, RATE_BIN_NS};
use crate::trace::series::read_series_file;

const S: f64 = 1e9;

/// Draws one run's plots into `out`; `title` names the scenario and the setting.
pub fn plot_run(run: &Path, out: &Path, title: &str, png: bool) -> Result<Vec<PathBuf>, String> {
    let p = run.join("timeline.json");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let tl: Timeline = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
    let series_path = run.join("vmstat_series.txt");
    let series = if series_path.is_file() { Some(read_series_file(&series_path)?) } else { None };
    let mut charts: Vec<(&str, Chart)> = Vec::new();
    if let Some(s) = &series {
        if let Some(c) = dirty_chart(s, &tl, title) {
            charts.push(("dirty", c));
        }
    }
    let pauses: Vec<(f64, f64)> =
        tl.passes.iter().filter(|p| p.pause_ms > 0).map(|p| (p.t as f64 / S, p.pause_ms as f64)).collect();
    if !pauses.is_empty() {
        let mut hist: BTreeMap<i64, u64> = BTreeMap::new();
        for p in tl.passes.iter().filter(|p| p.pause_ms > 0) {
            *hist.entry(p.pause_ms).or_default() += 1;
        }
        charts.push((
            "pauses",
            Chart {
                title: format!("{title}: balance_dirty_pages pauses"),
                x_label: "time (s)".into(),
                y_label: "pause (ms)".into(),
                y_int: true,
                series: vec![Series::new("pause", Style::Points, pauses)],
                ..Default::default()
            },
        ));
        charts.push((
            "pause_hist",
            Chart {
                title: format!("{title}: pause distribution"),
                x_label: "pause (ms)".into(),
                y_label: "pauses (count)".into(),
                x_int: true,
                y_int: true,
                series: vec![Series::new(
                    "pauses",
                    Style::Bars,
                    hist.iter().map(|(&k, &n)| (k as f64, n as f64)).collect(),
                )],
                ..Default::default()
            },
        ));
    }
    if let Some(c) = rates_chart(&tl, title) {
        charts.push(("rates", c));
    }
    if !tl.windows.is_empty() {
        let mut by_file: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
        for w in &tl.windows {
            by_file.entry(&w.file).or_default().push((w.t as f64 / S, w.size as f64));
        }
        charts.push((
            "readahead",
            Chart {
                title: format!("{title}: readahead window size"),
                x_label: "time (s)".into(),
                y_label: "window (pages)".into(),
                y_int: true,
                series: by_file
                    .into_iter()
                    .map(|(f, pts)| Series::new(format!("file {f}"), Style::Points, pts))
                    .collect(),
                ..Default::default()
            },
        ));
    }
    if !tl.latency.is_empty() {
        charts.push(("latency_cdf", latency_cdf(&tl, title)));
    }
    if !tl.write_rq.is_empty() {
        charts.push((
            "write_rq",
            Chart {
                title: format!("{title}: data write request sizes"),
                x_label: "request size (KiB)".into(),
                y_label: "requests (count)".into(),
                x_int: true,
                y_int: true,
                series: vec![Series::new(
                    "requests",
                    Style::Bars,
                    tl.write_rq.iter().map(|(&b, &n)| (b as f64 / 1024.0, n as f64)).collect(),
                )],
                ..Default::default()
            },
        ));
    }
    let mut written = Vec::new();
    for (name, c) in &charts {
        written.extend(chart::write(c, &out.join(name), png)?);
    }
    for h in &tl.heat {
        if h.pages.iter().flatten().any(|&n| n > 0) {
            written.extend(super::heat::write(h, &out.join(format!("residency-{}", h.file)), title, png)?);
        }
    }
    Ok(written)
}

/// Dirty and writeback pages of the scenario's devices, nr_dirty, and the limits.
fn dirty_chart(s: &crate::trace::series::Series, tl: &Timeline, title: &str) -> Option<Chart> {
    let devices: Vec<String> = s.header.get("devices")?.split(',').map(String::from).collect();
    let col = |suffix: &str| -> Vec<(f64, f64)> {
        s.samples
            .iter()
            .filter_map(|x| {
                let mut sum = 0;
                for d in &devices {
                    sum += x.get(&format!("{d}.{suffix}"))?;
                }
                Some((x.time.0 as f64 / S, (sum / 4) as f64))
            })
            .collect()
    };
    let dirty = col("reclaimable_kb");
    if dirty.iter().all(|p| p.1 == 0.0) && tl.passes.is_empty() {
        return None;
    }
    let mut series = vec![
        Series::new("devices' dirty pages", Style::Line, dirty),
        Series::new("devices' writeback pages", Style::Line, col("writeback_kb")),
        Series::new(
            "nr_dirty",
            Style::Line,
            s.samples.iter().filter_map(|x| Some((x.time.0 as f64 / S, x.get("nr_dirty")? as f64))).collect(),
        ),
    ];
    series[2].thin = true;
    // The limits from global_dirty_state, held until the next change and to the end of the run.
    let end = tl.end_ns.max(s.samples.last().map_or(0, |x| x.time.0)) as f64 / S;
    let step = |f: &dyn Fn(&crate::sweep::timeline::Limits) -> f64| -> Vec<(f64, f64)> {
        let mut pts: Vec<(f64, f64)> = tl.limits.iter().map(|l| (l.t as f64 / S, f(l))).collect();
        if let Some(&(_, y)) = pts.last() {
            pts.push((end, y));
        }
        pts
    };
    type Lim = crate::sweep::timeline::Limits;
    type Line<'a> = (&'a str, &'a dyn Fn(&Lim) -> f64);
    let lines: [Line; 4] = [
        ("background threshold", &|l: &Lim| l.bg_thresh as f64),
        ("freerun ((bg + thresh) / 2)", &|l: &Lim| (l.bg_thresh + l.thresh) as f64 / 2.0),
        ("setpoint ((freerun + limit) / 2)", &|l: &Lim| ((l.bg_thresh + l.thresh) as f64 / 2.0 + l.limit as f64) / 2.0),
        ("limit", &|l: &Lim| l.limit as f64),
    ];
    for (name, f) in lines {
        let pts = step(f);
        if !pts.is_empty() {
            let mut sr = Series::new(name, Style::Step, pts);
            sr.thin = true;
            series.push(sr);
        }
    }
    Some(Chart {
        title: format!("{title}: dirty and writeback pages"),
        x_label: "time (s)".into(),
        y_label: "pages (4 KiB)".into(),
        y_int: true,
        series,
        ..Default::default()
    })
}

/// Per task: pages dirtied per 100 ms as MiB/s, its task_ratelimit; the devices' write bandwidth estimate.
fn rates_chart(tl: &Timeline, title: &str) -> Option<Chart> {
    if tl.dirtied.is_empty() {
        return None;
    }
    let mib = |kbps: u64| kbps as f64 / 1024.0;
    let mut series = Vec::new();
    for (task, bins) in &tl.dirtied {
        let pts = bins
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                ((i as f64 + 0.5) * RATE_BIN_NS as f64 / S, p as f64 * 4096.0 / 1048576.0 / (RATE_BIN_NS as f64 / S))
            })
            .collect();
        series.push(Series::new(format!("{task}: dirty rate"), Style::Line, pts));
        let rl: Vec<(f64, f64)> = tl
            .passes
            .iter()
            .filter(|p| &p.task == task)
            .map(|p| (p.t as f64 / S, mib(p.task_ratelimit_kbps)))
            .collect();
        if !rl.is_empty() {
            series.push(Series::new(format!("{task}: task_ratelimit"), Style::Points, rl));
        }
    }
    let mut devs: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for b in &tl.bandwidth {
        devs.entry(&b.device).or_default().push((b.t as f64 / S, mib(b.avg_write_bw_kbps)));
    }
    for (d, pts) in devs {
        let mut s = Series::new(format!("{d}: avg_write_bw"), Style::Step, pts);
        s.thin = true;
        series.push(s);
    }
    Some(Chart {
        title: format!("{title}: dirty rate and bandwidth"),
        x_label: "time (s)".into(),
        y_label: "rate (MiB/s)".into(),
        series,
        ..Default::default()
    })
}

/// Op latency CDF per task (log x).
fn latency_cdf(tl: &Timeline, title: &str) -> Chart {
    let mut series = Vec::new();
    for (task, buckets) in &tl.latency {
        let total: u64 = buckets.iter().map(|b| b.1).sum();
        if total == 0 {
            continue;
        }
        let mut seen = 0;
        let mut pts = Vec::new();
        for &(lo, n) in buckets {
            let x = (lo.max(1)) as f64 / 1000.0;
            pts.push((x, seen as f64 / total as f64));
            seen += n;
            pts.push((x, seen as f64 / total as f64));
        }
        series.push(Series::new(task.clone(), Style::Line, pts));
    }
    Chart {
        title: format!("{title}: op latency CDF"),
        x_label: "latency (µs, log scale)".into(),
        y_label: "fraction of ops (≤ latency)".into(),
        x_log: true,
        series,
        ..Default::default()
    }
}
