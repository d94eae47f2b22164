//! The workload in its own process, for runs with a memory cgroup limit (see `cgroup`): the probe re-executes
//! itself as `pcsim __probe-worker`, the worker joins the cgroup, says `ready`, waits for `go T0`, runs the tasks
//! (`runner::run_all`) and reports one `outcome ...` line per task. An interrupt reaching the probe is forwarded.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::runner::{self, TaskOutcome};
use super::{guard, host, ProbeError};
use crate::scenario::Scenario;

/// Kills and reaps the worker if the parent leaves early (so nothing keeps the scratch mount busy).
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Parent side: runs the scenario's tasks in a worker process inside `memcg`; records the cgroup's charge when the
/// worker has joined it, just before the workload starts, into `start`.
pub fn run(
    sc: &Scenario,
    files: &[PathBuf],
    ops_dir: &Path,
    memcg: &super::cgroup::Memcg,
    start: &mut super::cgroup::StartCharge,
) -> Result<(u64, Vec<TaskOutcome>), ProbeError> {
    let procs_file = memcg.procs_file();
    let exe = std::env::current_exe().map_err(|e| ProbeError::Host(format!("locating the pcsim binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg("__probe-worker")
        .arg("--scenario")
        .arg(&sc.source)
        .arg("--sha256")
        .arg(&sc.sha256)
        .arg("--ops-dir")
        .arg(ops_dir)
        .arg("--cgroup-procs")
        .arg(procs_file);
    for f in files {
        cmd.arg("--file").arg(f);
    }
    // The worker dies with the probe: a probe killed outright must not leave it running in the scratch filesystem.
    let parent = std::process::id() as i32;
    // SAFETY: only async-signal-safe calls (prctl, getppid, raise) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
    let mut child = Reap(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| ProbeError::Host(format!("starting the workload process: {e}")))?,
    );
    let child_id = child.0.id();
    let mut stdin = child.0.stdin.take().expect("piped");
    let stdout = child.0.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut t0 = None;
    let mut outcomes = Vec::new();
    let mut forwarded = false;
    let status = loop {
        while let Ok(line) = rx.try_recv() {
            if line == "ready" && t0.is_none() {
                *start = super::cgroup::StartCharge { usage: memcg.usage(), stat: memcg.stat() };
                let start = super::clock::mono_ns();
                t0 = Some(start);
                let _ = writeln!(stdin, "go {start}");
                let _ = stdin.flush();
            } else if let Some(o) = runner::parse_outcome(&line) {
                outcomes.push(o);
            }
        }
        if guard::interrupted() && !forwarded {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child_id as i32, libc::SIGINT) };
            forwarded = true;
        }
        match child.0.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(ProbeError::Host(format!("waiting for the workload process: {e}"))),
        }
    };
    let _ = reader.join();
    while let Ok(line) = rx.try_recv() {
        if let Some(o) = runner::parse_outcome(&line) {
            outcomes.push(o);
        }
    }
    guard::check()?;
    if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return Err(ProbeError::Host(format!(
            "the workload process was killed by signal {sig}{}",
            if sig == libc::SIGKILL { " (SIGKILL: the OOM killer, or someone else)" } else { "" }
        )));
    }
    if !status.success() {
        return Err(ProbeError::Host(format!("the workload process failed ({status}); its error is above")));
    }
    let t0 = t0.ok_or_else(|| ProbeError::Host("the workload process never became ready".into()))?;
    Ok((t0, outcomes))
}

/// Child side (`pcsim __probe-worker`).
pub fn main(
    scenario: &Path,
    sha256: &str,
    ops_dir: &Path,
    procs_file: &Path,
    files: &[PathBuf],
) -> Result<(), ProbeError> {
    guard::install_signal_handlers();
    let sc = Scenario::load(scenario).map_err(|e| ProbeError::Refused(e.to_string()))?;
    if sc.sha256 != sha256 {
        return Err(ProbeError::Refused(format!("{} changed while the probe was running", scenario.display())));
    }
    if files.len() != sc.files.len() {
        return Err(ProbeError::Refused("worker: one --file per scenario file is required".into()));
    }
    host::write(procs_file, &std::process::id().to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").and_then(|_| out.flush()).map_err(|e| ProbeError::Host(format!("worker stdout: {e}")))?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| ProbeError::Host(format!("worker stdin: {e}")))?;
    let t0: u64 = line
        .trim()
        .strip_prefix("go ")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ProbeError::Host(format!("worker: expected `go T0`, got `{}`", line.trim())))?;
    guard::point("worker")?;
    let (_, outcomes) = runner::run_all(&sc, files, ops_dir, Some(t0))?;
    for o in &outcomes {
        writeln!(out, "{}", runner::format_outcome(o)).map_err(|e| ProbeError::Host(format!("worker stdout: {e}")))?;
    }
    out.flush().map_err(|e| ProbeError::Host(format!("worker stdout: {e}")))?;
    guard::check()
}
