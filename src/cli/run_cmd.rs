//! `pcsim run SCENARIO`: simulate a scenario, print the summary table, write the event log / JSON / output
//! directory / blktrace exports (`pcsim run --trace` is `replay_cmd`).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::export_out::write_exports;
use super::failure::{fail, Failure};
use super::outputs::{open_out, Outputs};
use crate::sim::{self, SimOptions};

pub(crate) fn run(scenario: &Path, seed: Option<u64>, outs: &Outputs, extents: Option<PathBuf>) -> Result<(), Failure> {
    let sc = crate::scenario::Scenario::load_with_seed(scenario, seed).map_err(|e| fail(e.to_string()))?;
    let mut opts = SimOptions { events: outs.events_needed(), ..Default::default() };
    if let Some(p) = &extents {
        let text = std::fs::read_to_string(p).map_err(|e| fail(format!("{}: {e}", p.display())))?;
        opts.extents = sim::read_extents(&text).map_err(|e| fail(format!("{}: {e}", p.display())))?;
    }
    let res = sim::simulate(&sc, &opts).map_err(|e| fail(format!("{}: {e}", scenario.display())))?;
    if let Some(dir) = &outs.out {
        res.write_dir(dir).map_err(fail)?;
    }
    if let Some(p) = &outs.events {
        res.write_events(open_out(p)?)
            .and_then(|mut w| w.flush())
            .map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
    }
    write_exports(&res, &sc, &sc.name, outs.blktrace.as_deref(), outs.blkparse.as_deref())?;
    if let Some(p) = &outs.json {
        let mut w = open_out(p)?;
        serde_json::to_writer_pretty(&mut w, &res.summary().to_json())
            .map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
        writeln!(w).map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
    }
    // The summary goes to stdout unless stdout carries the events, JSON or blkparse text.
    if outs.stdout_taken() {
        eprint!("{}", res.summary());
    } else {
        print!("{}", res.summary());
    }
    Ok(())
}

/// Simulates with the extent map at `extents` and writes the run's directory (`write_run_dir`) into `dir`.
pub(crate) fn simulate_into(
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
    res.write_dir(dir).map_err(fail)
}
