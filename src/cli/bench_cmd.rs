//! `pcsim bench replay`: the replay's scale figures (docs/PERFORMANCE.md "Replay"), one run per invocation so the
//! process's peak RSS is the run's: import alone (records/s), or the whole replay through the model (both passes).
//! The trace is synthetic (`replay::synthetic`), generated on the fly (or written to `--file` first and read from
//! there). Wall-clock timing is the benchmark's output, never the model's input.

use std::path::PathBuf;
use std::time::Duration;

use super::failure::{fail, Failure};
use super::replay_cmd::block_extents;
use super::trace_args::ThroughArg;
use crate::replay::blktrace::BlktraceImporter;
use crate::replay::demux::Demux;
use crate::replay::plan::Plan;
use crate::replay::scenario_out::{scenario_text, Setup};
use crate::replay::synthetic::Synthetic;
use crate::replay::timing::Timing;
use crate::replay::{BlockOptions, Importer, Through};
use crate::scenario::Scenario;
use crate::sim::SimOptions;

/// The benchmark's settings.
#[derive(Debug, Clone)]
pub(crate) struct BenchReplay {
    pub records: u64,
    pub tasks: u32,
    pub device_gib: u64,
    pub through: ThroughArg,
    pub import_only: bool,
    pub file: Option<PathBuf>,
    pub memory_gib: u64,
    pub flush_every: u64,
    pub write_pct: u64,
}

/// Peak resident set of this process, KiB (getrusage).
pub(crate) fn peak_rss_kib() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as u64
}

#[allow(clippy::disallowed_methods)] // the benchmark's own stopwatch
pub(crate) fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let v = f();
    (v, start.elapsed())
}

fn importer(b: &BenchReplay, p: Synthetic, through: Through) -> Result<Box<dyn Importer + Send>, Failure> {
    let opts = BlockOptions { through, ..Default::default() };
    Ok(match &b.file {
        Some(path) => {
            let f = std::fs::File::open(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
            Box::new(BlktraceImporter::new(vec![(path.display().to_string(), f)], opts))
        }
        None => Box::new(BlktraceImporter::new(vec![("synthetic".into(), p.reader())], opts)),
    })
}

/// Runs the benchmark and prints its figures.
pub(crate) fn bench_replay(b: &BenchReplay) -> Result<(), Failure> {
    let p = Synthetic {
        records: b.records,
        tasks: b.tasks,
        device_bytes: b.device_gib << 30,
        seed: 1,
        flush_every: b.flush_every,
        write_pct: b.write_pct,
    };
    let through = match b.through {
        ThroughArg::Cache => Through::Cache,
        ThroughArg::Device => Through::Device,
    };
    if let Some(path) = &b.file {
        let (r, t) = timed(|| -> std::io::Result<u64> {
            let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
            std::io::copy(&mut p.reader(), &mut f)
        });
        let n = r.map_err(|e| fail(format!("writing {}: {e}", path.display())))?;
        println!("wrote {} ({n} bytes) in {:.2} s", path.display(), t.as_secs_f64());
    }
    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64() / 1e6;
    if b.import_only {
        let mut imp = importer(b, p, through)?;
        let (calls, t) = timed(|| imp.by_ref().filter(|r| r.is_ok()).count());
        let st = imp.stats();
        println!(
            "import: {} records ({} bytes, {calls} calls) in {:.2} s: {:.1} M records/s; peak RSS {} KiB",
            st.records,
            p.bytes(),
            t.as_secs_f64(),
            rate(st.records, t),
            peak_rss_kib()
        );
        return Ok(());
    }
    let (plan, t1) = timed(|| Plan::read(importer(b, p, through)?, &[], |_| {}).map_err(|e| fail(e.to_string())));
    let plan = plan?;
    // The machine: memory as asked, one device with the scenario defaults (sized by the replay to the trace).
    let machine_text = format!(
        "Scenario(name: \"machine\", machine: (memory: \"{}g\"), devices: [(name: \"disk0\")], files: [], \
         tasks: [(name: \"t\", ops: [Sync])])",
        b.memory_gib
    );
    let machine = Scenario::parse(&machine_text, "bench machine").map_err(|e| fail(e.to_string()))?;
    let setup = Setup { name: "bench", seed: 1, machine: Some(&machine), block: true, timing: Timing::Recorded };
    let text = scenario_text(&plan, &setup, None, &[]).map_err(fail)?;
    let sc = Scenario::parse(&text, "bench").map_err(|e| fail(e.to_string()))?;
    let opts = SimOptions { events: false, extents: block_extents(&sc), ..Default::default() };
    let demux = Demux::new(importer(b, p, through)?, &plan, Timing::Recorded, std::env::temp_dir());
    let (run, t2) = timed(|| crate::sim::simulate_replay(&sc, &opts, demux));
    let run = run.map_err(|e| fail(e.to_string()))?;
    let calls: u64 = run.calls.iter().sum();
    let records = run.stats.records;
    let total = t1 + t2;
    println!(
        "replay through the {}: {} records ({calls} calls, {} tasks) in {:.2} s (plan {:.2} s + run {:.2} s): {:.2} M \
         records/s, {:.2} M calls/s; {:.1} s simulated; {} records spilled; peak RSS {} KiB",
        if through == Through::Cache { "cache" } else { "device" },
        records,
        run.calls.len(),
        total.as_secs_f64(),
        t1.as_secs_f64(),
        t2.as_secs_f64(),
        rate(records, total),
        rate(calls, total),
        run.result.end.0 as f64 / 1e9,
        run.spilled,
        peak_rss_kib()
    );
    Ok(())
}
