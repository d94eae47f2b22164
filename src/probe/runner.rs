//! Executes tasks' `Op` streams with real system calls, one thread per task, timing each op.
//!
//! Each thread is named after its task (so the kernel's trace shows the task name), joins the workload's memory
//! cgroup if there is one, waits for the common start, sleeps until its own start time, then runs its ops. Between
//! ops it checks for an interrupt. A failing call is data (its negative errno is recorded), not a probe error.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::clock::{mono_ns, sleep_interruptible};
use super::guard;
use super::syscalls::TaskState;
use super::ProbeError;
use crate::scenario::Scenario;
use crate::trace::op::Op;

/// What one task did.
#[derive(Clone, Debug, Default)]
pub struct TaskOutcome {
    pub task: String,
    pub ops: u64,
    pub failed_ops: u64,
    pub bytes: u64,
    pub interrupted: bool,
}

fn set_thread_name(name: &str) {
    let c = std::ffi::CString::new(name).unwrap_or_default();
    // SAFETY: PR_SET_NAME copies up to 16 bytes from a valid C string.
    unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// Runs one task to completion; writes its per-op table to `out`.
fn run_task(sc: &Scenario, task: usize, files: &[PathBuf], t0: u64, out: &Path) -> Result<TaskOutcome, ProbeError> {
    let spec = &sc.tasks[task];
    set_thread_name(&spec.name);
    let mut w =
        BufWriter::new(File::create(out).map_err(|e| ProbeError::Host(format!("creating {}: {e}", out.display())))?);
    let werr = |e: std::io::Error| ProbeError::Host(format!("writing {}: {e}", out.display()));
    writeln!(w, "# task={} columns: seq op start_ns dur_ns result", spec.name).map_err(werr)?;
    let now = mono_ns();
    let start = t0 + spec.start.0;
    if start > now {
        sleep_interruptible(start - now);
    }
    let mut st = TaskState::new(files);
    let mut outcome = TaskOutcome { task: spec.name.clone(), ..Default::default() };
    // cachestat results, in `cachestat.txt`'s format (`probe::collect_cachestat` merges the tasks' files).
    let mut cs_lines = String::new();
    if task == 0 {
        guard::point("workload")?;
    }
    for (seq, op) in sc.ops(task).enumerate() {
        if guard::interrupted() {
            outcome.interrupted = true;
            break;
        }
        let a = mono_ns();
        let r = st.exec(&op)?;
        let b = mono_ns();
        outcome.ops += 1;
        if r < 0 {
            outcome.failed_ops += 1;
        } else if op.io_bytes() > 0 {
            outcome.bytes += r as u64;
        }
        writeln!(w, "{seq} {} {} {} {r}", op.name(), a.saturating_sub(t0), b - a).map_err(werr)?;
        if let (Op::Cachestat { off, len, .. }, Some((file, cs))) = (&op, st.cachestat.take()) {
            let rec = crate::trace::cachestat::Record {
                time_ns: a.saturating_sub(t0),
                task: spec.name.clone(),
                file: sc.files[file as usize].name.clone(),
                off: *off,
                len: *len,
                counts: cs,
            };
            cs_lines.push_str(&rec.line());
            cs_lines.push('\n');
        }
    }
    w.flush().map_err(werr)?;
    if !cs_lines.is_empty() {
        let p = out.with_extension("cachestat");
        std::fs::write(&p, cs_lines).map_err(|e| ProbeError::Host(format!("writing {}: {e}", p.display())))?;
    }
    Ok(outcome)
}

/// Runs every task on its own thread, all starting at `t0` (CLOCK_MONOTONIC ns; now if `None`). Returns the start
/// time used and the outcomes. `files[i]` is the path of scenario file i; per-op tables go to `ops_dir/<task>.ops`.
pub fn run_all(
    sc: &Scenario,
    files: &[PathBuf],
    ops_dir: &Path,
    t0: Option<u64>,
) -> Result<(u64, Vec<TaskOutcome>), ProbeError> {
    let n = sc.tasks.len();
    // The start gate: `Some(t0)` opens it; `None` after `aborted` tells started threads to leave (a later thread
    // could not be spawned), so no thread waits forever.
    let gate = Arc::new((std::sync::Mutex::new(Gate::Closed), std::sync::Condvar::new()));
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        let mut spawn_error = None;
        for t in 0..n {
            let g = gate.clone();
            let out = ops_dir.join(format!("{}.ops", sc.tasks[t].name));
            // Named after the task from its first instruction: ftrace's saved cmdlines may keep the first name a
            // thread had when it fired an event, so a placeholder name could show up in the trace.
            let h = std::thread::Builder::new().name(sc.tasks[t].name.clone()).spawn_scoped(s, move || {
                let (lock, cv) = &*g;
                let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
                while *state == Gate::Closed {
                    state = cv.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                match *state {
                    Gate::Open(t0) => {
                        drop(state);
                        run_task(sc, t, files, t0, &out)
                    }
                    _ => Err(ProbeError::Host("task not started: another task thread could not be created".into())),
                }
            });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => {
                    spawn_error = Some(ProbeError::Host(format!("creating task thread {t}: {e}")));
                    break;
                }
            }
        }
        let t0 = t0.unwrap_or_else(mono_ns);
        {
            let (lock, cv) = &*gate;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) =
                if spawn_error.is_some() { Gate::Aborted } else { Gate::Open(t0) };
            cv.notify_all();
        }
        let mut outcomes = Vec::new();
        let mut first_err = spawn_error;
        for h in handles {
            match h.join() {
                Ok(Ok(o)) => outcomes.push(o),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(ProbeError::Host("a task thread panicked".into()));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok((t0, outcomes)),
        }
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Closed,
    Open(u64),
    Aborted,
}

/// Formats outcomes for the worker's report line protocol: `task ops failed_ops bytes interrupted`.
pub fn format_outcome(o: &TaskOutcome) -> String {
    format!("outcome {} {} {} {} {}", o.task, o.ops, o.failed_ops, o.bytes, o.interrupted as u8)
}

/// Parses a line written by `format_outcome`.
pub fn parse_outcome(line: &str) -> Option<TaskOutcome> {
    let mut it = line.strip_prefix("outcome ")?.split_ascii_whitespace();
    Some(TaskOutcome {
        task: it.next()?.to_string(),
        ops: it.next()?.parse().ok()?,
        failed_ops: it.next()?.parse().ok()?,
        bytes: it.next()?.parse().ok()?,
        interrupted: it.next()? == "1",
    })
}
