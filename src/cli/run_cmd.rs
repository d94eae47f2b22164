//! `pcsim run`: simulate a scenario, print the summary table, write the event log / JSON / output directory.

use crate::cli::failure::out;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::failure::{fail, Failure};
use crate::sim::{self, SimOptions};

pub(crate) fn run(
    scenario: &Path,
    seed: Option<u64>,
    events: Option<PathBuf>,
    json_out: Option<PathBuf>,
    out: Option<PathBuf>,
    extents: Option<PathBuf>,
) -> Result<(), Failure> {
    let sc = crate::scenario::Scenario::load_with_seed(scenario, seed).map_err(|e| fail(e.to_string()))?;
    if let Some(e) = &sc.model_refusal {
        return Err(fail(e.to_string()));
    }
    // Outputs are checked before the run: never over an input, into an existing directory, or into a non-empty
    // output directory.
    let mut inputs: Vec<&Path> = vec![scenario];
    inputs.extend(extents.as_deref());
    for p in [&events, &json_out].into_iter().flatten().filter(|p| p.as_os_str() != "-") {
        crate::files::check_output(p, &inputs).map_err(fail)?;
    }
    if events.is_some() && events == json_out && events.as_deref() != Some(Path::new("-")) {
        return Err(fail("--events and --json name the same file".into()));
    }
    if let Some(dir) = &out {
        check_out_dir(dir)?;
    }
    // The event log and the series stream to scratch files beside the output as the run goes (bounded memory).
    let spill_dir = match (&out, &events) {
        (Some(dir), _) => Some(parent_dir(dir)),
        (None, Some(p)) if p.as_os_str() != "-" => Some(parent_dir(p)),
        (None, Some(_)) => Some(std::env::temp_dir()),
        (None, None) => None,
    };
    let mut opts = SimOptions { events: events.is_some() || out.is_some(), spill_dir, ..Default::default() };
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
    if let Some(dir) = &out {
        res.write_dir(dir).map_err(fail)?;
    }
    if let Some(p) = &events {
        write_to(p, |w| res.write_events(w).map(|_| ()))?;
    }
    if let Some(p) = &json_out {
        write_to(p, |w| {
            serde_json::to_writer_pretty(&mut *w, &res.summary().to_json()).map_err(std::io::Error::other)?;
            writeln!(w)
        })?;
    }
    // The summary goes to stdout unless stdout carries the events or JSON.
    let to_stdout = events.as_deref() == Some(Path::new("-")) || json_out.as_deref() == Some(Path::new("-"));
    if to_stdout {
        eprint!("{}", res.summary());
    } else {
        out!("{}", res.summary())?;
    }
    Ok(())
}

/// The directory a path is in (`.` for a bare name).
fn parent_dir(p: &Path) -> PathBuf {
    p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
}

/// `--out DIR`: refused when it is a file or a non-empty directory, or its parent does not exist (nothing is created
/// before the run succeeds).
fn check_out_dir(dir: &Path) -> Result<(), Failure> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(fail(format!("{}: the output directory is a file", dir.display())));
        }
        if std::fs::read_dir(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?.next().is_some() {
            return Err(fail(format!(
                "{}: the output directory is not empty: its files would be overwritten; give a new or empty directory",
                dir.display()
            )));
        }
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(fail(format!("{}: its parent directory {} does not exist", dir.display(), parent.display())));
    }
    Ok(())
}

/// Writes an output: `-` is standard output; a file is written under a temporary name and renamed when complete.
fn write_to(p: &Path, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Failure> {
    if p.as_os_str() == "-" {
        let mut o = std::io::stdout().lock();
        return f(&mut o).and_then(|()| o.flush()).map_err(|e| fail(format!("cannot write to standard output: {e}")));
    }
    let mut af = crate::files::AtomicFile::create(p).map_err(fail)?;
    if let Err(e) = f(af.writer()) {
        return Err(fail(af.err(e)));
    }
    af.commit().map_err(fail)
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
