//! A trace replayed through the model: the run of a scenario (the replay's header: machine, devices, files, one
//! task per traced thread) whose tasks draw their ops from a [`Demux`] over the trace instead of their op lists,
//! so a trace of any length streams through in bounded memory (docs/REPLAY.md).
//!
//! The recorded durations of the calls (strace `-T`) are collected per task beside the model's own latencies.

use std::sync::{Arc, Mutex};

use super::build::{self, Built};
use super::result::{SimError, SimResult};
use super::stats::Histogram;
use super::task::Task;
use super::{collect, engine, series, SimOptions};
use crate::kernel::cpu::CpuStalls;
use crate::replay::demux::{Demux, Step};
use crate::replay::{ImportError, Stats};
use crate::scenario::{OpFeed, OpStream, Scenario};
use crate::trace::op::Op;

/// The feed the tasks draw from: the demultiplexed trace, and what it recorded of each call.
struct ReplayFeed {
    demux: Demux,
    recorded: Vec<Histogram>,
    calls: Vec<u64>,
}

impl OpFeed for ReplayFeed {
    fn next_op(&mut self, task: usize) -> Option<Op> {
        match self.demux.next(task)? {
            Step::Sleep(ns) => Some(Op::Sleep { ns }),
            Step::Call(r) => {
                self.calls[task] += 1;
                if let Some(d) = r.duration_ns {
                    self.recorded[task].record(d);
                }
                Some(r.op)
            }
        }
    }
}

/// A replay's results: the model's run, and per task the recorded durations of its calls.
pub struct ReplayRun {
    /// The model's run (its tasks' latencies are the model's).
    pub result: SimResult,
    /// Per task (the scenario's order): the recorded durations of its calls that had one.
    pub recorded: Vec<Histogram>,
    /// Per task: the calls it issued (think-time sleeps not included).
    pub calls: Vec<u64>,
    /// The importer's counts at the end of the replay.
    pub stats: Stats,
    /// Records read from the trace.
    pub records: u64,
    /// Records that waited in a spill file.
    pub spilled: u64,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The model refused a call, or could not be built.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The trace could not be read on.
    #[error(transparent)]
    Import(#[from] ImportError),
}

/// Runs the scenario `sc` with its tasks fed by `demux` (task `t` gets the calls of the plan's task `t`).
pub fn simulate_replay(sc: &Scenario, opts: &SimOptions, demux: Demux) -> Result<ReplayRun, ReplayError> {
    let n = sc.tasks.len();
    let feed = Arc::new(Mutex::new(ReplayFeed { demux, recorded: vec![Histogram::default(); n], calls: vec![0; n] }));
    let Built { mut k, mut tasks, free_start } = build::build(sc, opts)?;
    let shared: Arc<Mutex<dyn OpFeed>> = feed.clone();
    for (t, task) in tasks.iter_mut().enumerate() {
        *task = Task::new(&sc.tasks[t].name, OpStream::fed(shared.clone(), t), CpuStalls::new(sc.seed, t));
    }
    let devices: Vec<&str> = sc.devices.iter().map(|d| d.name.as_str()).collect();
    let spill = match (&opts.spill_dir, opts.events) {
        (Some(dir), true) => Some(super::spill::Spill::new(dir, opts.spill_chunk).map_err(SimError::Output)?),
        _ => None,
    };
    let mut rec = opts.events.then(|| series::Recorder::new(series::new_series(&sc.name, &devices), spill));
    let starts: Vec<_> = sc.tasks.iter().map(|t| t.start).collect();
    let end = engine::run(&mut k, &mut tasks, &starts, rec.as_mut());
    // Collecting consumes the tasks, and with them their handles on the feed.
    let result = end.and_then(|end| collect::collect(sc, k, tasks, free_start, end, rec));
    drop(shared);
    let mut feed = Arc::try_unwrap(feed)
        .map_err(|_| "the replay's feed is still shared after the run")
        .and_then(|m| m.into_inner().map_err(|_| "the replay's feed panicked"))
        .unwrap_or_else(|e| panic!("invariant: {e}"));
    if let Some(e) = feed.demux.take_error() {
        return Err(e.into());
    }
    let result = result?;
    Ok(ReplayRun {
        result,
        recorded: feed.recorded,
        calls: feed.calls,
        stats: feed.demux.stats(),
        records: feed.demux.records_read(),
        spilled: feed.demux.spilled(),
    })
}
