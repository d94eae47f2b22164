//! `pcsim run --trace FORMAT:PATH`: a trace streamed through the model (docs/REPLAY.md): one pass to learn the
//! files and threads, the replay's scenario built from them (and `--machine`), then a second pass feeding each
//! task its calls while the model runs, in memory bounded whatever the trace's length.

use super::export_out::write_exports;
use super::failure::{fail, Failure};
use super::outputs::{write_to, Outputs};
use super::progress::Progress;
use super::replay_report;
use super::trace_args::TraceOpts;
use crate::block::Extent;
use crate::replay::source::TraceSpec;
use crate::replay::timing::Timing;
use crate::scenario::Scenario;
use crate::sim::{self, SimOptions};

/// Block traces: every device file from sector 0, so the replay's sectors are the trace's.
pub(crate) fn block_extents(sc: &Scenario) -> std::collections::BTreeMap<String, Vec<Extent>> {
    sc.files
        .iter()
        .map(|f| (f.name.clone(), vec![Extent { logical: 0, sector: 0, pages: f.size.div_ceil(4096).max(1) }]))
        .collect()
}

/// Runs the replay of `spec` and writes the outputs.
pub(crate) fn run_trace(
    spec: &str,
    opts: &TraceOpts,
    seed: Option<u64>,
    outs: &Outputs,
    quiet: bool,
) -> Result<(), Failure> {
    let spec = TraceSpec::parse(spec).map_err(fail)?;
    let prep = opts.prepare(&spec, seed, quiet)?;
    prep.check_not_empty()?;
    let header = prep.scenario_text(None, &prep.comments())?;
    let sc = Scenario::parse(&header, &format!("{spec} (the replay's scenario)")).map_err(|e| {
        fail(format!("{e}\n  note: the replay's scenario, as `pcsim import` would write it, is refused: fix --machine"))
    })?;
    outs.check(&[])?;
    let mut sim_opts = SimOptions { events: outs.events_needed(), spill_dir: outs.spill_dir(), ..Default::default() };
    if spec.format.is_block() {
        sim_opts.extents = block_extents(&sc);
    }
    // The second pass counts the calls it hands out (the first counted the trace's records).
    let progress = Progress::items(quiet, "replaying", prep.plan.calls(), "calls");
    let demux = prep.demux(Some(progress.clone()))?;
    let run = sim::simulate_replay(&sc, &sim_opts, demux).map_err(|e| fail(format!("{spec}: {e}")))?;
    progress.finish();
    let res = &run.result;
    if let Some(dir) = &outs.out {
        res.write_dir(dir).map_err(fail)?;
    }
    if let Some(p) = &outs.events {
        write_to(p, |w| res.write_events(w).map(|_| ()))?;
    }
    write_exports(res, &sc, &sc.name, outs.blktrace.as_deref(), outs.blkparse.as_deref())?;
    let timing = match prep.timing {
        Timing::Recorded => "as recorded",
        Timing::AsFastAsPossible => "dropped (--as-fast-as-possible)",
    };
    let trace = spec.to_string();
    if let Some(p) = &outs.json {
        let mut json = res.summary().to_json();
        json["replay"] = replay_report::json(&trace, timing, &run, &prep.plan.stats);
        write_to(p, |w| {
            serde_json::to_writer_pretty(&mut *w, &json).map_err(std::io::Error::other)?;
            writeln!(w)
        })?;
    }
    let text = format!("{}{}", res.summary(), replay_report::text(&trace, timing, &run, &prep.plan.stats));
    if outs.stdout_taken() {
        eprint!("{text}");
    } else {
        super::failure::out!("{text}")?;
    }
    Ok(())
}
