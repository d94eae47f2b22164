//! `pcsim bench` (`pcsim bench run`): the cases of `bench::cases` (docs/PERFORMANCE.md "Scale (issue 16)"), each
//! measured in its own process so its peak RSS is its own: the command re-executes itself (`current_exe`) as
//! `pcsim __bench-case NAME --scale S` once per case and repeat; the child measures and prints one JSON line
//! ([`Measurement`]); the parent prints the table (the median run of each case by ops/s) and `--json`.
//!
//! Wall-clock timing is the benchmark's output, never the model's input.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::bench_cmd::{peak_rss_kib, timed};
use super::failure::{fail, outln, Failure};
use super::outputs::write_to;
use crate::bench::cases::{self, Case, Kind, Scale, CASES};
use crate::scenario::Scenario;
use crate::sim::{simulate, SimOptions};

/// One measured run of one case (the child's output, a line of JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Measurement {
    pub case: String,
    pub scale: String,
    /// System calls the tasks made (Run cases), or structures built (memory cases).
    pub ops: u64,
    /// Parse, set-up and run (or building the structures), seconds.
    pub wall_s: f64,
    pub ops_per_s: f64,
    /// Virtual time at the end of the run (Run cases).
    pub simulated_s: Option<f64>,
    pub sim_s_per_wall_s: Option<f64>,
    /// The process's peak resident set (getrusage), KiB.
    pub peak_rss_kib: u64,
    /// Pages cached at the end of the run, over all files (Run cases).
    pub cached_pages: Option<u64>,
    /// Peak of the heap bytes allocated during the run above its start (the counting allocator).
    pub heap_peak_bytes: u64,
    /// Peak RSS over cached pages (the whole process's, binary included).
    pub rss_bytes_per_page: Option<f64>,
    /// Heap peak over cached pages.
    pub heap_bytes_per_page: Option<f64>,
    /// Heap bytes per cached folio: the memory cases, and Run cases whose folios are all order 0.
    pub bytes_per_folio: Option<f64>,
    /// Heap bytes per shadow entry (mem-shadow).
    pub bytes_per_shadow: Option<f64>,
}

fn per(bytes: f64, n: u64) -> Option<f64> {
    (n > 0).then(|| bytes / n as f64)
}

/// The child: measures one case and prints its [`Measurement`] as one JSON line. `vs_kernel` replaces the case by
/// `--vs-kernel`'s model side (file size, ops).
pub(crate) fn bench_case(name: &str, scale: &str, vs_kernel: Option<(u64, u64)>) -> Result<(), Failure> {
    let scale = Scale::parse(scale).ok_or_else(|| fail(format!("--scale {scale}: give tiny or full")))?;
    crate::bench::count_allocations(true);
    let m = match vs_kernel {
        Some((size, ops)) => run_text(name, scale, &cases::vs_kernel_text(size, ops), true)?,
        None => {
            let case = cases::case(name).ok_or_else(|| unknown_case(name))?;
            measure(case, scale)?
        }
    };
    let line = serde_json::to_string(&m).map_err(|e| fail(e.to_string()))?;
    outln!("{line}")
}

fn measure(case: &Case, scale: Scale) -> Result<Measurement, Failure> {
    let n = case.structures(scale);
    let (bytes, folio, shadow, wall) = match case.kind {
        Kind::Run { scenario, order0 } => return run_text(case.name, scale, &scenario(scale), order0),
        Kind::Folios { order } => {
            let (s, t) = timed(|| crate::bench::structure_bytes(n, order));
            ((s.slab + s.map) as f64, per((s.slab + s.map) as f64, n), None, t)
        }
        Kind::Shadows => {
            let (b, t) = timed(|| crate::bench::shadow_bytes(n));
            (b as f64, None, per(b as f64, n), t)
        }
    };
    let pages = match case.kind {
        Kind::Folios { order } => n << order,
        _ => 0,
    };
    Ok(Measurement {
        case: case.name.into(),
        scale: scale.name().into(),
        ops: n,
        wall_s: wall.as_secs_f64(),
        ops_per_s: n as f64 / wall.as_secs_f64(),
        simulated_s: None,
        sim_s_per_wall_s: None,
        peak_rss_kib: peak_rss_kib(),
        cached_pages: (pages > 0).then_some(pages),
        heap_peak_bytes: bytes as u64,
        rss_bytes_per_page: None,
        heap_bytes_per_page: per(bytes, pages),
        bytes_per_folio: folio,
        bytes_per_shadow: shadow,
    })
}

/// Parses and simulates a scenario text with events off, timing both.
fn run_text(name: &str, scale: Scale, text: &str, order0: bool) -> Result<Measurement, Failure> {
    let ((result, heap), wall) = timed(|| {
        crate::bench::peak_during(|| -> Result<_, Failure> {
            let sc = Scenario::parse(text, name).map_err(|e| fail(e.to_string()))?;
            simulate(&sc, &SimOptions { events: false, ..Default::default() }).map_err(|e| fail(e.to_string()))
        })
    });
    let r = result?;
    let ops: u64 = r.tasks.iter().map(|t| t.ops).sum();
    let pages: u64 = r.files.iter().map(|f| f.nr_cache).sum();
    let wall_s = wall.as_secs_f64();
    let sim_s = r.end.0 as f64 / 1e9;
    let rss = peak_rss_kib();
    Ok(Measurement {
        case: name.into(),
        scale: scale.name().into(),
        ops,
        wall_s,
        ops_per_s: ops as f64 / wall_s,
        simulated_s: Some(sim_s),
        sim_s_per_wall_s: Some(sim_s / wall_s),
        peak_rss_kib: rss,
        cached_pages: Some(pages),
        heap_peak_bytes: heap as u64,
        rss_bytes_per_page: per(rss as f64 * 1024.0, pages),
        heap_bytes_per_page: per(heap as f64, pages),
        bytes_per_folio: if order0 { per(heap as f64, pages) } else { None },
        bytes_per_shadow: None,
    })
}

fn unknown_case(name: &str) -> Failure {
    let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    fail(format!("--case {name}: no such case; the cases are {}", names.join(", ")))
}

/// Runs one child (`pcsim __bench-case ...`) and reads its measurement. A termination signal (when the caller
/// installed the probe's handlers) kills the child and fails with exit 130.
pub(crate) fn child(args: &[String]) -> Result<Measurement, Failure> {
    let exe = std::env::current_exe().map_err(|e| fail(format!("finding the pcsim binary to re-run: {e}")))?;
    let mut c = Command::new(&exe)
        .arg("__bench-case")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("running {}: {e}", exe.display())))?;
    // The child prints one line and its errors: both fit the pipes' buffers, so waiting before reading is safe.
    let status = loop {
        if let Some(st) = c.try_wait().map_err(|e| fail(format!("waiting for a bench case: {e}")))? {
            break st;
        }
        if crate::probe::guard::interrupted() {
            let _ = c.kill();
            let _ = c.wait();
            crate::probe::guard::check()?;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    c.stdout.take().map(|mut o| o.read_to_string(&mut stdout));
    c.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
    if !status.success() {
        let code = status.code().unwrap_or(130);
        let code = if code == 2 || code == 130 { code } else { 1 };
        return Err(Failure {
            code,
            msg: format!("bench case {} failed ({status}): {}", args.join(" "), stderr.trim()),
        });
    }
    serde_json::from_str(stdout.trim())
        .map_err(|e| fail(format!("bench case {}: unreadable output {stdout:?}: {e}", args.join(" "))))
}

/// `pcsim bench run`'s settings.
pub(crate) struct RunArgs<'a> {
    pub cases: &'a [String],
    pub scale: Scale,
    pub repeat: u32,
    pub json: Option<&'a Path>,
}

/// Runs the chosen cases (all when none is named), `repeat` times each, and prints the table.
pub(crate) fn bench_run(a: &RunArgs) -> Result<(), Failure> {
    let chosen: Vec<&Case> = if a.cases.is_empty() {
        CASES.iter().collect()
    } else {
        a.cases.iter().map(|n| cases::case(n).ok_or_else(|| unknown_case(n))).collect::<Result<_, _>>()?
    };
    outln!(
        "pcsim bench: {} cases at scale {}, {} run(s) each, one process per run",
        chosen.len(),
        a.scale.name(),
        a.repeat
    )?;
    outln!("{}", header())?;
    let mut all = Vec::new();
    for case in chosen {
        let mut runs = Vec::new();
        for _ in 0..a.repeat {
            runs.push(child(&[case.name.to_string(), "--scale".into(), a.scale.name().into()])?);
        }
        let mut by_rate: Vec<&Measurement> = runs.iter().collect();
        by_rate.sort_by(|x, y| x.ops_per_s.total_cmp(&y.ops_per_s));
        let range = (by_rate[0].ops_per_s, by_rate[by_rate.len() - 1].ops_per_s);
        outln!("{}", row(by_rate[by_rate.len() / 2], (runs.len() > 1).then_some(range)))?;
        all.push(serde_json::json!({ "case": case.name, "what": case.what, "runs": runs }));
    }
    outln!(
        "(ops/s: the median run, [min, max] of the runs when repeated; wall: parse + set-up + run; B/page: per page \
         cached at the end; B/folio: heap bytes per folio, where every folio is order 0 or for the mem- cases)"
    )?;
    if let Some(p) = a.json {
        let doc = serde_json::json!({ "scale": a.scale.name(), "repeat": a.repeat, "cases": all });
        write_to(p, |w| {
            serde_json::to_writer_pretty(&mut *w, &doc)?;
            writeln!(w)
        })?;
    }
    Ok(())
}

/// The table's columns.
pub(crate) const COLUMNS: [&str; 10] = [
    "case",
    "ops",
    "wall s",
    "ops/s",
    "sim s/wall s",
    "peak RSS MiB",
    "RSS B/page",
    "heap B/page",
    "B/folio",
    "B/shadow",
];

fn header() -> String {
    format!(
        "{:<18} {:>11} {:>8} {:>24} {:>12} {:>12} {:>10} {:>11} {:>8} {:>8}",
        COLUMNS[0],
        COLUMNS[1],
        COLUMNS[2],
        COLUMNS[3],
        COLUMNS[4],
        COLUMNS[5],
        COLUMNS[6],
        COLUMNS[7],
        COLUMNS[8],
        COLUMNS[9]
    )
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.prec$}"))
}

/// `12.3M`, `456.7k`.
pub(crate) fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else {
        format!("{:.1}k", v / 1e3)
    }
}

fn row(m: &Measurement, range: Option<(f64, f64)>) -> String {
    let ops_s = match range {
        Some((lo, hi)) => format!("{} [{}, {}]", rate(m.ops_per_s), rate(lo), rate(hi)),
        None => rate(m.ops_per_s),
    };
    format!(
        "{:<18} {:>11} {:>8.2} {:>24} {:>12} {:>12.1} {:>10} {:>11} {:>8} {:>8}",
        m.case,
        m.ops,
        m.wall_s,
        ops_s,
        opt(m.sim_s_per_wall_s, 1),
        m.peak_rss_kib as f64 / 1024.0,
        opt(m.rss_bytes_per_page, 1),
        opt(m.heap_bytes_per_page, 1),
        opt(m.bytes_per_folio, 1),
        opt(m.bytes_per_shadow, 1)
    )
}
