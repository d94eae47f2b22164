//! The event loop: tasks, kswapd0 and the flushers run in virtual-time order (queue key (time, seq)).
//!
//! A task's step runs its current call until the call returns or sleeps at one of the kernel's sleep points (a
//! folio under I/O, balance_dirty_pages, writeback, blk-wbt or a tag, the journal, a flush, O_DIRECT I/O): the call's
//! state stays in the task's `Current` and the task is queued again at its wake-up, other tasks, kswapd and the
//! flushers running meanwhile. A call that passes the next queued run on CPU time yields at its next preemption
//! point (between a write's chunks, between the pages of an access; `Kernel::need_resched`).
//! DIVERGENCE: between its sleep and preemption points a step is atomic with respect to the others: CPU time spent
//! inside one (a readahead's allocations, direct reclaim, a chunk's copy) delays the task but not what it changes,
//! and the tasks do not compete for the machine's CPUs (each runs as if on its own). kswapd0 (mm/kswapd.rs) is queued
//! like a task when an allocation wakes it, at the waker's clock, and runs one balance round per step; each device's
//! flusher runs one wb_writeback iteration per step, or until it sleeps (fs/fs_writeback.rs).

use std::sync::Arc;

use crate::kernel::Kernel;
use crate::trace::series::Series;
use crate::units::Nanos;

use super::queue::EventQueue;
use super::result::SimError;
use super::series::{series_sample, SERIES_INTERVAL_NS};
use super::task::Task;

/// What the event queue runs: a task's next op, or a step of kswapd0 (of the given schedule generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Runnable {
    Task(usize),
    Kswapd(u64),
    /// The flusher of a device, with the generation of its schedule.
    Flusher(usize, u64),
}

/// Runs the tasks from their start times until the last one ends; returns that time. kswapd's work left when the
/// last task ends is not run.
pub(crate) fn run(
    k: &mut Kernel,
    tasks: &mut [Task],
    starts: &[Nanos],
    mut series: Option<&mut Series>,
) -> Result<Nanos, SimError> {
    let kswapd_name: crate::trace::event::Name = Arc::from("kswapd0");
    let kworker_name: crate::trace::event::Name = Arc::from("kworker");
    let mut q = EventQueue::new();
    for (t, &start) in starts.iter().enumerate() {
        q.push(start, Runnable::Task(t));
    }
    let mut live = tasks.len();
    let mut end = Nanos(0);
    let mut next_sample = Nanos(0);
    while live > 0 {
        let Some((time, item)) = q.pop() else { break };
        if let Some(series) = series.as_mut() {
            while next_sample <= time {
                let sample = series_sample(k, next_sample);
                series.samples.push(sample);
                next_sample = Nanos(next_sample.0 + SERIES_INTERVAL_NS);
            }
        }
        // Nothing runs earlier than `time`: reads done by then are done for everyone.
        k.folios.reap(time);
        k.now = time;
        match item {
            Runnable::Task(t) => {
                if !Arc::ptr_eq(&k.task, &tasks[t].name) {
                    k.task = tasks[t].name.clone();
                }
                k.cur_task = t;
                k.preempt_at = q.peek_time().unwrap_or(Nanos(u64::MAX));
                let mut at = time;
                loop {
                    let Some(next) = tasks[t].step(k)? else {
                        end = end.max(at);
                        live -= 1;
                        break;
                    };
                    // Nothing else is due before the task's next step and nothing was scheduled: the same task
                    // runs next, so step it again without a queue round trip (same order: an entry at the same
                    // time would run first, so only a strictly later one lets it through). With a series being
                    // sampled, or a task that sleeps inside a call, go through the queue.
                    let alone = series.is_none()
                        && next == k.now
                        && q.peek_time().is_none_or(|due| due > k.now)
                        && !k.kswapd.has_pending()
                        && !k.wb.has_pending()
                        && k.unsupported.is_none();
                    if !alone {
                        q.push(next, Runnable::Task(t));
                        break;
                    }
                    at = k.now;
                    k.folios.reap(at);
                }
            }
            Runnable::Kswapd(generation) => {
                if !k.kswapd.is_current(generation) {
                    continue;
                }
                k.preempt_at = Nanos(u64::MAX);
                k.task = kswapd_name.clone();
                k.kswapd_run();
            }
            Runnable::Flusher(dev, generation) => {
                if !k.wb.is_current(dev, generation) {
                    continue;
                }
                k.task = kworker_name.clone();
                k.wb_workfn_step(dev);
            }
        }
        for (at, dev, generation) in k.wb.take_schedules() {
            q.push(at, Runnable::Flusher(dev, generation));
        }
        if let Some(what) = k.unsupported.take() {
            return Err(SimError::Unsupported { task: k.task.to_string(), op: what });
        }
        if let Some((at, generation)) = k.kswapd.take_schedule() {
            q.push(at, Runnable::Kswapd(generation));
        }
    }

    Ok(end)
}
