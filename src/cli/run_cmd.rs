//! `pcsim run`: simulate a scenario, print the summary table, write the event log / JSON / output directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Failure;
use crate::sim::{self, SimOptions, SimResult};
use crate::trace::log::LogWriter;

fn fail(msg: String) -> Failure {
    Failure { code: 2, msg }
}

fn open_out(p: &Path) -> Result<Box<dyn Write>, Failure> {
    if p.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdout().lock()));
    }
    let f = std::fs::File::create(p).map_err(|e| fail(format!("creating {}: {e}", p.display())))?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}

pub fn write_events(res: &SimResult, w: Box<dyn Write>, what: &Path) -> Result<(), Failure> {
    let mut header = BTreeMap::new();
    header.insert("source".to_string(), "sim".to_string());
    header.insert("scenario".to_string(), res.scenario.clone());
    header.insert("seed".to_string(), res.seed.to_string());
    header.insert("pcsim".to_string(), env!("CARGO_PKG_VERSION").to_string());
    let err = |e: std::io::Error| fail(format!("writing {}: {e}", what.display()));
    let mut lw = LogWriter::new(w, &header).map_err(err)?;
    for e in &res.events {
        lw.write(e).map_err(err)?;
    }
    lw.finish().map_err(err)?.flush().map_err(err)
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

/// The human summary.
pub fn summary(res: &SimResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scenario {} (seed {}), simulated {:.6} s", res.scenario, res.seed, res.end.0 as f64 / 1e9);
    let _ = writeln!(
        s,
        "{:<16} {:>10} {:>12} {:>10} {:>10} {:>10} {:>9}",
        "task", "ops", "bytes", "p50_us", "p99_us", "max_us", "hit_ratio"
    );
    for t in &res.tasks {
        let hit = if t.read_ops == 0 { 1.0 } else { 1.0 - t.read_misses as f64 / t.read_ops as f64 };
        let _ = writeln!(
            s,
            "{:<16} {:>10} {:>12} {:>10} {:>10} {:>10} {:>9.4}",
            t.name,
            t.ops,
            t.bytes,
            us(t.latency.quantile(0.5)),
            us(t.latency.quantile(0.99)),
            us(t.latency.max),
            hit
        );
    }
    let _ = writeln!(s, "{:<16} {:>10} {:>14} {:>12}", "device", "requests", "pages_read", "busy_ms");
    for d in &res.devices {
        let _ = writeln!(
            s,
            "{:<16} {:>10} {:>14} {:>12.3}",
            d.name,
            d.requests,
            d.sectors_read / 8,
            d.busy_ns as f64 / 1e6
        );
    }
    let _ = writeln!(s, "{:<16} {:>10} {:>10} {:>14}", "file", "pages", "cached", "ra_never_used");
    for f in &res.files {
        let _ = writeln!(s, "{:<16} {:>10} {:>10} {:>14}", f.name, f.size_pages, f.nr_cache, f.ra_unused);
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
    s
}

fn json(res: &SimResult) -> serde_json::Value {
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

pub fn run(
    scenario: &Path,
    seed: Option<u64>,
    events: Option<PathBuf>,
    json_out: Option<PathBuf>,
    out: Option<PathBuf>,
    extents: Option<PathBuf>,
) -> Result<(), Failure> {
    let sc = crate::scenario::Scenario::load_with_seed(scenario, seed).map_err(|e| fail(e.to_string()))?;
    let mut opts = SimOptions { events: events.is_some() || out.is_some(), ..Default::default() };
    if let Some(p) = &extents {
        let text = std::fs::read_to_string(p).map_err(|e| fail(format!("{}: {e}", p.display())))?;
        opts.extents = sim::read_extents(&text).map_err(|e| fail(format!("{}: {e}", p.display())))?;
    }
    let res = sim::simulate(&sc, &opts).map_err(|e| fail(format!("{}: {e}", scenario.display())))?;
    if let Some(dir) = &out {
        write_run_dir(&res, dir)?;
    }
    if let Some(p) = &events {
        write_events(&res, open_out(p)?, p)?;
    }
    if let Some(p) = &json_out {
        let mut w = open_out(p)?;
        serde_json::to_writer_pretty(&mut w, &json(&res)).map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
        writeln!(w).map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
    }
    // The summary goes to stdout unless stdout carries the events or JSON.
    let to_stdout = events.as_deref() == Some(Path::new("-")) || json_out.as_deref() == Some(Path::new("-"));
    if to_stdout {
        eprint!("{}", summary(&res));
    } else {
        print!("{}", summary(&res));
    }
    Ok(())
}

/// Simulates with the extent map at `extents` and writes the run's directory (`write_run_dir`) into `dir`.
pub fn simulate_into(
    sc: &crate::scenario::Scenario,
    scenario: &Path,
    extents: &Path,
    dir: &Path,
) -> Result<(), Failure> {
    let text = std::fs::read_to_string(extents).map_err(|e| fail(format!("{}: {e}", extents.display())))?;
    let opts = SimOptions {
        events: true,
        extents: sim::read_extents(&text).map_err(|e| fail(format!("{}: {e}", extents.display())))?,
    };
    let res = sim::simulate(sc, &opts).map_err(|e| fail(format!("{}: {e}", scenario.display())))?;
    write_run_dir(&res, dir)
}

/// A run's directory in the probe's layout: events.log, residency.txt, vmstat.txt, vmstat_series.txt and
/// cachestat.txt (the last two when the run has them).
fn write_run_dir(res: &SimResult, dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("creating {}: {e}", dir.display())))?;
    let p = dir.join("events.log");
    write_events(res, open_out(&p)?, &p)?;
    for (name, text) in [("residency.txt", res.residency_text()), ("vmstat.txt", res.vmstat_text())] {
        std::fs::write(dir.join(name), text).map_err(|e| fail(format!("writing {}: {e}", dir.join(name).display())))?;
    }
    write_series(res, dir)?;
    write_cachestat(res, dir)
}

/// vmstat_series.txt in the probe's format, when the run sampled one.
fn write_series(res: &SimResult, dir: &Path) -> Result<(), Failure> {
    let Some(series) = &res.series else { return Ok(()) };
    let p = dir.join(crate::trace::series::FILE_NAME);
    std::fs::write(&p, crate::trace::series::write_series(series))
        .map_err(|e| fail(format!("writing {}: {e}", p.display())))
}

/// cachestat.txt, when the scenario ran cachestat ops.
fn write_cachestat(res: &SimResult, dir: &Path) -> Result<(), Failure> {
    match res.cachestat_text() {
        Some(text) => std::fs::write(dir.join("cachestat.txt"), text)
            .map_err(|e| fail(format!("writing {}: {e}", dir.join("cachestat.txt").display()))),
        None => Ok(()),
    }
}
