//! What `pcsim run --trace` prints beside the model's summary: the trace read (records, calls, what was skipped
//! and why, the notes), and per task the calls' recorded durations beside the model's latencies.

use std::fmt::Write as _;

use crate::replay::Stats;
use crate::sim::{Histogram, ReplayRun};

/// Notes worth a sentence of their own.
fn explain(note: &str) -> Option<&'static str> {
    match note {
        "mmap_file_touches_invisible" => Some(
            "page touches through a file mapping are not in an strace: the replay maps the file but touches none \
             of its pages",
        ),
        "time_raised_to_monotonic" => {
            Some("records that went back in time were replayed at the previous record's time")
        }
        _ => None,
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn dist(h: &Histogram) -> String {
    if h.count == 0 {
        return "-".into();
    }
    format!("{}/{}/{}", us(h.quantile(0.5)), us(h.quantile(0.99)), us(h.max))
}

/// The replay's section of the text summary.
pub(crate) fn text(trace: &str, timing: &str, run: &ReplayRun, plan_stats: &Stats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nreplay of {trace}: {} records read, {} calls replayed in {} tasks; think time {timing}",
        plan_stats.records,
        run.calls.iter().sum::<u64>(),
        run.calls.len()
    );
    if run.spilled > 0 {
        let _ = writeln!(out, "  {} records waited in spill files (a task fell behind the others)", run.spilled);
    }
    if !plan_stats.skipped.is_empty() {
        let v: Vec<String> = plan_stats.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  skipped: {}", v.join(", "));
    }
    if !plan_stats.notes.is_empty() {
        let v: Vec<String> = plan_stats.notes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  notes: {}", v.join(", "));
        for k in plan_stats.notes.keys() {
            if let Some(why) = explain(k) {
                let _ = writeln!(out, "  {k}: {why}");
            }
        }
    }
    for (dev, p) in &plan_stats.partitions {
        let _ = writeln!(
            out,
            "  partition {},{} of {},{} from sector {} (remap records; --partition {0}:{1} replays it alone)",
            dev >> 20,
            dev & 0xfffff,
            p.device >> 20,
            p.device & 0xfffff,
            p.start_sector
        );
    }
    let gaps: u64 = plan_stats.sequence_gaps.values().map(|g| g.missing).sum();
    if gaps > 0 {
        let _ = writeln!(out, "  blktrace sequence gaps: {gaps} records missing (lost by blktrace)");
    }
    let _ = writeln!(
        out,
        "{:<16} {:>10}  {:>28}  {:>28}",
        "task", "calls", "recorded p50/p99/max us", "model p50/p99/max us"
    );
    for (t, task) in run.result.tasks.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:<16} {:>10}  {:>28}  {:>28}",
            task.name,
            run.calls[t],
            dist(&run.recorded[t]),
            dist(&task.latency)
        );
    }
    out
}

fn hist_json(h: &Histogram) -> serde_json::Value {
    serde_json::json!({
        "count": h.count,
        "p50_ns": h.quantile(0.5),
        "p99_ns": h.quantile(0.99),
        "max_ns": h.max,
        "sum_ns": h.sum as u64,
    })
}

/// The replay's object of the JSON summary.
pub(crate) fn json(trace: &str, timing: &str, run: &ReplayRun, plan_stats: &Stats) -> serde_json::Value {
    let tasks: Vec<serde_json::Value> = run
        .result
        .tasks
        .iter()
        .enumerate()
        .map(|(t, task)| {
            serde_json::json!({
                "name": task.name,
                "calls": run.calls[t],
                "recorded": hist_json(&run.recorded[t]),
                "model": hist_json(&task.latency),
            })
        })
        .collect();
    let gaps: Vec<serde_json::Value> = plan_stats
        .sequence_gaps
        .iter()
        .map(|((dev, cpu), g)| {
            serde_json::json!({"device": format!("{},{}", dev >> 20, dev & 0xfffff), "cpu": cpu,
                "gaps": g.gaps, "missing": g.missing, "backwards": g.backwards})
        })
        .collect();
    let partitions: Vec<serde_json::Value> = plan_stats
        .partitions
        .iter()
        .map(|(dev, p)| {
            serde_json::json!({"partition": format!("{},{}", dev >> 20, dev & 0xfffff),
                "device": format!("{},{}", p.device >> 20, p.device & 0xfffff), "start_sector": p.start_sector})
        })
        .collect();
    serde_json::json!({
        "trace": trace,
        "partitions": partitions,
        "think_time": timing,
        "records": plan_stats.records,
        "calls": run.calls.iter().sum::<u64>(),
        "skipped": plan_stats.skipped,
        "notes": plan_stats.notes,
        "sequence_gaps": gaps,
        "spilled": run.spilled,
        "tasks": tasks,
    })
}
