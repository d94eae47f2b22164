//! The options every trace-reading command shares (`import`, `run --trace`, `probe --trace`, `validate --trace`),
//! and what they resolve to: the trace's input, the import options, the machine, the first pass (plan) and the
//! replay's scenario.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::failure::{fail, Failure};
use super::progress::Progress;
use crate::replay::demux::{Demux, Step};
use crate::replay::plan::Plan;
use crate::replay::scenario_out::{scenario_text, Setup};
use crate::replay::source::{Format, ImportOptions, ReadCounter, TraceInput, TraceSpec};
use crate::replay::timing::Timing;
use crate::replay::{BlockOptions, Through};
use crate::scenario::Scenario;
use crate::trace::op::Op;

/// `--through`: the two readings of a block trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ThroughArg {
    /// Buffered reads and writes of one file the size of the device, through the page cache.
    Cache,
    /// O_DIRECT reads and writes on the modelled device (the device and queue model alone).
    Device,
}

/// How to read and replay a trace.
#[derive(Args, Debug, Clone, Default)]
pub struct TraceOpts {
    /// Open every file with O_DIRECT (an iolog's job ran with direct=1; for strace: override the recorded flags).
    #[arg(long, conflicts_with = "buffered")]
    pub(crate) direct: bool,
    /// Open every file buffered (an iolog's job ran with direct=0; for strace: override the recorded flags).
    #[arg(long)]
    pub(crate) buffered: bool,
    /// Block traces: replay through the page cache (one file the size of the device) or on the device (O_DIRECT)
    /// [default: device].
    #[arg(long, value_enum)]
    pub(crate) through: Option<ThroughArg>,
    /// File-level traces: keep only the files under DIR (repeatable); their names lose the DIR prefix.
    #[arg(long, value_name = "DIR")]
    pub(crate) under: Vec<String>,
    /// A scenario whose seed, machine, devices and sysctls the replay uses (its files and tasks are ignored);
    /// default: 4 GiB of memory, one device with the scenario defaults.
    #[arg(long, value_name = "M.ron")]
    pub(crate) machine: Option<PathBuf>,
    /// Drop the recorded think time: each thread's calls run back to back, every thread from time 0.
    #[arg(long)]
    pub(crate) as_fast_as_possible: bool,
    /// fio iologs: replay `trim` as fallocate(PUNCH_HOLE) (logs of fio's falloc engine).
    #[arg(long)]
    pub(crate) trim_as_punch_hole: bool,
    /// The scenario's name [default: the trace file's name].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Block traces of a whole device: replay only the bios of this partition (MAJ:MIN, as the trace's remap
    /// records name it), at offsets from its start.
    #[arg(long, value_name = "MAJ:MIN", value_parser = dev_t)]
    pub(crate) partition: Option<u32>,
    /// File-level traces: the sizes of the files that existed before the trace, a RON map of path (or replay
    /// file name) to size, e.g. `{ "/data/a.db": "8m" }` [default: the largest offset the trace touched].
    #[arg(long = "files", id = "file_sizes", value_name = "SIZES.ron")]
    pub(crate) file_sizes: Option<PathBuf>,
}

/// `MAJ:MIN` (or `MAJ,MIN`) as a dev_t.
fn dev_t(s: &str) -> Result<u32, String> {
    let (a, b) = s.split_once([':', ',']).ok_or_else(|| format!("`{s}` is not MAJ:MIN (e.g. 8:1)"))?;
    let (a, b): (u32, u32) = (
        a.trim().parse().map_err(|_| format!("`{a}` is not a major number"))?,
        b.trim().parse().map_err(|_| format!("`{b}` is not a minor number"))?,
    );
    if a >= 1 << 12 || b >= 1 << 20 {
        return Err(format!("{a}:{b} does not fit a dev_t (major < 4096, minor < 2^20)"));
    }
    Ok((a << 20) | b)
}

/// A trace opened, read once, and its replay's scenario.
pub(crate) struct Prepared {
    pub input: TraceInput,
    pub import: ImportOptions,
    pub plan: Plan,
    pub timing: Timing,
    pub machine: Option<Scenario>,
    pub name: String,
    /// `--seed`, else the machine file's, else the default.
    pub seed: u64,
}

impl TraceOpts {
    /// Refuses trace options given without a trace.
    pub(crate) fn refuse_without_trace(&self) -> Result<(), Failure> {
        let given = self.direct
            || self.buffered
            || self.through.is_some()
            || !self.under.is_empty()
            || self.machine.is_some()
            || self.as_fast_as_possible
            || self.trim_as_punch_hole
            || self.name.is_some()
            || self.partition.is_some()
            || self.file_sizes.is_some();
        if given {
            return Err(fail(
                "--direct, --buffered, --through, --under, --machine, --as-fast-as-possible, --trim-as-punch-hole, \
                 --name, --partition and --files apply to a trace (--trace FORMAT:PATH), not to a scenario"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn timing(&self) -> Timing {
        if self.as_fast_as_possible {
            Timing::AsFastAsPossible
        } else {
            Timing::Recorded
        }
    }

    fn import_options(&self, format: Format) -> Result<ImportOptions, Failure> {
        let direct = match (self.direct, self.buffered) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        let through = match (self.through, direct) {
            (Some(ThroughArg::Cache), Some(true)) | (Some(ThroughArg::Device), Some(false)) => {
                return Err(fail("--through and --direct/--buffered disagree: give one of them".into()))
            }
            (Some(ThroughArg::Cache), _) | (None, Some(false)) => Through::Cache,
            _ => Through::Device,
        };
        if self.through.is_some() && !format.is_block() {
            return Err(fail(format!(
                "--through applies to block traces (blktrace, blkparse), not {}: use --direct or --buffered",
                format.name()
            )));
        }
        if self.partition.is_some() && !format.is_block() {
            return Err(fail("--partition applies to block traces (blktrace, blkparse)".into()));
        }
        if self.file_sizes.is_some() && format.is_block() {
            return Err(fail(
                "--files applies to file-level traces (strace, iolog): a block trace has no files".into(),
            ));
        }
        if !self.under.is_empty() && format.is_block() {
            return Err(fail(
                "--under applies to file-level traces (strace, iolog): a block trace has no paths".into(),
            ));
        }
        Ok(ImportOptions {
            block: BlockOptions { through, partition: self.partition, ..Default::default() },
            direct: if format.is_block() { None } else { direct },
            trim_as_punch_hole: self.trim_as_punch_hole,
            under: self.under.clone(),
        })
    }

    /// Opens the trace and reads it once (with a progress display on stderr when it takes over a second).
    pub(crate) fn prepare(&self, spec: &TraceSpec, seed: Option<u64>, quiet: bool) -> Result<Prepared, Failure> {
        let input = TraceInput::new(spec, &std::env::temp_dir()).map_err(|e| fail(e.to_string()))?;
        self.prepare_input(input, seed, quiet)
    }

    /// [`TraceOpts::prepare`] of an input already resolved.
    pub(crate) fn prepare_input(&self, input: TraceInput, seed: Option<u64>, quiet: bool) -> Result<Prepared, Failure> {
        let spec = input.spec.clone();
        let import = self.import_options(spec.format)?;
        let machine = match &self.machine {
            Some(p) => Some(Scenario::load_with_seed(p, seed).map_err(|e| fail(e.to_string()))?),
            None => None,
        };
        let count = ReadCounter::default();
        let imp = input.open(&import, &count).map_err(|e| fail(e.to_string()))?;
        let progress = Progress::bytes(quiet, "reading", input.total_bytes);
        let mut plan =
            Plan::read(imp, &import.under, |_| progress.set(count.get())).map_err(|e| fail(e.to_string()))?;
        progress.finish();
        if let Some(p) = &self.file_sizes {
            for w in super::file_sizes::apply(p, &mut plan)? {
                eprintln!("pcsim: warning: {w}");
            }
        }
        if let Some(e) = &plan.truncated {
            eprintln!(
                "pcsim: warning: {}: {}: {}; the {} records before it are replayed",
                e.origin, e.at, e.message, plan.stats.records
            );
        }
        let name = self.name.clone().unwrap_or_else(|| trace_name(&spec.path));
        let seed = seed.or(machine.as_ref().map(|m| m.seed)).unwrap_or(crate::scenario::DEFAULT_SEED);
        Ok(Prepared { input, import, plan, timing: self.timing(), machine, name, seed })
    }
}

/// A scenario name from a trace's path: its file name up to the first dot, cleaned (`-` gives `stdin`).
fn trace_name(path: &str) -> String {
    if path == "-" {
        return "stdin".into();
    }
    let base = Path::new(path).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let stem = base.split('.').next().unwrap_or("");
    let clean: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    match clean.as_str() {
        "" => "replay".into(),
        _ => clean,
    }
}

impl Prepared {
    /// The replay's scenario: with `ops`, every task's calls (an editable scenario); without, the header a
    /// streamed replay runs.
    pub(crate) fn scenario_text(&self, ops: Option<&[Vec<Op>]>, comments: &[String]) -> Result<String, Failure> {
        let setup = Setup {
            name: &self.name,
            seed: self.seed,
            machine: self.machine.as_ref(),
            block: self.input.spec.format.is_block(),
            timing: self.timing,
        };
        scenario_text(&self.plan, &setup, ops, comments).map_err(fail)
    }

    /// A fresh streamed replay of the trace (its second pass), reporting progress to `progress`.
    pub(crate) fn demux(&self, progress: Option<Progress>) -> Result<Demux, Failure> {
        let count = ReadCounter::default();
        let imp = self.input.open(&self.import, &count).map_err(|e| fail(e.to_string()))?;
        let mut d = Demux::new(imp, &self.plan, self.timing, std::env::temp_dir());
        if let Some(p) = progress {
            d.on_progress(Box::new(move |n| p.set(n)));
        }
        Ok(d)
    }

    /// Every task's ops as the replay issues them (think time as `Sleep`s): for an editable scenario, so held in
    /// memory.
    pub(crate) fn all_ops(&self) -> Result<Vec<Vec<Op>>, Failure> {
        let mut d = self.demux(None)?;
        let mut ops = vec![Vec::new(); self.plan.tasks.len()];
        for (t, list) in ops.iter_mut().enumerate() {
            while let Some(step) = d.next(t) {
                list.push(match step {
                    Step::Sleep(ns) => Op::Sleep { ns },
                    Step::Call(r) => r.op,
                });
            }
        }
        match d.take_error() {
            Some(e) => Err(fail(e.to_string())),
            None => Ok(ops),
        }
    }

    /// Fails with exit code 2 when the trace has no call to replay.
    pub(crate) fn check_not_empty(&self) -> Result<(), Failure> {
        if self.plan.calls() > 0 {
            return Ok(());
        }
        let s = &self.plan.stats;
        let mut why: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        if why.is_empty() {
            why.push("none".into());
        }
        Err(fail(format!(
            "{}: nothing to replay: {} records read, none became a call (skipped: {})",
            self.input.spec,
            s.records,
            why.join(", ")
        )))
    }

    /// The comment lines that open a replay's scenario.
    pub(crate) fn comments(&self) -> Vec<String> {
        let s = &self.plan.stats;
        let mut c = vec![
            format!("Replay of {} by pcsim {}.", self.input.spec, env!("CARGO_PKG_VERSION")),
            format!(
                "{} records read; {} calls in {} tasks; think time {}.",
                s.records,
                self.plan.calls(),
                self.plan.tasks.len(),
                match self.timing {
                    Timing::Recorded => "as recorded (Sleep ops)",
                    Timing::AsFastAsPossible => "dropped (--as-fast-as-possible)",
                }
            ),
        ];
        if !s.skipped.is_empty() {
            let v: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
            c.push(format!("Skipped (docs/REPLAY_FORMATS.md): {}.", v.join(", ")));
        }
        if self.machine.is_none() {
            c.push("The machine and device sections are defaults: describe the machine to model there.".into());
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_paths() {
        assert_eq!(trace_name("/tmp/cp.strace.txt"), "cp");
        assert_eq!(trace_name("-"), "stdin");
        assert_eq!(trace_name("dir/a b.log"), "a_b");
        assert_eq!(trace_name(".hidden"), "replay");
    }

    #[test]
    fn options_that_disagree_are_refused() {
        let o = TraceOpts { through: Some(ThroughArg::Cache), direct: true, ..Default::default() };
        assert!(o.import_options(Format::Blktrace).is_err());
        let o = TraceOpts { through: Some(ThroughArg::Cache), ..Default::default() };
        assert!(o.import_options(Format::Strace).is_err());
        let o = TraceOpts { buffered: true, ..Default::default() };
        assert_eq!(o.import_options(Format::Blkparse).unwrap().block.through, Through::Cache);
        assert_eq!(o.import_options(Format::Iolog).unwrap().direct, Some(false));
        let o = TraceOpts { under: vec!["/x".into()], ..Default::default() };
        assert!(o.import_options(Format::Blktrace).is_err());
        assert_eq!(dev_t("8:1"), Ok((8 << 20) | 1));
        assert!(dev_t("8").is_err() && dev_t("4096:0").is_err());
    }
}
