//! A run's headline figures: what `pcsim run` prints and writes with `--json`, and what a snapshot test pins.
//!
//! Per task: ops, bytes, op latency p50/p99/max (virtual time) and the read hit ratio (read calls that needed no
//! I/O); per device: requests, pages read and busy time; per file: pages cached at the end and pages readahead
//! brought in that were never read; the LRU lists and the dirty counters.

use std::fmt::{self, Write as _};

use super::result::SimResult;

/// The summary of a run (see the module doc); `Display` is the table `pcsim run` prints.
#[derive(Clone, Copy, Debug)]
pub struct Summary<'a> {
    res: &'a SimResult,
    latency: bool,
}

impl SimResult {
    /// The run's summary.
    pub fn summary(&self) -> Summary<'_> {
        Summary { res: self, latency: true }
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

impl Summary<'_> {
    /// The same summary without the latency columns and the simulated time: what stays put when only the model's
    /// cost constants change (the form the project's own snapshots pin).
    pub fn without_latency(self) -> Self {
        Summary { latency: false, ..self }
    }

    /// The summary as JSON (`pcsim run --json`; `schema_version` 1).
    pub fn to_json(&self) -> serde_json::Value {
        let res = self.res;
        serde_json::json!({
            "schema_version": 1,
            "pcsim_version": env!("CARGO_PKG_VERSION"),
            "scenario": res.scenario,
            "seed": res.seed,
            "simulated_ns": res.end.0,
            "tasks": res.tasks.iter().map(|t| serde_json::json!({
                "name": t.name, "ops": t.ops, "failed_ops": t.failed_ops, "bytes": t.bytes,
                "read_ops": t.read_ops, "read_misses": t.read_misses,
                "latency_ns": {"p50": t.latency.quantile(0.5), "p99": t.latency.quantile(0.99), "max": t.latency.max},
            })).collect::<Vec<_>>(),
            "devices": res.devices.iter().map(|d| serde_json::json!({
                "name": d.name, "requests": d.requests, "sectors_read": d.sectors_read, "busy_ns": d.busy_ns,
            })).collect::<Vec<_>>(),
            "files": res.files.iter().map(|f| serde_json::json!({
                "name": f.name, "size_pages": f.size_pages, "nr_cache": f.nr_cache, "ra_never_used": f.ra_unused,
            })).collect::<Vec<_>>(),
            "zone": {
                "managed": res.zone.managed, "min": res.zone.min, "low": res.zone.low, "high": res.zone.high,
                "free_start": res.zone.free_start, "free_end": res.zone.free_end, "free_lowest": res.zone.free_lowest,
                "peak_cached": res.zone.peak_cached, "overcommitted": res.zone.overcommitted,
                "noretry_failed": res.zone.noretry_failed,
            },
            "vmstat": res.counters.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v)))
                .chain([("pages_added".to_string(), serde_json::json!(res.vm.nr_added)),
                        ("pages_deleted".to_string(), serde_json::json!(res.vm.nr_deleted))])
                .collect::<serde_json::Map<String, serde_json::Value>>(),
        })
    }

    fn tasks(&self, s: &mut String) {
        let res = self.res;
        if self.latency {
            let _ = writeln!(
                s,
                "{:<16} {:>10} {:>12} {:>10} {:>10} {:>10} {:>9}",
                "task", "ops", "bytes", "p50_us", "p99_us", "max_us", "hit_ratio"
            );
        } else {
            let _ = writeln!(s, "{:<16} {:>10} {:>12} {:>9}", "task", "ops", "bytes", "hit_ratio");
        }
        for t in &res.tasks {
            let hit = if t.read_ops == 0 { 1.0 } else { 1.0 - t.read_misses as f64 / t.read_ops as f64 };
            if self.latency {
                let (p50, p99, max) = (t.latency.quantile(0.5), t.latency.quantile(0.99), t.latency.max);
                let _ = writeln!(
                    s,
                    "{:<16} {:>10} {:>12} {:>10} {:>10} {:>10} {:>9.4}",
                    t.name,
                    t.ops,
                    t.bytes,
                    us(p50),
                    us(p99),
                    us(max),
                    hit
                );
            } else {
                let _ = writeln!(s, "{:<16} {:>10} {:>12} {:>9.4}", t.name, t.ops, t.bytes, hit);
            }
        }
    }
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let res = self.res;
        let mut s = String::new();
        if self.latency {
            let _ =
                writeln!(s, "scenario {} (seed {}), simulated {:.6} s", res.scenario, res.seed, res.end.0 as f64 / 1e9);
        } else {
            let _ = writeln!(s, "scenario {} (seed {})", res.scenario, res.seed);
        }
        self.tasks(&mut s);
        if self.latency {
            let _ = writeln!(s, "{:<16} {:>10} {:>14} {:>12}", "device", "requests", "pages_read", "busy_ms");
        } else {
            let _ = writeln!(s, "{:<16} {:>10} {:>14}", "device", "requests", "pages_read");
        }
        for d in &res.devices {
            if self.latency {
                let busy = d.busy_ns as f64 / 1e6;
                let _ = writeln!(s, "{:<16} {:>10} {:>14} {:>12.3}", d.name, d.requests, d.sectors_read / 8, busy);
            } else {
                let _ = writeln!(s, "{:<16} {:>10} {:>14}", d.name, d.requests, d.sectors_read / 8);
            }
        }
        let _ = writeln!(s, "{:<16} {:>10} {:>10} {:>14}", "file", "pages", "cached", "ra_never_used");
        for fl in &res.files {
            let _ = writeln!(s, "{:<16} {:>10} {:>10} {:>14}", fl.name, fl.size_pages, fl.nr_cache, fl.ra_unused);
        }
        let _ = writeln!(
            s,
            "pgpgin {} KiB, pages added {}, pages deleted {}, nr_inactive_file {}, nr_active_file {}, pgactivate {}, \
             nr_dirty {}, nr_dirtied {}",
            res.vm.pgpgin,
            res.vm.nr_added,
            res.vm.nr_deleted,
            res.nr_inactive_file,
            res.nr_active_file,
            res.vm.pgactivate,
            res.vm.nr_dirty,
            res.vm.nr_dirtied
        );
        f.write_str(&s)
    }
}
