//! Curve agreement (issue 17): how much of a simulated run's dirty, writeback and write-throughput curves lies
//! inside the envelope of the kernel's runs, over time rather than as one median.
//!
//! Each run's series (`vmstat_series.txt`) is aligned on its first write (the first `writeback_dirty_folio` on a
//! scenario file in its event log: time 0). At each simulated sample time t from 0 to the end of the shortest run,
//! every kernel run's value at t is interpolated linearly between its samples; the envelope is their min..max
//! widened by 10% of their median (at least `FLOOR_PAGES`, so that curves near 0 are not judged on a few pages).
//! The score of a curve is the share of the simulated samples inside it. Curves:
//! - `nr_dirty`, `nr_writeback`: host-wide /proc/vmstat gauges, pages;
//! - `written_rate`: the scenario devices' `written_kb` (bdi stats) per second, differenced sample to sample, in
//!   pages per second, where both sides have the device columns.

use serde::Serialize;

use super::input::Input;
use crate::trace::event::EventKind;
use crate::trace::series::Series;

/// The envelope's widening: this share of the kernel runs' median at each time.
pub const WIDEN: f64 = 0.10;

/// The least widening, in pages (per second for a rate): 64 pages, 256 KiB.
pub const FLOOR_PAGES: f64 = 64.0;

/// The share of samples inside the envelope issue 17 asks of a write scenario's nr_dirty and nr_writeback.
pub const TARGET: f64 = 0.90;

/// One curve's agreement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CurveScore {
    /// `nr_dirty`, `nr_writeback` or `written_rate`.
    pub curve: String,
    /// Simulated samples scored (inside the common span).
    pub samples: u64,
    /// Of which inside the envelope.
    pub inside: u64,
    /// The common span scored, from the first write, in ns.
    pub span_ns: u64,
    /// The first sample outside, if any: (time from the first write in ns, model value, envelope low, high).
    pub first_outside: Option<(u64, f64, f64, f64)>,
}

impl CurveScore {
    /// inside / samples (1 when nothing was scored).
    pub fn share(&self) -> f64 {
        if self.samples == 0 {
            1.0
        } else {
            self.inside as f64 / self.samples as f64
        }
    }
}

/// When the run first dirtied a page of a scenario file (ns), from its event log.
fn first_write_ns(input: &Input) -> Option<u64> {
    input.log.events.iter().find_map(|e| match &e.kind {
        EventKind::WritebackDirtyFolio { file, .. } if !file.starts_with("ino:") => Some(e.time.0),
        _ => None,
    })
}

/// A curve of a run as (time from the first write, value) points, in time order.
type Curve = Vec<(f64, f64)>;

/// The named curve of `series`, aligned on `t0` (samples before it dropped). `None` when the series lacks it.
fn curve(series: &Series, name: &str, t0: u64) -> Option<Curve> {
    let devices: Vec<&str> = series.header.get("devices").map(|d| d.split(',').collect()).unwrap_or_default();
    let points: Curve = match name {
        "written_rate" => {
            if devices.is_empty() {
                return None;
            }
            // Pages written per second between consecutive samples that all have every device's column.
            let totals: Vec<(u64, u64)> = series
                .samples
                .iter()
                .filter_map(|s| {
                    let kb: Option<u64> = devices.iter().map(|d| s.get(&format!("{d}.written_kb"))).sum();
                    kb.map(|kb| (s.time.0, kb / 4))
                })
                .collect();
            totals
                .windows(2)
                .filter(|w| w[1].0 > w[0].0 && w[1].0 >= t0)
                .map(|w| {
                    let rate = w[1].1.saturating_sub(w[0].1) as f64 * 1e9 / (w[1].0 - w[0].0) as f64;
                    ((w[1].0 - t0) as f64, rate)
                })
                .collect()
        }
        _ => series
            .samples
            .iter()
            .filter(|s| s.time.0 >= t0)
            .filter_map(|s| s.get(name).map(|v| ((s.time.0 - t0) as f64, v as f64)))
            .collect(),
    };
    (points.len() >= 2).then_some(points)
}

/// The value of `c` at `t` (linear between samples; `None` outside its span).
fn at(c: &Curve, t: f64) -> Option<f64> {
    let i = c.partition_point(|p| p.0 < t);
    if i < c.len() && c[i].0 == t {
        return Some(c[i].1);
    }
    if i == 0 || i >= c.len() {
        return None;
    }
    let (a, b) = (c[i - 1], c[i]);
    Some(a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0))
}

/// Scores one curve of the simulated run against the kernel runs'; `None` when a side lacks it.
fn score(name: &str, sim: &Curve, kernel: &[Curve]) -> Option<CurveScore> {
    if kernel.is_empty() {
        return None;
    }
    let end = kernel.iter().chain(std::iter::once(sim)).map(|c| c.last().map_or(0.0, |p| p.0)).fold(f64::MAX, f64::min);
    let mut s = CurveScore { curve: name.to_string(), samples: 0, inside: 0, span_ns: end as u64, first_outside: None };
    for &(t, v) in sim.iter().filter(|p| p.0 <= end) {
        let Some(mut ks) = kernel.iter().map(|c| at(c, t)).collect::<Option<Vec<f64>>>() else { continue };
        ks.sort_by(f64::total_cmp);
        let median = ks[(ks.len() - 1) / 2];
        let slack = (median.abs() * WIDEN).max(FLOOR_PAGES);
        let (lo, hi) = (ks[0] - slack, ks[ks.len() - 1] + slack);
        s.samples += 1;
        if v >= lo && v <= hi {
            s.inside += 1;
        } else if s.first_outside.is_none() {
            s.first_outside = Some((t as u64, v, lo, hi));
        }
    }
    Some(s)
}

/// A run's series and its first write, when it has both.
fn aligned(i: &Input) -> Option<(&Series, u64)> {
    Some((i.series.as_ref()?, first_write_ns(i)?))
}

/// The curve scores of `sim` against `probes`: empty unless every run has a series and wrote.
pub fn curve_scores(sim: &Input, probes: &[Input]) -> Vec<CurveScore> {
    let Some((sim_series, sim_t0)) = aligned(sim) else { return Vec::new() };
    let Some(ks) = probes.iter().map(aligned).collect::<Option<Vec<_>>>() else { return Vec::new() };
    if ks.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in ["nr_dirty", "nr_writeback", "written_rate"] {
        let Some(m) = curve(sim_series, name, sim_t0) else { continue };
        let Some(k) = ks.iter().map(|(s, t0)| curve(s, name, *t0)).collect::<Option<Vec<_>>>() else { continue };
        out.extend(score(name, &m, &k));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(points: &[(f64, f64)]) -> Curve {
        points.to_vec()
    }

    #[test]
    fn interpolates_between_samples_and_not_outside() {
        let k = c(&[(0.0, 0.0), (100.0, 1000.0)]);
        assert_eq!(at(&k, 50.0), Some(500.0));
        assert_eq!(at(&k, 100.0), Some(1000.0));
        assert_eq!(at(&k, 101.0), None);
    }

    #[test]
    fn scores_the_share_inside_the_widened_envelope_over_the_common_span() {
        let k1 = c(&[(0.0, 1000.0), (100.0, 2000.0), (200.0, 2000.0), (300.0, 2000.0)]);
        let k2 = c(&[(0.0, 1200.0), (100.0, 2400.0), (200.0, 2400.0)]);
        // At 0: envelope 1000..1200 widened by max(10% of 1000, 64) = 100: 900..1300. At 100: 2000..2400 ± 200.
        // At 200 likewise. The sample at 300 is past k2's end: not scored.
        let m = c(&[(0.0, 1290.0), (100.0, 2700.0), (200.0, 1900.0), (300.0, 0.0)]);
        let s = score("nr_dirty", &m, &[k1, k2]).unwrap();
        assert_eq!((s.samples, s.inside, s.span_ns), (3, 2, 200));
        assert_eq!(s.first_outside, Some((100, 2700.0, 1800.0, 2600.0)));
        assert!((s.share() - 2.0 / 3.0).abs() < 1e-9);
        // Near 0 the floor applies: 64 pages.
        let z = c(&[(0.0, 0.0), (100.0, 0.0)]);
        let s = score("nr_writeback", &c(&[(0.0, 64.0), (100.0, 65.0)]), &[z]).unwrap();
        assert_eq!((s.samples, s.inside), (2, 1));
    }
}
