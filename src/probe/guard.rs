//! Leaving the host as it was found: an undo stack run on every exit path, and signal handling.
//!
//! Every change the probe makes to the host (a mount, a loop device, a tracefs instance, a sysctl, a cgroup, a
//! scratch directory) is followed at once by an `Undo::push` of the action that reverses it. The stack runs in
//! reverse order when the probe ends: normally, on error (`?` unwinds to the owner), on panic (Drop), and on
//! SIGINT/SIGTERM/SIGHUP, whose handler only sets a flag that the probe and its task threads poll between steps and
//! between operations, so the same path runs. (SIGKILL cannot be caught; see README "Probe safety".)

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

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
pub fn check() -> Result<(), super::ProbeError> {
    match signal() {
        Some(sig) => Err(super::ProbeError::Interrupted(sig)),
        None => Ok(()),
    }
}

type Action = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// The undo stack.
#[derive(Default)]
pub struct Undo {
    steps: Vec<(String, Action)>,
}

impl Undo {
    pub fn new() -> Self {
        Undo::default()
    }

    /// Records how to reverse a change just made.
    pub fn push(&mut self, what: impl Into<String>, f: impl FnOnce() -> Result<(), String> + Send + 'static) {
        self.steps.push((what.into(), Box::new(f)));
    }

    /// Runs every step, newest first; returns the failures (each step runs even if an earlier one failed).
    pub fn run(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        while let Some((what, f)) = self.steps.pop() {
            if let Err(e) = f() {
                errors.push(format!("{what}: {e}"));
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
