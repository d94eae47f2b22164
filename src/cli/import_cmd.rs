//! `pcsim import FORMAT FILE... -o SCENARIO.ron`: a trace as an editable scenario (for small traces: every call is
//! held in memory; `pcsim run --trace` streams traces of any size). The probe's `--trace` runs the same scenario.

use std::path::Path;

use super::failure::{fail, Failure};
use super::trace_args::{Prepared, TraceOpts};
use crate::replay::source::{Format, TraceInput, TraceSpec};
use crate::scenario::Scenario;

/// Writes the replay of `prep` as a scenario at `out` and loads it back.
fn write_scenario(prep: &Prepared, out: &Path, command: &str) -> Result<(Scenario, usize), Failure> {
    prep.check_not_empty()?;
    let ops = prep.all_ops()?;
    let mut comments = prep.comments();
    comments.push(format!("Imported with: {command}"));
    let text = prep.scenario_text(Some(&ops), &comments)?;
    crate::files::write_atomic(out, text.as_bytes()).map_err(fail)?;
    let origin = out.display().to_string();
    let sc = Scenario::parse(&text, &origin).map_err(|e| {
        fail(format!(
            "{e}\n  note: {origin} was written, but the trace's calls break a scenario rule there; `pcsim run --trace` \
             replays the trace without the scenario's checks"
        ))
    })?;
    Ok((sc, ops.iter().map(Vec::len).sum()))
}

/// Imports the trace in `files` into the scenario `out`, checking that it loads.
pub(crate) fn import(
    format: &str,
    files: &[String],
    out: &Path,
    opts: &TraceOpts,
    seed: Option<u64>,
    quiet: bool,
) -> Result<(), Failure> {
    let format = Format::parse(format).map_err(fail)?;
    if files.iter().any(|f| Path::new(f) == out) {
        return Err(fail(format!("-o {} is one of the trace's files: give another path", out.display())));
    }
    let inputs: Vec<&Path> = files.iter().map(Path::new).collect();
    crate::files::check_output(out, &inputs).map_err(fail)?;
    if format.is_block() {
        crate::files::check_output(&out.with_extension("extents.txt"), &inputs).map_err(fail)?;
    }
    let input = TraceInput::with_files(format, files, &std::env::temp_dir()).map_err(|e| fail(e.to_string()))?;
    let prep = opts.prepare_input(input, seed, quiet)?;
    let (sc, n) = write_scenario(&prep, out, &format!("pcsim import {} {}", format.name(), files.join(" ")))?;
    if format.is_block() {
        // `run --trace` lays each device file out from sector 0, so the replay's sectors are the trace's; a
        // scenario cannot say where a file lies, its run takes this map (`pcsim run SCENARIO --extents ...`).
        let ext = out.with_extension("extents.txt");
        let mut text = String::from("# file logical_bytes physical_bytes length_bytes flags (from sector 0)\n");
        for f in &sc.files {
            text.push_str(&format!("{} 0 0 {} 0x0\n", f.name, f.size.div_ceil(4096).max(1) * 4096));
        }
        crate::files::write_atomic(&ext, text.as_bytes()).map_err(fail)?;
        super::failure::outln!(
            "{}: the device files from sector 0: run with `pcsim run {} --extents {0}`",
            ext.display(),
            out.display()
        )?;
    }
    super::failure::outln!(
        "{}: {} files, {} tasks, {} ops from {} records of {} ({} skipped)",
        out.display(),
        prep.plan.files.len(),
        prep.plan.tasks.len(),
        n,
        prep.plan.stats.records,
        prep.input.spec,
        prep.plan.stats.skipped_total()
    )?;
    Ok(())
}

/// The scenario of a trace for the probe (`probe --trace`, `validate --trace`), written to `out`.
pub(crate) fn trace_scenario(trace: &str, opts: &TraceOpts, out: &Path) -> Result<Scenario, Failure> {
    let spec = TraceSpec::parse(trace).map_err(fail)?;
    let prep = opts.prepare(&spec, None, true)?;
    Ok(write_scenario(&prep, out, &format!("--trace {spec}"))?.0)
}
