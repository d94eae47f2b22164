//! `pcsim probe` and `pcsim calibrate`: the commands that run on the host kernel (root).

use crate::cli::failure::{out, outln};
use std::path::{Path, PathBuf};

use crate::probe::{self, ProbeOptions};

use super::failure::{fail, load, Failure};
use super::import_cmd::trace_scenario;
use super::trace_args::TraceOpts;

/// What `pcsim probe` runs: a scenario file, or a trace replayed as one.
pub(crate) enum Workload<'a> {
    Scenario(&'a Path),
    Trace(&'a str, &'a TraceOpts),
}

/// Runs the workload on this kernel `runs` times into `out` and prints each run's counts. A trace's scenario is
/// kept as `out/scenario.ron`.
pub(crate) fn probe(
    w: Workload,
    out: PathBuf,
    runs: u32,
    allow_sysctl: bool,
    settle: u32,
    blktrace: bool,
) -> Result<(), Failure> {
    // The output directory is made inside an existing directory, never with its parents (a mistyped path would
    // leave a tree behind).
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        let why = if parent.exists() { "is not a directory" } else { "does not exist" };
        return Err(fail(format!(
            "--out {}: the parent directory {} {why}; create it first or choose another --out",
            out.display(),
            parent.display()
        )));
    }
    let tmp = std::env::temp_dir().join(format!("pcsim-probe-trace-{}.ron", std::process::id()));
    let sc = match w {
        Workload::Scenario(p) => load(p)?,
        Workload::Trace(t, opts) => trace_scenario(t, opts, &tmp).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?,
    };
    let opts = ProbeOptions { out: out.clone(), runs, allow_sysctl, settle_s: settle, blktrace };
    let result = probe::probe(&sc, &opts);
    if matches!(w, Workload::Trace(..)) {
        let kept = result.is_ok() && std::fs::copy(&tmp, out.join("scenario.ron")).is_ok();
        let _ = std::fs::remove_file(&tmp);
        if result.is_ok() && !kept {
            return Err(fail(format!("copying the trace's scenario into {}", out.display())));
        }
    }
    let sums = result?;
    for s in &sums {
        outln!(
            "{}: {} events ({} lost), {} ops ({} failed) in {:.3} s",
            s.dir.display(),
            s.events,
            s.lost_events,
            s.ops,
            s.failed_ops,
            s.duration_ns as f64 / 1e9
        )?;
    }
    if sums.len() > 1 {
        outln!("{}", out.join("stability.txt").display())?;
    }
    Ok(())
}

/// `pcsim probe --recover`: undoes what killed probes left, saying what it restored.
pub(crate) fn recover() -> Result<(), Failure> {
    use std::io::Write;
    // A closed or full stdout does not stop the recovery.
    probe::recover::recover(&mut |line| drop(writeln!(std::io::stdout(), "{line}")))?;
    Ok(())
}

/// Measures the probe's scratch device and writes its device section to `out`.
pub(crate) fn calibrate(out: &Path, name: &str, size_mib: u64, file_mib: u64) -> Result<(), Failure> {
    let p = probe::calibrate::calibrate(size_mib, file_mib)?;
    let (release, _) = probe::host::uname();
    let text = p.to_ron(name, &format!("pcsim calibrate on kernel {release}: the probe's scratch loop device"));
    crate::files::write_atomic(out, text.as_bytes()).map_err(|msg| Failure { code: 2, msg })?;
    out!("{text}")?;
    Ok(())
}
