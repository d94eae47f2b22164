//! Issue 5's write-side checks of a simulated run against probe runs, from `curves::figures` on both sides: the
//! steady dirty pages (of the scenario's devices when the probe recorded them, else host-wide nr_dirty), each
//! writing task's throughput, the number of balance_dirty_pages pauses and their p50/p90
//! must lie inside the range the kernel's runs span widened by a tolerance times their median (the kernel varies
//! run to run: its throttled writer's throughput spread ~20%); the expiry (kupdate) pass must start within one
//! dirty_writeback interval of the kernel's median; the write request size median must equal the kernel's where its
//! runs agree, else lie inside their range.

use serde::Serialize;

use super::curves::{figures, WriteFigures};
use super::input::Input;

/// One write-side figure: the model's value, the kernel's per run, the accepted range and the verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WriteCheck {
    pub name: String,
    pub model: Option<f64>,
    pub kernel: Vec<Option<f64>>,
    pub lo: f64,
    pub hi: f64,
    pub passed: bool,
}

fn lower_median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

/// A figure checked against the kernel's range widened by `tol` × median (plus `floor`); skipped (None) when the
/// kernel lacks it in any run. A figure the kernel has but the model lacks fails.
fn range_check(name: String, model: Option<f64>, kernel: Vec<Option<f64>>, tol: f64, floor: f64) -> Option<WriteCheck> {
    let ks: Vec<f64> = kernel.iter().copied().collect::<Option<_>>()?;
    if ks.is_empty() {
        return None;
    }
    let mut sorted = ks.clone();
    let median = lower_median(&mut sorted);
    let slack = (median.abs() * tol).max(floor);
    let (lo, hi) = (sorted[0] - slack, sorted[sorted.len() - 1] + slack);
    let passed = model.is_some_and(|m| m >= lo && m <= hi);
    Some(WriteCheck { name, model, kernel, lo, hi, passed })
}

/// The figures of a run that has a vmstat series (None otherwise).
pub fn run_figures(input: &Input) -> Option<WriteFigures> {
    let series = input.series.as_ref()?;
    let devices: Vec<&str> = series.header.get("devices").map(|d| d.split(',').collect()).unwrap_or_default();
    Some(figures(&input.log, series, &devices))
}

/// The write-side checks, or an empty list when a side has no series or nothing was written.
pub fn check_writes(sim: &Input, probes: &[Input], tol: f64, writeback_interval_ns: u64) -> Vec<WriteCheck> {
    let Some(m) = run_figures(sim) else { return Vec::new() };
    let ks: Vec<WriteFigures> = match probes.iter().map(run_figures).collect::<Option<Vec<_>>>() {
        Some(k) if !k.is_empty() => k,
        _ => return Vec::new(),
    };
    if m.tasks.is_empty() && ks.iter().all(|k| k.tasks.is_empty()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    out.extend(steady_dirty_check(&m, &ks, tol));
    out.extend(throughput_checks(&m, &ks, tol));
    out.extend(pause_checks(&m, &ks, tol));
    out.extend(expiry_pass_check(&m, &ks, writeback_interval_ns));
    out.extend(request_size_check(&m, &ks));
    out
}

/// A count as a figure.
fn as_f64(v: Option<u64>) -> Option<f64> {
    v.map(|x| x as f64)
}

/// The steady dirty pages: the scenario devices' own (debugfs BdiReclaimable) when every kernel run has them, else
/// the host-wide nr_dirty.
fn steady_dirty_check(m: &WriteFigures, ks: &[WriteFigures], tol: f64) -> Option<WriteCheck> {
    // The host-wide nr_dirty also counts other processes' dirty pages (traces/write: fsync_every_8m's device held
    // 7-1926 dirty pages while the host held 1037-5312).
    let (label, model, kernel) = if ks.iter().all(|k| k.steady_device_dirty.is_some()) {
        (
            "steady dirty pages of the devices",
            as_f64(m.steady_device_dirty),
            ks.iter().map(|k| as_f64(k.steady_device_dirty)).collect(),
        )
    } else {
        ("steady nr_dirty (pages)", as_f64(m.steady_nr_dirty), ks.iter().map(|k| as_f64(k.steady_nr_dirty)).collect())
    };
    range_check(label.into(), model, kernel, tol, 32.0)
}

/// Each writing task's throughput, for a sustained writer only: one whose steady window every kernel run sampled.
fn throughput_checks(m: &WriteFigures, ks: &[WriteFigures], tol: f64) -> Vec<WriteCheck> {
    let sustained = ks.iter().all(|k| k.steady_nr_dirty.is_some());
    let mut names: Vec<&str> =
        if sustained { ks.iter().flat_map(|k| k.tasks.iter().map(|t| t.task.as_str())).collect() } else { Vec::new() };
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let rate = |w: &WriteFigures| w.tasks.iter().find(|t| t.task == name).and_then(|t| t.mib_per_s());
        out.extend(range_check(format!("{name} throughput (MiB/s)"), rate(m), ks.iter().map(rate).collect(), tol, 0.0));
    }
    out
}

/// One jiffy in ms on the reference kernel (CONFIG_HZ=250): balance_dirty_pages pauses are whole jiffies.
const JIFFY_MS: f64 = 4.0;

/// The number of balance_dirty_pages pauses, and their p50 and p90 when every kernel run paused.
fn pause_checks(m: &WriteFigures, ks: &[WriteFigures], tol: f64) -> Vec<WriteCheck> {
    let mut out = Vec::new();
    out.extend(range_check(
        "balance_dirty_pages pauses".into(),
        Some(m.pauses as f64),
        ks.iter().map(|k| Some(k.pauses as f64)).collect(),
        tol,
        1.0,
    ));
    if ks.iter().all(|k| k.pauses > 0) {
        // Pauses are whole jiffies (4 ms at HZ 250), so a percentile moves in 4 ms steps: a slack under one step would
        // demand the kernel's value exactly, and a median between two steps flips with a few pauses (mmap_over_limit:
        // 37-50% of the kernel's pauses at 8 ms, the rest 12 ms and longer). The slack is at least one step.
        for (label, get) in [
            ("pause p50 (ms)", (|w: &WriteFigures| w.pause_ms_p50) as fn(&WriteFigures) -> Option<i64>),
            ("pause p90 (ms)", |w: &WriteFigures| w.pause_ms_p90),
        ] {
            out.extend(range_check(
                label.into(),
                get(m).map(|v| v as f64),
                ks.iter().map(|k| get(k).map(|v| v as f64)).collect(),
                tol,
                JIFFY_MS,
            ));
        }
    }
    out
}

/// The expiry (kupdate) pass's start, within one dirty_writeback interval of the kernel's median; only when every
/// kernel run had one and the model wrote nothing with O_DIRECT.
fn expiry_pass_check(m: &WriteFigures, ks: &[WriteFigures], writeback_interval_ns: u64) -> Option<WriteCheck> {
    if !(ks.iter().all(|k| k.first_expiry_pass_ns.is_some()) && m.tasks.iter().all(|t| t.direct_bytes == 0)) {
        return None;
    }
    let mut kv: Vec<f64> = ks.iter().map(|k| k.first_expiry_pass_ns.unwrap() as f64 / 1e6).collect();
    let med = lower_median(&mut kv);
    let iv = writeback_interval_ns as f64 / 1e6;
    let model = m.first_expiry_pass_ns.map(|v| v as f64 / 1e6);
    Some(WriteCheck {
        name: "expiry pass start (ms)".into(),
        passed: model.is_some_and(|v| (v - med).abs() <= iv),
        model,
        kernel: ks.iter().map(|k| k.first_expiry_pass_ns.map(|v| v as f64 / 1e6)).collect(),
        lo: med - iv,
        hi: med + iv,
    })
}

/// The write request size median, when every kernel run issued data writes.
fn request_size_check(m: &WriteFigures, ks: &[WriteFigures]) -> Option<WriteCheck> {
    let sizes: Option<Vec<f64>> = ks.iter().map(|k| as_f64(k.write_request_bytes_median)).collect();
    let mut sizes = sizes.filter(|s| !s.is_empty())?;
    // Equal to the kernel's when its runs agree; where they do not (O_DIRECT splits depend on the user buffer),
    // inside the range they span.
    sizes.sort_by(f64::total_cmp);
    let (lo, hi) = (sizes[0], sizes[sizes.len() - 1]);
    let model = as_f64(m.write_request_bytes_median);
    Some(WriteCheck {
        name: "write request size median (bytes)".into(),
        passed: model.is_some_and(|v| v >= lo && v <= hi),
        model,
        kernel: ks.iter().map(|k| as_f64(k.write_request_bytes_median)).collect(),
        lo,
        hi,
    })
}
