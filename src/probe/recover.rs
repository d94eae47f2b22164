//! Recovering after a probe that could not undo its changes (SIGKILL, the OOM killer, a power-cut process): `pcsim
//! probe --recover`, and the start of every probe (`begin`), find the crash journals (`journal`) of probe processes
//! that are gone and undo what they list, newest first.
//!
//! A journal is recovered only when its process is dead: its `flock` is free (a live probe holds its own) and no
//! process with its PID started at its start time on this boot. Every undo step checks the host first (see
//! `change`), so a change that was never made, or was undone already, or was replaced by someone else's, is left
//! alone; a recovery cut short is simply run again. After a reboot only the files are left to remove (mounts, loop
//! devices, sysctls, throttle rules, cgroups and tracefs instances went with the old kernel).

use std::fs::{File, OpenOptions};
use std::path::Path;

use super::journal::{self, Journal};
use super::lock::host_lock;
use super::{guard, ProbeError};

/// What a recovery found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Journals of dead probes fully undone (and removed).
    pub recovered: usize,
    /// Journals left alone because their probe still runs.
    pub live: usize,
    /// Undo steps that failed, and journals that could not be read (kept for another try).
    pub failures: Vec<String>,
}

/// Recovers every dead probe's journal in `dirs`, telling `say` what it restored, line by line.
pub fn recover_dead(dirs: &[&Path], say: &mut dyn FnMut(&str)) -> Summary {
    let mut sum = Summary::default();
    for path in journal::list(dirs) {
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                sum.failures.push(format!("opening {}: {e}", path.display()));
                continue;
            }
        };
        if !journal::try_lock(&file) {
            say(&format!("{} belongs to a running probe: left alone", path.display()));
            sum.live += 1;
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                sum.failures.push(format!("reading {}: {e}", path.display()));
                continue;
            }
        };
        let contents = match journal::parse(&text) {
            Ok(c) => c,
            Err(e) => {
                sum.failures.push(format!("{}: {e}; check it and remove it by hand", path.display()));
                continue;
            }
        };
        let owner = &contents.owner;
        if owner.alive() {
            say(&format!("{} belongs to a running probe (pid {}): left alone", path.display(), owner.pid));
            sum.live += 1;
            continue;
        }
        let other_boot = owner.boot != journal::boot_id();
        say(&format!(
            "recovering after `pcsim {}` (pid {}, {}): {} change(s) to undo, from {}",
            owner.command,
            owner.pid,
            if other_boot { "before the last reboot" } else { "no longer running" },
            contents.pending.len(),
            path.display()
        ));
        let before = sum.failures.len();
        for (id, change) in contents.pending.iter().rev() {
            let text = if other_boot && change.is_kernel_state() {
                Ok(format!("{change}: gone with the reboot"))
            } else {
                change.undo().map(|o| o.text().to_string())
            };
            match text {
                Ok(t) => {
                    say(&format!("  {t}"));
                    let _ = journal::append_line(&mut file, &format!("- {id}"));
                }
                Err(e) => {
                    say(&format!("  FAILED: {change}: {e}"));
                    sum.failures.push(format!("{change}: {e}"));
                }
            }
        }
        for b in &contents.bad {
            say(&format!("  FAILED: {}: {b}", path.display()));
            sum.failures.push(format!("{}: {b}", path.display()));
        }
        if sum.failures.len() == before {
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    sum.recovered += 1;
                    say("  done; journal removed");
                }
                Err(e) => sum.failures.push(format!("removing {}: {e}", path.display())),
            }
        } else {
            say(&format!("  kept {} for another try", path.display()));
        }
    }
    sum
}

fn journal_dirs() -> Vec<&'static Path> {
    journal::DIRS.iter().map(Path::new).collect()
}

/// `pcsim probe --recover`: waits for a running probe to finish (the host lock), then recovers every dead one.
/// Fails, listing them, when some changes could not be undone.
pub fn recover(say: &mut dyn FnMut(&str)) -> Result<Summary, ProbeError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ProbeError::Missing(
            "recovering after a probe needs root (it unmounts, removes loop devices and restores sysctls); run it \
             as root, e.g. `sudo pcsim probe --recover`"
                .into(),
        ));
    }
    guard::install_signal_handlers();
    let _lock = host_lock()?;
    let sum = recover_dead(&journal_dirs(), say);
    if !sum.failures.is_empty() {
        return Err(ProbeError::Host(format!(
            "{} change(s) could not be undone: {}; the journal is kept: fix the cause and run `pcsim probe \
             --recover` again",
            sum.failures.len(),
            sum.failures.join("; ")
        )));
    }
    if sum.recovered == 0 && sum.live == 0 {
        say("nothing to recover: no journal of a killed probe on this host");
    }
    Ok(sum)
}

/// What a probe holds while it runs: its crash journal and the host lock (dropped in that order).
pub struct Session {
    _journal: Journal,
    _lock: File,
}

/// Starts a probe (or calibration) run: takes the host lock, recovers after dead probes (saying so on stderr; a
/// recovery that fails stops the run, as the host is not as it should be), and opens the journal.
pub fn begin(command: &str) -> Result<Session, ProbeError> {
    let lock = host_lock()?;
    let sum = recover_dead(&journal_dirs(), &mut |l| eprintln!("pcsim: {l}"));
    if !sum.failures.is_empty() {
        return Err(ProbeError::Host(format!(
            "a killed probe's changes to this host could not all be undone ({}); run `pcsim probe --recover` \
             for the details, fix the cause, and run it again",
            sum.failures.join("; ")
        )));
    }
    let journal = journal::open(command)?;
    Ok(Session { _journal: journal, _lock: lock })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::change::Change;
    use std::io::Write;

    /// A PID and start time of a process that has exited.
    fn dead_process() -> (u32, u64) {
        let mut c = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        let pid = c.id();
        let start = journal::start_time(pid).unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
        (pid, start)
    }

    fn write_journal(dir: &Path, pid: u32, start: u64, body: &str) -> std::path::PathBuf {
        let p = dir.join(format!("pcsim-probe-{pid}-{start}.journal"));
        let mut f = File::create(&p).unwrap();
        write!(f, "pcsim-probe-journal v1 pid={pid} start={start} boot={} command=probe\n{body}", journal::boot_id())
            .unwrap();
        p
    }

    #[test]
    fn a_dead_probes_files_are_removed_in_reverse_and_a_live_ones_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work");
        std::fs::create_dir(&work).unwrap();
        std::fs::write(work.join("disk0.img"), "x").unwrap();
        let (pid, start) = dead_process();
        let enc = |c: Change| c.encode();
        let dead = write_journal(
            tmp.path(),
            pid,
            start,
            &format!(
                "+ 1 {}\n+ 2 {}\n+ 3 {}\n- 3\n",
                enc(Change::Tree(work.clone())),
                enc(Change::File(work.join("disk0.img"))),
                enc(Change::File(tmp.path().join("undone-already")))
            ),
        );
        std::fs::write(tmp.path().join("undone-already"), "kept: its change is marked undone").unwrap();
        // This process: alive.
        let me = journal::Owner::me("probe");
        let live_file = tmp.path().join("live-file");
        std::fs::write(&live_file, "x").unwrap();
        let live =
            write_journal(tmp.path(), me.pid, me.start, &format!("+ 1 {}\n", enc(Change::File(live_file.clone()))));
        let mut said = Vec::new();
        let sum = recover_dead(&[tmp.path()], &mut |l| said.push(l.to_string()));
        let said = said.join("\n");
        assert!(sum.failures.is_empty(), "{:?}\n{said}", sum.failures);
        assert_eq!((sum.recovered, sum.live), (1, 1), "{said}");
        assert!(!work.exists() && !dead.exists(), "{said}");
        assert!(tmp.path().join("undone-already").exists());
        assert!(live.exists() && live_file.exists(), "a live probe's journal is left alone: {said}");
        // The file came first in reverse order, then the tree.
        let (f, t) = (said.find("disk0.img").unwrap(), said.find(&format!("removed {}\n", work.display())).unwrap());
        assert!(f < t, "{said}");
        // Idempotent: nothing left.
        let sum = recover_dead(&[tmp.path()], &mut |_| {});
        assert_eq!((sum.recovered, sum.live, sum.failures.len()), (0, 1, 0));
    }

    #[test]
    fn after_a_reboot_only_files_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work");
        std::fs::create_dir(&work).unwrap();
        std::fs::write(work.join("disk0.img"), "x").unwrap();
        // The same PID and start time as this live process, but another boot: dead.
        let me = journal::Owner::me("probe");
        let p = tmp.path().join(format!("pcsim-probe-{}-{}.journal", me.pid, me.start));
        let body = [
            Change::Tree(work.clone()),
            Change::File(work.join("disk0.img")),
            // Kernel state of the old boot: never touched (this loop device, this mount may be someone else's now).
            Change::LoopDevice { index: 7 },
            Change::Mount { target: tmp.path().into(), source: "nodev".into(), fstype: "tracefs".into() },
        ]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("+ {} {}\n", i + 1, c.encode()))
        .collect::<String>();
        std::fs::write(
            &p,
            format!(
                "pcsim-probe-journal v1 pid={} start={} boot=an-earlier-boot command=probe\n{body}",
                me.pid, me.start
            ),
        )
        .unwrap();
        let mut said = Vec::new();
        let sum = recover_dead(&[tmp.path()], &mut |l| said.push(l.to_string()));
        let said = said.join("\n");
        assert!(sum.failures.is_empty(), "{:?}\n{said}", sum.failures);
        assert_eq!(sum.recovered, 1, "{said}");
        assert!(said.contains("before the last reboot") && said.contains("gone with the reboot"), "{said}");
        assert!(!work.exists() && !p.exists(), "{said}");
    }

    #[test]
    fn an_unreadable_journal_is_kept_and_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let (pid, start) = dead_process();
        let p = write_journal(tmp.path(), pid, start, "+ 1 warp-drive 9\n");
        let sum = recover_dead(&[tmp.path()], &mut |_| {});
        assert_eq!(sum.failures.len(), 1, "{:?}", sum.failures);
        assert!(sum.failures[0].contains("warp-drive"), "{:?}", sum.failures);
        assert!(p.exists());
        std::fs::write(&p, "garbage\n").unwrap();
        let sum = recover_dead(&[tmp.path()], &mut |_| {});
        assert!(sum.failures[0].contains("not a pcsim probe journal"), "{:?}", sum.failures);
    }
}
