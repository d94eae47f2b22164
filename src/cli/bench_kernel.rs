//! `pcsim bench --vs-kernel`: the host kernel and the model on the same workload, side by side. A file of
//! `--file-size` bytes is written in a new directory under `--dir` (default: the current directory), cached by
//! reading it, and then, `--rounds` times in turn: the host runs `--ops` random 4 KiB `pread(2)`s over it in a tight
//! loop (`probe::pread_bench`, no tracing, no root), at the offsets of the model's scenario (`bench::cases::
//! vs_kernel_text`: the same generator and seed), and the model runs that scenario in a child process (parse,
//! set-up and run timed, as `pcsim bench` does). The directory is removed on every exit path, Ctrl-C included.

use std::path::Path;
use std::time::Duration;

use super::bench_cmd::timed;
use super::bench_run::{child, rate, Measurement};
use super::failure::{fail, outln, Failure};
use super::outputs::write_to;
use crate::bench::cases::vs_kernel_text;
use crate::probe::guard;
use crate::probe::pread_bench::{self, BenchDir};
use crate::scenario::Scenario;
use crate::trace::op::Op;

/// `--vs-kernel`'s settings.
pub(crate) struct VsKernel<'a> {
    pub dir: Option<&'a Path>,
    pub file_size: u64,
    pub ops: u64,
    pub rounds: u32,
    pub json: Option<&'a Path>,
}

const GIB: f64 = (1u64 << 30) as f64;

/// Offsets handed to one timed pread loop.
const BATCH: usize = 1 << 16;

/// What the model needs beside the host's copy of the file: ~64 B per page (slab, index, LRU) and 512 MiB.
fn model_bytes(size: u64) -> u64 {
    size / 4096 * 64 + (512 << 20)
}

/// Refuses what would not fit: the file on the filesystem of `parent`, and the file cached plus the model in
/// MemAvailable (the file must stay cached, or the kernel side measures the disk).
fn check_room(parent: &Path, size: u64) -> Result<(), Failure> {
    if let Some(free) = pread_bench::free_bytes(parent) {
        let need = size + (256 << 20);
        if free < need {
            return Err(fail(format!(
                "{} has {:.1} GiB free; a {:.1} GiB benchmark file needs {:.1} GiB: pass --dir on a filesystem with \
                 more room, or a smaller --file-size",
                parent.display(),
                free as f64 / GIB,
                size as f64 / GIB,
                need as f64 / GIB
            )));
        }
    }
    let avail = pread_bench::mem_available();
    let need = size + model_bytes(size) + (1 << 30);
    if avail < need {
        return Err(fail(format!(
            "MemAvailable is {:.1} GiB; keeping a {:.1} GiB file cached while the model runs needs {:.1} GiB (the \
             file, ~64 B per page for the model, 1.5 GiB to spare): pass a smaller --file-size",
            avail as f64 / GIB,
            size as f64 / GIB,
            need as f64 / GIB
        )));
    }
    Ok(())
}

/// One timed pass of the host kernel: every pread of the scenario's op stream, in batches of offsets generated
/// outside the timed loops. Returns the preads made and the time inside the loops.
fn kernel_round(f: &std::fs::File, sc: &Scenario) -> Result<(u64, Duration), Failure> {
    let mut stream = sc.ops(0);
    let mut offsets = Vec::with_capacity(BATCH);
    let mut buf = vec![0u8; 4096];
    let (mut n, mut total) = (0u64, Duration::ZERO);
    loop {
        offsets.clear();
        for op in stream.by_ref() {
            if let Op::Pread { off, .. } = op {
                offsets.push(off);
                if offsets.len() == BATCH {
                    break;
                }
            }
        }
        if offsets.is_empty() {
            return Ok((n, total));
        }
        guard::check()?;
        let (r, t) = timed(|| pread_bench::preads(f, &offsets, 4096, &mut buf));
        r?;
        total += t;
        n += offsets.len() as u64;
    }
}

/// Runs the comparison and prints one row per round.
pub(crate) fn vs_kernel(a: &VsKernel) -> Result<(), Failure> {
    if a.file_size < 4096 || a.file_size % 4096 != 0 {
        return Err(fail(format!("--file-size {}: give a positive multiple of 4096 bytes (e.g. 1g)", a.file_size)));
    }
    let parent = match a.dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().map_err(|e| fail(format!("the current directory: {e} (pass --dir DIR)")))?,
    };
    if !parent.is_dir() {
        return Err(fail(format!("--dir {}: not a directory; give an existing directory", parent.display())));
    }
    check_room(&parent, a.file_size)?;
    guard::install_signal_handlers();
    let dir = BenchDir::create(&parent)?;
    let path = dir.path().join("data");
    outln!(
        "pcsim bench --vs-kernel: {} ({:.2} GiB), {} random 4 KiB preads, {} rounds",
        path.display(),
        a.file_size as f64 / GIB,
        a.ops,
        a.rounds
    )?;
    let (r, t) = timed(|| pread_bench::create_file(&path, a.file_size));
    r?;
    let mut f = std::fs::File::open(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let (r, t2) = timed(|| pread_bench::read_whole(&mut f));
    r?;
    let pages = a.file_size / 4096;
    let cached = pread_bench::cached_pages(&f);
    outln!(
        "written in {:.1} s, read in {:.1} s; cached: {}",
        t.as_secs_f64(),
        t2.as_secs_f64(),
        cached.map_or("unknown (no cachestat(2))".into(), |c| format!("{c} of {pages} pages"))
    )?;
    if cached.is_some_and(|c| c < pages) {
        return Err(fail(format!(
            "only {} of the file's {pages} pages stayed cached after reading it: the host is short of memory; pass a \
             smaller --file-size",
            cached.unwrap_or(0)
        )));
    }
    let text = vs_kernel_text(a.file_size, a.ops);
    let sc = Scenario::parse(&text, "vs_kernel").map_err(|e| fail(e.to_string()))?;
    outln!(
        "{:>5} {:>14} {:>14} {:>14} {:>16}",
        "round",
        "kernel ops/s",
        "pcsim ops/s",
        "pcsim/kernel",
        "cached after"
    )?;
    let mut rounds = Vec::new();
    for round in 1..=a.rounds {
        let (n, kt) = kernel_round(&f, &sc)?;
        let after = pread_bench::cached_pages(&f);
        let k_rate = n as f64 / kt.as_secs_f64();
        let size = a.file_size.to_string();
        let ops = a.ops.to_string();
        let args = ["vs-kernel", "--scale", "full", "--file-size", &size, "--ops", &ops].map(String::from);
        let m: Measurement = child(&args)?;
        guard::check()?;
        outln!(
            "{round:>5} {:>14} {:>14} {:>13.2}x {:>16}",
            rate(k_rate),
            rate(m.ops_per_s),
            m.ops_per_s / k_rate,
            after.map_or("-".into(), |c| format!("{c}/{pages}"))
        )?;
        rounds.push(serde_json::json!({
            "round": round, "kernel_preads": n, "kernel_s": kt.as_secs_f64(), "kernel_ops_per_s": k_rate,
            "kernel_cached_pages_after": after, "pcsim": m, "ratio": m.ops_per_s / k_rate,
        }));
    }
    outln!("(kernel: the pread loops alone; pcsim: parse, set-up and run of the same {} preads plus open and close, one process per round)", a.ops)?;
    if let Some(p) = a.json {
        let doc = serde_json::json!({ "file_size": a.file_size, "ops": a.ops, "rounds": rounds });
        write_to(p, |w| {
            serde_json::to_writer_pretty(&mut *w, &doc)?;
            writeln!(w)
        })?;
    }
    drop(f);
    drop(dir);
    Ok(())
}
