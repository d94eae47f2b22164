//! `pcsim run`: simulate a scenario, print the summary table, write the event log / JSON / output directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::failure::{fail, Failure};
use crate::sim::{self, SimOptions};

fn open_out(p: &Path) -> Result<Box<dyn Write>, Failure> {
    if p.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdout().lock()));
    }
    let f = std::fs::File::create(p).map_err(|e| fail(format!("creating {}: {e}", p.display())))?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}

pub(crate) fn run(
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
        res.write_dir(dir).map_err(fail)?;
    }
    if let Some(p) = &events {
        res.write_events(open_out(p)?)
            .and_then(|mut w| w.flush())
            .map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
    }
    if let Some(p) = &json_out {
        let mut w = open_out(p)?;
        serde_json::to_writer_pretty(&mut w, &res.summary().to_json())
            .map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
        writeln!(w).map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
    }
    // The summary goes to stdout unless stdout carries the events or JSON.
    let to_stdout = events.as_deref() == Some(Path::new("-")) || json_out.as_deref() == Some(Path::new("-"));
    if to_stdout {
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
