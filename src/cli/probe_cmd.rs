//! `pcsim probe` and `pcsim calibrate`: the commands that run on the host kernel (root).

use std::path::{Path, PathBuf};

use crate::probe::{self, ProbeOptions};

use super::failure::{load, Failure};

/// Runs the scenario on this kernel `runs` times into `out` and prints each run's counts.
pub(crate) fn probe(scenario: &Path, out: PathBuf, runs: u32, allow_sysctl: bool, settle: u32) -> Result<(), Failure> {
    let sc = load(scenario)?;
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

/// Measures the probe's scratch device and writes its device section to `out`.
pub(crate) fn calibrate(out: &Path, name: &str, size_mib: u64, file_mib: u64) -> Result<(), Failure> {
    let p = probe::calibrate::calibrate(size_mib, file_mib)?;
    let (release, _) = probe::host::uname();
    let text = p.to_ron(name, &format!("pcsim calibrate on kernel {release}: the probe's scratch loop device"));
    std::fs::write(out, &text).map_err(|e| Failure { code: 2, msg: format!("{}: {e}", out.display()) })?;
    print!("{text}");
    Ok(())
}
