//! `sweep --probe`: each configuration also runs on this host's kernel through the probe (root), `runs` times,
//! with its sysctls and device knobs applied and restored by the probe; the kernel runs' metrics (the same
//! definitions, from the probe's event log, dirty-page series, vmstat deltas and per-op tables) go beside the
//! model's, as median/min/max over the runs. Kept under `probe/ID/run-K/`.

use std::path::Path;

use super::grid::{Config, SweepSpec};
use super::metrics::{self, Metrics, RunView, TaskView};
use super::results::{self, Row};
use crate::probe::{self, ProbeOptions};
use crate::scenario::Scenario;
use crate::sim::Histogram;
use crate::trace::op::is_sync_name;

const READS: &[&str] = &["read", "pread", "readv", "preadv", "sendfile"];
const WRITES: &[&str] = &["write", "pwrite", "writev", "pwritev"];

/// A task's op table (`ops/TASK.ops`: `seq op start_ns dur_ns result`) as a task view.
pub fn task_view(name: &str, text: &str) -> Result<TaskView, String> {
    let mut t = TaskView { name: name.to_string(), start_ns: u64::MAX, ..Default::default() };
    let (mut lat, mut sync) = (Histogram::default(), Histogram::default());
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |k: usize| -> Result<i64, String> {
            f.get(k)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("line {}: expected `seq op start_ns dur_ns result`", i + 1))
        };
        let (op, start, dur, r) = (f.get(1).copied().unwrap_or(""), num(2)? as u64, num(3)? as u64, num(4)?);
        t.start_ns = t.start_ns.min(start);
        t.end_ns = t.end_ns.max(start + dur);
        if op == "sleep" {
            continue;
        }
        lat.record(dur);
        if is_sync_name(op) {
            sync.record(dur);
        }
        if r > 0 && (READS.contains(&op) || WRITES.contains(&op)) {
            t.bytes += r as u64;
        }
        if READS.contains(&op) {
            t.read_ops += 1;
            t.read_bytes += r.max(0) as u64;
        }
    }
    if t.start_ns == u64::MAX {
        t.start_ns = 0;
    }
    t.latency = lat;
    t.sync_latency = sync;
    Ok(t)
}

/// The metrics of one probe run directory.
pub fn run_metrics(dir: &Path, sc: &Scenario) -> Result<Metrics, String> {
    let input = crate::compare::input::load_run(dir)?;
    let mut tasks = Vec::new();
    for t in &sc.tasks {
        let p = dir.join("ops").join(format!("{}.ops", t.name));
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        tasks.push(task_view(&t.name, &text).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    let refaults =
        input.vmstat.as_ref().and_then(|v| v.iter().find(|(k, _)| k == "workingset_refault_file").map(|(_, x)| *x));
    let view = RunView {
        log: &input.log,
        series: input.series.as_ref(),
        devices: sc.devices.iter().map(|d| d.name.clone()).collect(),
        tasks,
        refaults,
        ra_unused: None,
    };
    Ok(metrics::compute(&view))
}

/// Probes every configuration in `configs` (in order) and fills the rows' kernel metrics.
pub fn run_all(
    spec: &SweepSpec,
    configs: &[Config],
    rows: &mut [Row],
    dir: &Path,
    runs: u32,
    settle_s: u32,
) -> Result<(), String> {
    let probe_dir = dir.join("probe");
    std::fs::create_dir_all(&probe_dir).map_err(|e| format!("{}: {e}", probe_dir.display()))?;
    for (k, c) in configs.iter().enumerate() {
        let id = SweepSpec::id(c.index);
        eprintln!("probe [{}/{}] {id}: {} ({runs} runs)", k + 1, configs.len(), spec.setting(&c.choice));
        let sc = Scenario::parse(&c.text, &spec.source).map_err(|e| e.to_string())?;
        let out = probe_dir.join(&id);
        let opts = ProbeOptions { out: out.clone(), runs, allow_sysctl: true, settle_s, blktrace: false };
        probe::probe(&sc, &opts).map_err(|e| format!("probe of {id}: {e}"))?;
        let run_dirs = if runs > 1 { crate::compare::input::run_dirs(&out)? } else { vec![out.clone()] };
        let mut all = Vec::new();
        for r in &run_dirs {
            all.push(run_metrics(r, &sc)?);
        }
        rows[k].kernel = results::aggregate(&all);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_tables_become_task_views() {
        let text = "# task=w columns: seq op start_ns dur_ns result\n0 open 100 50 3\n1 write 200 1000 131072\n\
                    2 fsync 1300 5000 0\n3 sleep 6300 100 0\n4 read 6400 10 4096\n";
        let t = task_view("w", text).unwrap();
        assert_eq!((t.start_ns, t.end_ns), (100, 6410));
        assert_eq!((t.bytes, t.read_bytes, t.read_ops), (135168, 4096, 1));
        assert_eq!((t.latency.count, t.sync_latency.count, t.sync_latency.max), (4, 1, 5000));
        assert!(task_view("w", "0 open x").is_err());
    }
}
