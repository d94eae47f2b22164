//! `pcsim compare` and `pcsim validate`: the comparison of a simulated run with probe runs, and the thresholds each
//! applies (validate's defaults depend on the scenario's kind: reads, memory pressure, writes).

use crate::cli::failure::{out, outln};
use std::path::{Path, PathBuf};

use crate::compare;
use crate::probe::{self, ProbeOptions};

use super::args::Checks;
use super::failure::{load_for_model, Failure};
use super::import_cmd::trace_scenario;
use super::probe_cmd::Workload;
use super::run_cmd;

/// `compare`'s thresholds: only those given.
pub(crate) fn compare_thresholds(c: &Checks) -> compare::output::Thresholds {
    compare::output::Thresholds {
        readahead_pct: c.min_readahead,
        pages_pct: c.min_pages,
        block_pct: c.min_block,
        residency_jaccard: c.min_residency,
        counters_tolerance: c.counters.map(|p| p / 100.0),
        median: c.median,
        relative_to_kernel: false,
        write_tolerance: c.writes.map(|p| p / 100.0),
        writeback_interval_ns: 5_000_000_000,
    }
}

/// `validate`'s thresholds: the given ones, else the defaults of the scenario's kind.
fn validate_thresholds(sc: &crate::scenario::Scenario, c: &Checks) -> compare::output::Thresholds {
    let pressure = sc.machine.memcg_limit.is_some();
    // A scenario that writes (scenarios/write/) is judged on issue 5's write-side figures.
    let writer = sc.writes();
    compare::output::Thresholds {
        readahead_pct: Some(c.min_readahead.unwrap_or(100.0)),
        pages_pct: c.min_pages.or(if pressure { None } else { Some(100.0) }),
        block_pct: c.min_block,
        residency_jaccard: c.min_residency.or(if pressure { Some(0.95) } else { None }),
        counters_tolerance: c.counters.or(if pressure { Some(10.0) } else { None }).map(|p| p / 100.0),
        median: c.median || pressure || writer,
        relative_to_kernel: pressure || writer,
        write_tolerance: c.writes.or(if writer { Some(10.0) } else { None }).map(|p| p / 100.0),
        writeback_interval_ns: sc.sysctls.dirty_writeback_centisecs * 10_000_000,
    }
}

/// `pcsim validate`'s arguments.
pub(crate) struct ValidateArgs<'a> {
    pub workload: Workload<'a>,
    pub runs: u32,
    pub probe_dir: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub allow_sysctl: bool,
    pub allow_changed_scenario: bool,
    pub checks: &'a Checks,
}

/// `pcsim validate`: probe (or take captured runs), simulate with the probe's extent map, compare.
pub(crate) fn validate(a: ValidateArgs) -> Result<(), Failure> {
    let ValidateArgs { workload, runs, probe_dir, out, allow_sysctl, allow_changed_scenario, checks } = a;
    let bad = |msg: String| Failure { code: 2, msg };
    // --out DIR keeps the runs (a new or empty directory); without it they go to a temporary directory removed at
    // the end.
    let (dir, _scratch) = match out {
        Some(d) => {
            crate::files::prepare_out_dir(&d).map_err(bad)?;
            (d, None)
        }
        None => {
            let t = crate::files::TempDir::new("pcsim-validate").map_err(bad)?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let kept = _scratch.is_none();
    let (sc, scenario) = match workload {
        Workload::Scenario(p) => (load_for_model(p)?, p.to_path_buf()),
        Workload::Trace(t, opts) => {
            // The trace's scenario is kept in the validation's directory.
            let p = dir.join("scenario.ron");
            let sc = trace_scenario(t, opts, &p)?;
            if let Some(e) = &sc.model_refusal {
                return Err(bad(e.to_string()));
            }
            (sc, p)
        }
    };
    let scenario = scenario.as_path();
    let thresholds = validate_thresholds(&sc, checks);
    let (json, plot) = (checks.json.as_deref(), checks.plot.as_deref());
    let probe_dir = match probe_dir {
        Some(p) => {
            check_captures(&sc, scenario, &p, allow_changed_scenario)?;
            p
        }
        None => {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                let bundled = ["kernel", "pressure", "write"]
                    .iter()
                    .map(|k| Path::new("traces").join(k).join(&sc.name))
                    .find(|p| p.is_dir())
                    .map(|p| format!(" (this scenario's: --probe-dir {})", p.display()))
                    .unwrap_or_default();
                return Err(bad(format!(
                    "validate without --probe-dir runs the probe on this host's kernel, which needs root: run it as \
                     root, or compare with runs captured before: --probe-dir DIR{bundled}"
                )));
            }
            let p = dir.join("probe");
            let opts = ProbeOptions { out: p.clone(), runs, allow_sysctl, settle_s: 0, blktrace: false };
            probe::probe(&sc, &opts)?;
            p
        }
    };
    let extents_path = ["run-1/extents_start.txt", "extents_start.txt", "run-1/extents.txt", "extents.txt"]
        .map(|n| probe_dir.join(n))
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| bad(format!("{}: no extents.txt (run-1/extents.txt) from a probe run", probe_dir.display())))?;
    // Files written during the run: complete the start layout with where the run allocated their blocks.
    let extents_path = match (
        std::fs::read_to_string(probe_dir.join("run-1/extents_start.txt")),
        std::fs::read_to_string(probe_dir.join("run-1/extents.txt")),
    ) {
        (Ok(start), Ok(end)) => {
            let p = dir.join("extents_merged.txt");
            std::fs::write(&p, crate::sim::merge_extents(&start, &end))
                .map_err(|e| bad(format!("writing {}: {e}", p.display())))?;
            p
        }
        _ => extents_path,
    };
    let sim_dir = dir.join("sim");
    run_cmd::simulate_into(&sc, scenario, &extents_path, &sim_dir)?;
    if kept {
        outln!("simulated run: {}\nprobe runs: {}", sim_dir.display(), probe_dir.display())?;
    } else {
        outln!("(the simulated and probe runs were in a temporary directory, now removed: --out DIR keeps them)")?;
    }
    compare_cmd(&sim_dir, &probe_dir, json, thresholds, plot)
}

/// `validate --probe-dir`: the captures must come from this scenario (the name in each run's manifest) and from this
/// version of its file (the sha256), unless `--allow-changed-scenario`.
fn check_captures(
    sc: &crate::scenario::Scenario,
    scenario: &Path,
    dir: &Path,
    allow_changed: bool,
) -> Result<(), Failure> {
    let bad = |msg: String| Failure { code: 2, msg };
    for (manifest, name, sha) in compare::input::captured_scenarios(dir).map_err(bad)? {
        if name != sc.name {
            return Err(bad(format!(
                "{}: these runs were captured for the scenario `{name}`, not `{}` ({}): give the --probe-dir of this \
                 scenario's captures, or drop --probe-dir to probe it (root)",
                manifest.display(),
                sc.name,
                scenario.display()
            )));
        }
        if sha != sc.sha256 && !allow_changed {
            return Err(bad(format!(
                "{}: these runs were captured from another version of {} (sha256 {sha}, the file now {}): capture \
                 again with `pcsim probe`, or pass --allow-changed-scenario to compare anyway",
                manifest.display(),
                scenario.display(),
                sc.sha256
            )));
        }
    }
    Ok(())
}

/// `pcsim compare`: load both sides, compare, print or write, and map the checks to exit codes.
pub(crate) fn compare_cmd(
    sim: &Path,
    probe: &Path,
    json: Option<&Path>,
    thresholds: compare::output::Thresholds,
    plot: Option<&Path>,
) -> Result<(), Failure> {
    let bad = |msg: String| Failure { code: 2, msg };
    let sim = compare::input::load_run(sim).map_err(bad)?;
    let probes = compare::input::load_probe(probe).map_err(bad)?;
    if let Some(p) = plot {
        let mut runs: Vec<(String, &crate::trace::series::Series, compare::curves::WriteFigures)> = Vec::new();
        for (label, input) in std::iter::once(("model".to_string(), &sim))
            .chain(probes.iter().map(|i| (format!("kernel {}", i.path.display()), i)))
        {
            let s = input.series.as_ref().ok_or_else(|| {
                bad(format!(
                    "{}: --plot needs a vmstat_series.txt on every side, and there is none here",
                    input.path.display()
                ))
            })?;
            let devices: Vec<&str> = s.header.get("devices").map(|d| d.split(',').collect()).unwrap_or_default();
            let figures = compare::curves::figures(&input.log, s, &devices);
            runs.push((label, s, figures));
        }
        crate::report::plot::write_curves_svg(p, &format!("{}: the write side", sim.path.display()), &runs)
            .map_err(bad)?;
    }
    if thresholds.residency_jaccard.is_some() {
        for side in std::iter::once(&sim).chain(&probes) {
            if side.residency.is_none() {
                return Err(bad(format!(
                    "{}: --min-residency needs a residency.txt on both sides, and there is none here",
                    side.path.display()
                )));
            }
        }
    }
    let c = compare::output::compare_runs(&sim, &probes, thresholds, compare::align::DEFAULT_WORK_LIMIT);
    let to_stdout = json.is_some_and(|p| p.as_os_str() == "-");
    if !to_stdout {
        out!("{}", compare::output::render_text(&c))?;
    }
    if let Some(p) = json {
        let text = compare::output::render_json(&c);
        if to_stdout {
            out!("{text}")?;
        } else {
            std::fs::write(p, text).map_err(|e| bad(format!("{}: {e}", p.display())))?;
        }
    }
    let failed: Vec<String> = c
        .failures()
        .map(|ch| {
            if ch.measure == "jaccard" {
                format!("residency jaccard {:.4} < {:.4} ({})", ch.actual, ch.required, ch.run)
            } else {
                format!("{} {} {:.2}% < {:.2}% ({})", ch.name, ch.measure, ch.actual, ch.required, ch.run)
            }
        })
        .collect();
    let failed: Vec<String> = failed
        .into_iter()
        .chain(c.counter_failures().map(|ch| format!("{} model {} outside {}..={}", ch.name, ch.model, ch.lo, ch.hi)))
        .chain(c.write_failures().map(|ch| {
            format!(
                "{} model {} outside {:.1}..={:.1}",
                ch.name,
                ch.model.map_or("-".into(), |v| format!("{v:.1}")),
                ch.lo,
                ch.hi
            )
        }))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure { code: 1, msg: format!("below threshold: {}", failed.join("; ")) })
    }
}
