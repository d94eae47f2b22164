//! The simulation engine: virtual time, the event queue, tasks issuing their op streams against the modelled
//! kernel (`Kernel`), and the run's results.
//!
//! A run is three steps: `build` (the composition root: the model of the scenario and its tasks), `engine::run` (the
//! event loop), `collect` (the results).

mod build;
mod collect;
mod engine;
#[doc(hidden)]
pub mod extents;
mod output;
#[doc(hidden)]
pub mod queue;
mod replay_run;
mod result;
mod series;
mod snapshot;
mod spill;
pub mod stats;
mod summary;
#[doc(hidden)]
pub mod task;

#[doc(hidden)]
pub use build::fs_block_size;
pub use build::SimOptions;
#[doc(hidden)]
pub use extents::{merge_extents, read_extents};
#[doc(hidden)]
pub use queue::EventQueue;
pub use replay_run::{simulate_replay, ReplayError, ReplayRun};
pub use result::{DeviceStats, FileResidency, SimError, SimResult, TaskStats, ZoneStats};
pub use series::SERIES_INTERVAL_NS;
pub use stats::Histogram;
pub use summary::Summary;

use crate::scenario::Scenario;

/// Runs the scenario through the model.
pub fn simulate(sc: &Scenario, opts: &SimOptions) -> Result<SimResult, SimError> {
    let build::Built { mut k, mut tasks, free_start } = build::build(sc, opts)?;
    let devices: Vec<&str> = sc.devices.iter().map(|d| d.name.as_str()).collect();
    let spill = match (&opts.spill_dir, opts.events) {
        (Some(dir), true) => Some(spill::Spill::new(dir, opts.spill_chunk).map_err(SimError::Output)?),
        _ => None,
    };
    let mut rec = opts.events.then(|| series::Recorder::new(series::new_series(&sc.name, &devices), spill));
    let starts: Vec<_> = sc.tasks.iter().map(|t| t.start).collect();
    let end = engine::run(&mut k, &mut tasks, &starts, rec.as_mut())?;
    collect::collect(sc, k, tasks, free_start, end, rec)
}
