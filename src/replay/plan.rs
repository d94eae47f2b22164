//! The replay's first pass over a trace: what a run needs to know before its first call, which a streamed trace only
//! tells at its end: the files and their sizes (a file that existed is as large as the largest offset touched), the
//! threads that issue calls (each becomes a task, starting at its first call), and whether anything writes.
//!
//! A trace that ends inside a record is read up to it ([`Plan::truncated`] says where); any other import error
//! ends the pass with that error.
//!
//! The pass holds memory in proportion to the distinct files and threads, never to the trace's length; the replay
//! itself ([`super::demux`]) reads the trace a second time.

use super::naming::{file_names, task_names};
use super::{ErrorKind, ImportError, Importer, ProcessInfo, Stats, ThreadInfo, TraceFile};
use crate::trace::op::Op;

/// One thread that issues calls: a task of the replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanTask {
    /// The importer's dense thread id.
    pub thread: u32,
    /// The task's name in the scenario (unique, at most 15 characters).
    pub name: String,
    /// When its first call was recorded, nanoseconds since the trace's first record.
    pub first_ns: u64,
    /// When its last call was recorded.
    pub last_ns: u64,
    /// Calls it issues (records).
    pub calls: u64,
}

/// What the first pass learnt.
#[derive(Debug)]
pub struct Plan {
    /// The importer's file table at the end.
    pub files: Vec<TraceFile>,
    /// The files' names in the scenario (unique, `[A-Za-z0-9._-]+`), parallel to `files`.
    pub file_names: Vec<String>,
    /// The traced processes.
    pub processes: Vec<ProcessInfo>,
    /// The traced threads.
    pub threads: Vec<ThreadInfo>,
    /// The threads that issue calls, in order of first appearance.
    pub tasks: Vec<PlanTask>,
    /// For each thread, its task (index into `tasks`), `None` when it issued no call.
    pub task_of_thread: Vec<Option<u32>>,
    /// The importer's counts at the end.
    pub stats: Stats,
    /// The last record's time.
    pub end_ns: u64,
    /// Whether any call writes (write, pwrite, writev, pwritev, or a write touch).
    pub writes: bool,
    /// Records that carry a recorded duration.
    pub timed: u64,
    /// The trace ended inside a record (a blktrace killed while writing, a file cut short): the records before it
    /// are replayed, and this says where.
    pub truncated: Option<ImportError>,
}

impl Plan {
    /// Reads the whole trace once; `progress` is called every 65536 records with the count so far. `under` are
    /// the paths stripped from file names (as `--under` gave them).
    pub fn read(
        mut imp: Box<dyn Importer + Send>,
        under: &[String],
        mut progress: impl FnMut(u64),
    ) -> Result<Plan, ImportError> {
        let mut tasks: Vec<PlanTask> = Vec::new();
        let mut task_of_thread: Vec<Option<u32>> = Vec::new();
        let (mut end_ns, mut writes, mut timed, mut n) = (0, false, 0, 0u64);
        let mut truncated = None;
        for r in imp.by_ref() {
            let r = match r {
                Ok(r) => r,
                Err(e) if e.kind == ErrorKind::Truncated => {
                    truncated = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            };
            n += 1;
            if n & 0xffff == 0 {
                progress(n);
            }
            let t = r.thread as usize;
            if task_of_thread.len() <= t {
                task_of_thread.resize(t + 1, None);
            }
            let task = *task_of_thread[t].get_or_insert_with(|| {
                tasks.push(PlanTask {
                    thread: r.thread,
                    name: String::new(),
                    first_ns: r.time_ns,
                    last_ns: r.time_ns,
                    calls: 0,
                });
                tasks.len() as u32 - 1
            });
            let task = &mut tasks[task as usize];
            task.calls += 1;
            task.last_ns = r.time_ns;
            end_ns = end_ns.max(r.time_ns);
            timed += r.duration_ns.is_some() as u64;
            writes |= matches!(
                r.op,
                Op::Write { .. }
                    | Op::Pwrite { .. }
                    | Op::Writev { .. }
                    | Op::Pwritev { .. }
                    | Op::Touch { write: true, .. }
            );
        }
        progress(n);
        let threads = imp.threads().to_vec();
        task_of_thread.resize(threads.len().max(task_of_thread.len()), None);
        let processes = imp.processes().to_vec();
        let task_threads: Vec<u32> = tasks.iter().map(|t| t.thread).collect();
        let names = task_names(&task_threads, &threads, &processes);
        for (t, name) in tasks.iter_mut().zip(names) {
            t.name = name;
        }
        let files = imp.files().to_vec();
        Ok(Plan {
            file_names: file_names(&files, under),
            files,
            processes,
            threads,
            tasks,
            task_of_thread,
            stats: imp.stats(),
            end_ns,
            writes,
            timed,
            truncated,
        })
    }

    /// Calls the replay will issue.
    pub fn calls(&self) -> u64 {
        self.tasks.iter().map(|t| t.calls).sum()
    }
}
