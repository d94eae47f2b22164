//! `pcsim run SCENARIO`: simulate a scenario, print the summary table, write the event log / JSON / output
//! directory / blktrace exports (`pcsim run --trace` is `replay_cmd`).

use crate::cli::failure::out;
use std::path::{Path, PathBuf};

use super::export_out::write_exports;
use super::failure::{fail, Failure};
use super::outputs::{parent_dir, write_to, Outputs};
use crate::sim::{self, SimOptions};

pub(crate) fn run(scenario: &Path, seed: Option<u64>, outs: &Outputs, extents: Option<PathBuf>) -> Result<(), Failure> {
    let sc = crate::scenario::Scenario::load_with_seed(scenario, seed).map_err(|e| fail(e.to_string()))?;
    if let Some(e) = &sc.model_refusal {
        return Err(fail(e.to_string()));
    }
    // Outputs are checked before the run: never over an input, never into a non-empty output directory.
    let mut inputs: Vec<&Path> = vec![scenario];
    inputs.extend(extents.as_deref());
    outs.check(&inputs)?;
    let mut opts = SimOptions { events: outs.events_needed(), spill_dir: outs.spill_dir(), ..Default::default() };
    if let Some(p) = &extents {
        let text = crate::files::read_text(p, "extent map", crate::files::MAX_TEXT_INPUT).map_err(fail)?;
        opts.extents = sim::read_extents(&text).map_err(|e| fail(format!("{}: {e}", p.display())))?;
    }
    let res = sim::simulate(&sc, &opts).map_err(|e| {
        let origin = match (&e, &extents) {
            (sim::SimError::BadExtents(_), Some(p)) => p.as_path(),
            _ => scenario,
        };
        fail(format!("{}: {e}", origin.display()))
    })?;
    if let Some(dir) = &outs.out {
        res.write_dir(dir).map_err(fail)?;
    }
    if let Some(p) = &outs.events {
        write_to(p, |w| res.write_events(w).map(|_| ()))?;
    }
    write_exports(&res, &sc, &sc.name, outs.blktrace.as_deref(), outs.blkparse.as_deref())?;
    if let Some(p) = &outs.json {
        write_to(p, |w| {
            serde_json::to_writer_pretty(&mut *w, &res.summary().to_json()).map_err(std::io::Error::other)?;
            writeln!(w)
        })?;
    }
    // The summary goes to stdout unless stdout carries the events, JSON or blkparse text.
    if outs.stdout_taken() {
        eprint!("{}", res.summary());
    } else {
        out!("{}", res.summary())?;
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
    let text = crate::files::read_text(extents, "extent map", crate::files::MAX_TEXT_INPUT).map_err(fail)?;
    let opts = SimOptions {
        events: true,
        extents: sim::read_extents(&text).map_err(|e| fail(format!("{}: {e}", extents.display())))?,
        spill_dir: Some(parent_dir(dir)),
        ..Default::default()
    };
    let res = sim::simulate(sc, &opts).map_err(|e| fail(format!("{}: {e}", scenario.display())))?;
    res.write_dir(dir).map_err(fail)
}
