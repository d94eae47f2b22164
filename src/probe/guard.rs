//! Leaving the host as it was found: an undo stack run on every exit path, signal handling, and the test-only
//! stop points.
//!
//! Every change the probe makes to the host (a mount, a loop device, a tracefs instance, a sysctl, a cgroup, a
//! scratch directory) is first written to the crash journal and put on the undo stack (`Undo::record`), then made.
//! The stack runs in reverse order when the probe ends: normally, on error (`?` unwinds to the owner), on panic
//! (Drop), and on SIGINT/SIGTERM/SIGHUP, whose handler only sets a flag that the probe and its task threads poll
//! between steps, inside long steps and in every wait, so the same path runs promptly. Each step marks its change
//! undone in the journal; SIGKILL, which runs nothing, leaves the journal for `pcsim probe --recover`.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::change::{Change, Outcome};
use super::{host, journal, ProbeError};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// Installs the SIGINT/SIGTERM/SIGHUP handler (idempotent).
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// True once a termination signal arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The signal that interrupted the run, if any.
pub fn signal() -> Option<i32> {
    interrupted().then(|| SIGNAL.load(Ordering::SeqCst))
}

/// Fails with `Interrupted` if a signal arrived.
pub fn check() -> Result<(), ProbeError> {
    match signal() {
        Some(sig) => Err(ProbeError::Interrupted(sig)),
        None => Ok(()),
    }
}

type Action = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// One step of the stack: a journalled change, or (tests) a plain action.
enum Step {
    Change { change: Change, id: Option<u64> },
    Action { what: String, f: Action },
}

/// The undo stack.
#[derive(Default)]
pub struct Undo {
    steps: Vec<Step>,
}

impl Undo {
    pub fn new() -> Self {
        Undo::default()
    }

    /// Writes a change about to be made to the crash journal and stacks its undo step. Call it before making the
    /// change: the step checks what the host holds, so it is right whether the change then fails or not.
    pub fn record(&mut self, change: Change) -> Result<(), ProbeError> {
        let id = journal::append(&change)?;
        self.steps.push(Step::Change { change, id });
        Ok(())
    }

    /// Drops the last recorded change, which was not made after all (someone else's object was there).
    pub fn abandon_last(&mut self) {
        if let Some(Step::Change { id, .. }) = self.steps.pop() {
            journal::done(id);
        }
    }

    /// Keeps every change (the output directory that is the probe's result): nothing is undone, the journal
    /// forgets them.
    pub fn commit(&mut self) {
        while let Some(step) = self.steps.pop() {
            if let Step::Change { id, .. } = step {
                journal::done(id);
            }
        }
    }

    /// Records how to reverse something with a plain action (not journalled).
    pub fn push(&mut self, what: impl Into<String>, f: impl FnOnce() -> Result<(), String> + Send + 'static) {
        self.steps.push(Step::Action { what: what.into(), f: Box::new(f) });
    }

    /// Runs every step, newest first; returns the failures (each step runs even if an earlier one failed). A
    /// change found replaced by someone else's state is left alone, with a warning.
    pub fn run(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        while let Some(step) = self.steps.pop() {
            match step {
                Step::Change { change, id } => match change.undo() {
                    Ok(outcome) => {
                        journal::done(id);
                        if let Outcome::Foreign(t) = outcome {
                            eprintln!("pcsim: warning: {t}");
                        }
                        if change.is_scratch_mount() {
                            let _ = point("teardown");
                        }
                    }
                    Err(e) => errors.push(format!("{change}: {e}")),
                },
                Step::Action { what, f } => {
                    if let Err(e) = f() {
                        errors.push(format!("{what}: {e}"));
                    }
                }
            }
        }
        errors
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        for e in self.run() {
            eprintln!("pcsim: warning: cleanup step failed: {e}");
        }
    }
}

/// The test-only stop points (tests/probe_live.rs): named places of a run (`mkfs`, `write-files`,
/// `cached-ranges`, `sysctls`, `warm-up`, `workload`, `worker`, `collect`, `teardown`). With
/// `PCSIM_PROBE_TEST_POINTS=1` the probe prints `pcsim: test point NAME` on reaching each; with
/// `PCSIM_PROBE_PAUSE=NAME` it prints `pcsim: paused at test point NAME` there and waits for a signal, so a test
/// can kill it at a known step. Every point is also a check for a pending signal.
pub fn point(name: &str) -> Result<(), ProbeError> {
    static ENV: std::sync::OnceLock<(bool, Option<String>)> = std::sync::OnceLock::new();
    let (show, pause) = ENV.get_or_init(|| {
        (
            std::env::var_os("PCSIM_PROBE_TEST_POINTS").is_some(),
            std::env::var("PCSIM_PROBE_PAUSE").ok().filter(|p| !p.is_empty()),
        )
    });
    if *show {
        eprintln!("pcsim: test point {name}");
    }
    if pause.as_deref() == Some(name) {
        eprintln!("pcsim: paused at test point {name}");
        loop {
            check()?;
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    check()
}

/// Runs a command (its own process group: a Ctrl-C meant for the probe does not reach it; killed with the probe) and
/// returns its output; an interrupt kills it and returns `Interrupted` at once.
pub fn run_command(cmd: &str, args: &[&str]) -> Result<String, ProbeError> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    check()?;
    let mut command = Command::new(cmd);
    // It dies with the probe: a probe killed outright must not leave mkfs writing to a loop device that its
    // recovery is about to detach.
    let parent = std::process::id() as i32;
    // SAFETY: only async-signal-safe calls (prctl, getppid, raise) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
    let child = command
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            ProbeError::Missing(format!(
                "cannot run `{cmd}`: {e}; install it (e.g. `apt-get install -y {}`)",
                host::package_of(cmd)
            ))
        })?;
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = loop {
        match rx.recv_timeout(std::time::Duration::from_millis(5)) {
            Ok(r) => break r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if interrupted() {
                    // SAFETY: killing the process group of our own child (it leads the group).
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(ProbeError::Host(format!("waiting for `{cmd}`: its waiter thread ended")));
            }
        }
    };
    let _ = waiter.join();
    check()?;
    let out = out.map_err(|e| ProbeError::Host(format!("waiting for `{cmd}`: {e}")))?;
    if !out.status.success() {
        return Err(ProbeError::Host(format!(
            "`{cmd} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn undo_runs_newest_first_and_survives_failures() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut u = Undo::new();
        for i in 0..3 {
            let l = log.clone();
            u.push(format!("step {i}"), move || {
                l.lock().unwrap().push(i);
                if i == 1 {
                    Err("boom".into())
                } else {
                    Ok(())
                }
            });
        }
        let errs = u.run();
        assert_eq!(*log.lock().unwrap(), vec![2, 1, 0]);
        assert_eq!(errs, vec!["step 1: boom".to_string()]);
        assert!(u.is_empty());
    }

    #[test]
    fn undo_runs_on_drop() {
        let log = Arc::new(Mutex::new(0));
        {
            let mut u = Undo::new();
            let l = log.clone();
            u.push("x", move || {
                *l.lock().unwrap() += 1;
                Ok(())
            });
        }
        assert_eq!(*log.lock().unwrap(), 1);
    }
}
