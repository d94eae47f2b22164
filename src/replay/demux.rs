//! The streamed replay: one pass over the trace in its own order, handing each task its own calls when the engine
//! asks for them, with the recorded think time before each (see [`super::timing`]).
//!
//! The engine runs tasks in virtual-time order, so the task that asks is not always the one whose record comes
//! next in the trace: records for other tasks wait in their queues. Memory stays bounded however long the trace
//! and however far one task falls behind another: past a budget of records held in memory (all tasks together,
//! 262144 by default), a task's records go to a spill file of its own (`spill.rs`), read back in order.

use std::collections::VecDeque;
use std::path::PathBuf;

use super::plan::Plan;
use super::spill::Spill;
use super::timing::{ThreadClock, Timing};
use super::{ImportError, Importer, Location, Record, Stats};

/// What a task does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Think for this many nanoseconds first.
    Sleep(u64),
    /// Issue this call.
    Call(Record),
}

#[derive(Debug, Default)]
struct Queue {
    mem: VecDeque<Record>,
    spill: Option<Spill>,
}

/// The default number of records held in memory for tasks that have not asked for them yet.
pub const DEFAULT_BUDGET: usize = 1 << 18;

/// Hands out a trace's calls task by task; see the module doc.
pub struct Demux {
    imp: Box<dyn Importer + Send>,
    task_of_thread: Vec<Option<u32>>,
    timing: Timing,
    queues: Vec<Queue>,
    clocks: Vec<ThreadClock>,
    /// A call whose think time was handed out, to hand out next.
    armed: Vec<Option<Record>>,
    in_memory: usize,
    budget: usize,
    spill_dir: PathBuf,
    spilled: u64,
    error: Option<ImportError>,
    done: bool,
    pulled: u64,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
}

impl Demux {
    /// A replay of `imp` (a fresh importer over the trace `plan` was read from), spilling into `spill_dir`.
    pub fn new(imp: Box<dyn Importer + Send>, plan: &Plan, timing: Timing, spill_dir: PathBuf) -> Demux {
        let n = plan.tasks.len();
        Demux {
            imp,
            task_of_thread: plan.task_of_thread.clone(),
            timing,
            queues: (0..n).map(|_| Queue::default()).collect(),
            clocks: vec![ThreadClock::default(); n],
            armed: vec![None; n],
            in_memory: 0,
            budget: DEFAULT_BUDGET,
            spill_dir,
            spilled: 0,
            error: None,
            done: false,
            pulled: 0,
            progress: None,
        }
    }

    /// Sets the number of records held in memory before spilling.
    pub fn with_budget(mut self, records: usize) -> Demux {
        self.budget = records;
        self
    }

    /// Calls `f` with the number of records read so far, every 65536 records and at the end.
    pub fn on_progress(&mut self, f: Box<dyn FnMut(u64) + Send>) {
        self.progress = Some(f);
    }

    /// Records read from the trace so far.
    pub fn records_read(&self) -> u64 {
        self.pulled
    }

    /// Records that went through a spill file.
    pub fn spilled(&self) -> u64 {
        self.spilled
    }

    /// The importer's counts so far.
    pub fn stats(&self) -> Stats {
        self.imp.stats()
    }

    /// The error that ended the replay early, if any.
    pub fn take_error(&mut self) -> Option<ImportError> {
        self.error.take()
    }

    /// Task `task`'s next step, `None` when it has no more calls (or the trace could not be read on).
    pub fn next(&mut self, task: usize) -> Option<Step> {
        if self.error.is_some() {
            return None;
        }
        if let Some(r) = self.armed.get_mut(task)?.take() {
            return Some(Step::Call(r));
        }
        loop {
            let r = self.pop(task)?;
            match self.clocks[task].before(self.timing, &r) {
                None => continue,
                Some(0) => return Some(Step::Call(r)),
                Some(ns) => {
                    self.armed[task] = Some(r);
                    return Some(Step::Sleep(ns));
                }
            }
        }
    }

    /// Task `task`'s next record: from its queue, else read on until one comes.
    fn pop(&mut self, task: usize) -> Option<Record> {
        let q = &mut self.queues[task];
        if let Some(r) = q.mem.pop_front() {
            self.in_memory -= 1;
            return Some(r);
        }
        if let Some(s) = q.spill.as_mut().filter(|s| s.pending() > 0) {
            return match s.pop() {
                Ok(r) => r,
                Err(e) => {
                    self.fail(e);
                    None
                }
            };
        }
        while !self.done {
            let r = match self.imp.next() {
                None => {
                    self.finish();
                    break;
                }
                // The plan read up to a truncated tail too: the records before it are the trace.
                Some(Err(e)) if e.kind == super::ErrorKind::Truncated => {
                    self.finish();
                    break;
                }
                Some(Err(e)) => {
                    self.error = Some(e);
                    self.finish();
                    break;
                }
                Some(Ok(r)) => r,
            };
            self.pulled += 1;
            if self.pulled & 0xffff == 0 {
                if let Some(p) = self.progress.as_mut() {
                    p(self.pulled);
                }
            }
            // Pass 1 saw the same records: every thread with a call has a task.
            let Some(t) = self.task_of_thread.get(r.thread as usize).copied().flatten() else { continue };
            if t as usize == task {
                return Some(r);
            }
            self.enqueue(t as usize, r);
        }
        None
    }

    fn enqueue(&mut self, t: usize, r: Record) {
        let q = &mut self.queues[t];
        let spilling = q.spill.as_ref().is_some_and(|s| s.pending() > 0);
        if !spilling && self.in_memory < self.budget {
            q.mem.push_back(r);
            self.in_memory += 1;
            return;
        }
        if q.spill.is_none() {
            let path = self.spill_dir.join(format!("pcsim-replay-{}-task{t}.spill", std::process::id()));
            match Spill::create(path) {
                Ok(s) => q.spill = Some(s),
                Err(e) => return self.fail(e),
            }
        }
        self.spilled += 1;
        if let Some(Err(e)) = q.spill.as_mut().map(|s| s.push(&r)) {
            self.fail(e);
        }
    }

    fn fail(&mut self, e: std::io::Error) {
        let origin = self.spill_dir.display().to_string();
        self.error.get_or_insert(ImportError::io(&origin, Location::Byte(0), e));
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(p) = self.progress.as_mut() {
            p(self.pulled);
        }
    }
}
