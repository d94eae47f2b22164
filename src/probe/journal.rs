//! The crash journal: what the probe is about to change on the host, written down before it changes it, so that
//! a probe killed by SIGKILL (or the OOM killer), which runs none of its undo steps, can be undone afterwards by
//! `pcsim probe --recover` or by the next probe (`recover`).
//!
//! One journal per probe process, `/var/tmp/pcsim-probe-PID-START.journal` (`/run` when /var/tmp is unusable), where
//! START is the process's start time in clock ticks after boot (field 22 of /proc/PID/stat), so a PID reused by
//! another process is not mistaken for the probe. The probe holds an `flock` on its journal while it lives. Text,
//! one line per record, each appended and fsync'd before the change it announces:
//!
//! ```text
//! pcsim-probe-journal v1 pid=4242 start=81236 boot=0b6c...-... command=probe
//! + 1 tree /tmp/.out.partial-4242
//! + 2 mount /sys/kernel/tracing nodev tracefs
//! + 3 tree /var/tmp/pcsim-probe-4242-1
//! + 4 file /var/tmp/pcsim-probe-4242-1/disk0.img
//! + 5 loop-device 200
//! + 6 loop-attach 200 /var/tmp/pcsim-probe-4242-1/disk0.img
//! + 7 sysctls vm.dirty_bytes 0 67108864 vm.dirty_ratio 20 -
//! - 7
//! ```
//!
//! `+ ID CHANGE` announces a change (`change::Change::encode`: a kind, then fields with bytes outside printable
//! ASCII, space and `%` written `%XX`); `- ID` says it was undone. A last line without its newline (the probe died
//! writing it) is ignored. The journal is removed when the probe ends with every change undone; when an undo step
//! failed it stays, and the probe says to run `pcsim probe --recover`.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::change::Change;
use super::ProbeError;

/// Where journals are written, in order of preference (and where recovery looks).
/// `/var/tmp` first: it survives a reboot, as do the backing files the journal lists (a journal under /run would
/// vanish with the reboot and leave them behind).
pub const DIRS: [&str; 2] = ["/var/tmp", "/run"];
const PREFIX: &str = "pcsim-probe-";
const SUFFIX: &str = ".journal";
const MAGIC: &str = "pcsim-probe-journal v1";

/// The process that wrote a journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    /// Start time, clock ticks after boot.
    pub start: u64,
    /// /proc/sys/kernel/random/boot_id of its boot.
    pub boot: String,
    /// `probe` or `calibrate`.
    pub command: String,
}

/// A process's start time (clock ticks after boot), `None` when there is no such process.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold anything: count fields after the last `)`. The state is
    // field 3, the start time field 22.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// This boot's id.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

impl Owner {
    /// This process.
    pub fn me(command: &str) -> Owner {
        let pid = std::process::id();
        Owner { pid, start: start_time(pid).unwrap_or(0), boot: boot_id(), command: command.to_string() }
    }

    /// Whether the process still runs: same boot, and its PID belongs to a process started at the same time.
    pub fn alive(&self) -> bool {
        self.boot == boot_id() && start_time(self.pid) == Some(self.start)
    }

    fn header(&self) -> String {
        format!("{MAGIC} pid={} start={} boot={} command={}", self.pid, self.start, self.boot, self.command)
    }

    fn parse_header(line: &str) -> Result<Owner, String> {
        let rest = line.strip_prefix(MAGIC).ok_or_else(|| format!("not a pcsim probe journal (`{line}`)"))?;
        let mut o = Owner { pid: 0, start: 0, boot: String::new(), command: String::new() };
        for kv in rest.split_ascii_whitespace() {
            match kv.split_once('=') {
                Some(("pid", v)) => o.pid = v.parse().map_err(|_| format!("bad pid `{v}`"))?,
                Some(("start", v)) => o.start = v.parse().map_err(|_| format!("bad start time `{v}`"))?,
                Some(("boot", v)) => o.boot = v.to_string(),
                Some(("command", v)) => o.command = v.to_string(),
                _ => {}
            }
        }
        if o.pid == 0 {
            return Err(format!("no pid in `{line}`"));
        }
        Ok(o)
    }

    /// The journal's file name.
    fn file_name(&self) -> String {
        format!("{PREFIX}{}-{}{SUFFIX}", self.pid, self.start)
    }
}

/// Whether a file name is a journal's.
pub fn is_journal_name(name: &str) -> bool {
    name.strip_prefix(PREFIX).and_then(|r| r.strip_suffix(SUFFIX)).is_some_and(|m| {
        m.split_once('-').is_some_and(|(p, s)| {
            !p.is_empty()
                && !s.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && s.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// A journal read back.
#[derive(Clone, Debug)]
pub struct Contents {
    pub owner: Owner,
    /// Changes announced and not marked undone, in the order they were made.
    pub pending: Vec<(u64, Change)>,
    /// Lines that could not be read (an undo the recovery cannot do: the journal is kept).
    pub bad: Vec<String>,
}

/// Reads a journal's text.
pub fn parse(text: &str) -> Result<Contents, String> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    // The last piece has no newline: empty, or a line cut short by the probe's death.
    lines.pop();
    let Some(first) = lines.first() else { return Err("empty journal".into()) };
    let owner = Owner::parse_header(first)?;
    let mut pending: Vec<(u64, Change)> = Vec::new();
    let mut done = BTreeSet::new();
    let mut bad = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(1) {
        let parsed = if let Some(rest) = line.strip_prefix("+ ") {
            rest.split_once(' ')
                .ok_or_else(|| "no change".to_string())
                .and_then(|(id, c)| Ok((id.parse::<u64>().map_err(|_| format!("bad id `{id}`"))?, Change::decode(c)?)))
                .map(|e| pending.push(e))
        } else if let Some(id) = line.strip_prefix("- ") {
            id.parse::<u64>()
                .map(|id| {
                    done.insert(id);
                })
                .map_err(|_| format!("bad id `{id}`"))
        } else {
            Err("neither `+ ID CHANGE` nor `- ID`".to_string())
        };
        if let Err(e) = parsed {
            bad.push(format!("line {}: {e}: `{line}`", i + 1));
        }
    }
    pending.retain(|(id, _)| !done.contains(id));
    Ok(Contents { owner, pending, bad })
}

/// Appends one line and makes it durable.
pub fn append_line(file: &mut File, line: &str) -> std::io::Result<()> {
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_data()
}

/// Takes the journal's `flock` without waiting; false when another process holds it (a live probe, or a recovery).
pub fn try_lock(file: &File) -> bool {
    // SAFETY: flock on our own descriptor.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// The journals present on the host (each directory of `dirs`), sorted.
pub fn list(dirs: &[&Path]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                if e.file_name().to_str().is_some_and(is_journal_name) && e.path().is_file() {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out
}

/// This process's journal, while open.
struct Current {
    file: File,
    path: PathBuf,
    next: u64,
    pending: BTreeSet<u64>,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

fn current() -> std::sync::MutexGuard<'static, Option<Current>> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps this process's journal open; closing it (drop) removes the file when every change was undone.
pub struct Journal {
    owns: bool,
}

impl Journal {
    /// The journal's path.
    pub fn path(&self) -> Option<PathBuf> {
        current().as_ref().map(|c| c.path.clone())
    }
}

/// Creates this process's journal under the first usable directory of `DIRS`, locked and with its header written.
/// A second call while one is open shares it.
pub fn open(command: &str) -> Result<Journal, ProbeError> {
    let mut cur = current();
    if cur.is_some() {
        return Ok(Journal { owns: false });
    }
    let owner = Owner::me(command);
    let mut errors = Vec::new();
    for dir in DIRS {
        let path = Path::new(dir).join(owner.file_name());
        let file = OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) => {
                errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        if !try_lock(&file) {
            let _ = std::fs::remove_file(&path);
            errors.push(format!("{}: locked by another process", path.display()));
            continue;
        }
        if let Err(e) = append_line(&mut file, &owner.header()) {
            let _ = std::fs::remove_file(&path);
            errors.push(format!("writing {}: {e}", path.display()));
            continue;
        }
        // The new name itself durable too (/var/tmp is on disk).
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        *cur = Some(Current { file, path, next: 1, pending: BTreeSet::new() });
        return Ok(Journal { owns: true });
    }
    Err(ProbeError::Host(format!("cannot create the probe's crash journal: {}", errors.join("; "))))
}

/// Announces a change about to be made; returns its id (`None` when no journal is open: unit tests).
pub fn append(change: &Change) -> Result<Option<u64>, ProbeError> {
    let mut cur = current();
    let Some(c) = cur.as_mut() else { return Ok(None) };
    let id = c.next;
    append_line(&mut c.file, &format!("+ {id} {}", change.encode())).map_err(|e| {
        ProbeError::Host(format!("writing the crash journal {}: {e}; nothing was changed for it", c.path.display()))
    })?;
    c.next += 1;
    c.pending.insert(id);
    Ok(Some(id))
}

/// Marks a change undone (or never made). A failure to write it only means a later recovery looks again.
pub fn done(id: Option<u64>) {
    let Some(id) = id else { return };
    let mut cur = current();
    if let Some(c) = cur.as_mut() {
        if append_line(&mut c.file, &format!("- {id}")).is_ok() {
            c.pending.remove(&id);
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if !self.owns {
            return;
        }
        let Some(c) = current().take() else { return };
        if c.pending.is_empty() {
            let _ = std::fs::remove_file(&c.path);
        } else {
            eprintln!(
                "pcsim: warning: {} change(s) to the host could not be undone; they are listed in {}: run \
                 `pcsim probe --recover` once the cause is fixed",
                c.pending.len(),
                c.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_reads_back_its_pending_changes() {
        let me = Owner::me("probe");
        let text =
            format!("{}\n+ 1 tree /tmp/x\n+ 2 loop-device 200\n- 2\n+ 3 file /tmp/x/a%20b\n+ 4 loop-dev", me.header());
        let c = parse(&text).unwrap();
        assert_eq!(c.owner, me);
        assert_eq!(
            c.pending,
            vec![(1, Change::Tree("/tmp/x".into())), (3, Change::File("/tmp/x/a b".into()))],
            "the cut-off last line is ignored"
        );
        assert!(c.bad.is_empty());
        let c = parse(&format!("{}\n+ 1 warp 9\nnonsense\n", me.header())).unwrap();
        assert_eq!(c.bad.len(), 2, "{:?}", c.bad);
        assert!(parse("").is_err());
        assert!(parse("hello\n").is_err());
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = Owner::me("probe");
        assert!(me.start > 0);
        assert!(me.alive());
        assert!(!Owner { start: me.start + 1, ..me.clone() }.alive(), "same PID, another start time");
        assert!(!Owner { boot: "another-boot".into(), ..me.clone() }.alive());
        assert!(Owner::parse_header(&me.header()).unwrap() == me);
    }

    #[test]
    fn journal_names_are_recognised() {
        assert!(is_journal_name("pcsim-probe-42-123.journal"));
        for n in ["pcsim-probe-42-1", "pcsim-probe-42.journal", "pcsim-probe-x-1.journal", "pcsim-probe.lock"] {
            assert!(!is_journal_name(n), "{n}");
        }
    }
}
