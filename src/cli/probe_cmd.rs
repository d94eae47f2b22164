//! `pcsim probe` and `pcsim calibrate`: the commands that run on the host kernel (root).

use std::path::{Path, PathBuf};

use crate::probe::{self, ProbeOptions};

use super::failure::{fail, load, Failure};

/// Runs the scenario on this kernel `runs` times into `out` and prints each run's counts.
pub(crate) fn probe(scenario: &Path, out: PathBuf, runs: u32, allow_sysctl: bool, settle: u32) -> Result<(), Failure> {
    let sc = load(scenario)?;
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
    let opts = ProbeOptions { out: out.clone(), runs, allow_sysctl, settle_s: settle };
    let sums = probe::probe(&sc, &opts)?;
    for s in &sums {
        println!(
            "{}: {} events ({} lost), {} ops ({} failed) in {:.3} s",
            s.dir.display(),
            s.events,
            s.lost_events,
            s.ops,
            s.failed_ops,
            s.duration_ns as f64 / 1e9
        );
    }
    if sums.len() > 1 {
        println!("{}", out.join("stability.txt").display());
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
    std::fs::write(out, &text).map_err(|e| Failure { code: 2, msg: format!("{}: {e}", out.display()) })?;
    print!("{text}");
    Ok(())
}
