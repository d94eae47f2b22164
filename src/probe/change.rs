//! The changes the probe makes to the host, each with the step that undoes it.
//!
//! A `Change` is written to the crash journal (`journal`) before it is made, and undone either by the probe itself
//! (its undo stack, `guard::Undo`) or, after the probe was killed, by `pcsim probe --recover` (`recover`): the same
//! code in both cases. Every undo step therefore looks at the host first and acts only on what is still the probe's
//! (the change may never have been made, may be undone already, or may have been replaced by someone else since):
//! a mount is unmounted only if that filesystem is still mounted there, a loop device is detached only while it is
//! bound to the recorded backing file, a sysctl is restored only while it has the probe's value, and so on. Running
//! a step twice is harmless.
//!
//! This module depends on `host` only, so the modules that make the changes (scratch, sysctl, throttle, cgroup,
//! tracefs, sampler) and the recovery can all use it.

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::host;

/// One vm sysctl the probe saved before writing the scenario's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knob {
    /// Dotted name, `vm.dirty_bytes`.
    pub name: String,
    /// The host's value before the probe.
    pub old: u64,
    /// The value the probe writes; `None` for a twin saved only because writing its partner changes it.
    pub new: Option<u64>,
}

/// A change to the host, as recorded in the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A directory tree the probe creates (a run's work directory, the partial output directory), removed whole;
    /// the removal never crosses into another filesystem (a scratch filesystem still mounted inside stops it).
    Tree(PathBuf),
    /// A directory the probe creates (a mount point, a missing parent of the output directory), removed if empty.
    Dir(PathBuf),
    /// A file the probe creates (a backing file).
    File(PathBuf),
    /// A mount(2) of `source` (`fstype`) on `target`.
    Mount { target: PathBuf, source: String, fstype: String },
    /// A loop device created with LOOP_CTL_ADD (`/dev/loopN` and its node).
    LoopDevice { index: u32 },
    /// A loop device bound to a backing file (losetup).
    LoopAttach { index: u32, backing: PathBuf },
    /// A tracefs instance, `instances/NAME` of any tracefs mount.
    TraceInstance { name: String },
    /// vm sysctls written with the scenario's values.
    Sysctls { knobs: Vec<Knob> },
    /// A blk-throttle write rule `dev bps` in the cgroup v1 file `file`, where `before` was in force.
    Throttle { file: PathBuf, dev: String, before: u64, bps: u64 },
    /// A memory cgroup, with the workload process it may still hold.
    Cgroup { dir: PathBuf },
    /// A control file (a tracefs setting such as `current_tracer`, a device's `trace/enable`) written with `value`
    /// where `before` was in force (as the file takes it back: `trace_clock`'s bracketed clock).
    Setting { file: PathBuf, before: String, value: String },
}

/// What an undo step found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The change was undone (what was done).
    Undone(String),
    /// Nothing left to undo: the change was never made, or is undone already.
    Unchanged(String),
    /// The host no longer holds the probe's change but someone else's state, which is left as it is.
    Foreign(String),
}

impl Outcome {
    pub fn text(&self) -> &str {
        match self {
            Outcome::Undone(t) | Outcome::Unchanged(t) | Outcome::Foreign(t) => t,
        }
    }
}

impl fmt::Display for Change {
    /// The undo step, for messages: "unmount /var/tmp/...".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Tree(p) => write!(f, "remove {}", p.display()),
            Change::Dir(p) => write!(f, "remove directory {}", p.display()),
            Change::File(p) => write!(f, "remove {}", p.display()),
            Change::Mount { target, fstype, .. } => write!(f, "unmount {fstype} from {}", target.display()),
            Change::LoopDevice { index } => write!(f, "remove loop device {index}"),
            Change::LoopAttach { index, .. } => write!(f, "detach /dev/loop{index}"),
            Change::TraceInstance { name } => write!(f, "remove tracefs instance {name}"),
            Change::Sysctls { .. } => write!(f, "restore vm sysctls"),
            Change::Throttle { dev, .. } => write!(f, "remove the blkio write throttle on {dev}"),
            Change::Cgroup { dir } => write!(f, "remove cgroup {}", dir.display()),
            Change::Setting { file, before, .. } => write!(f, "restore {} to {before}", file.display()),
        }
    }
}

// ---------------------------------------------------------------- journal encoding

/// A field of a journal line: bytes outside printable ASCII, space and `%` as `%XX`, so any path fits.
fn enc(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b <= b' ' || b >= 0x7f || b == b'%' {
            s.push_str(&format!("%{b:02X}"));
        } else {
            s.push(b as char);
        }
    }
    if s.is_empty() {
        s.push('%');
        s.push('-');
    }
    s
}

fn dec(field: &str) -> Result<Vec<u8>, String> {
    if field == "%-" {
        return Ok(Vec::new());
    }
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = field.get(i + 1..i + 3).ok_or_else(|| format!("bad escape in `{field}`"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape in `{field}`"))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn enc_path(p: &Path) -> String {
    enc(p.as_os_str().as_bytes())
}

fn dec_path(f: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(OsString::from_vec(dec(f)?)))
}

fn dec_str(f: &str) -> Result<String, String> {
    String::from_utf8(dec(f)?).map_err(|_| format!("`{f}` is not UTF-8"))
}

fn dec_u64(f: &str) -> Result<u64, String> {
    f.parse().map_err(|_| format!("`{f}` is not a number"))
}

impl Change {
    /// The change as one journal line's fields (no newline): its kind, then its values.
    pub fn encode(&self) -> String {
        match self {
            Change::Tree(p) => format!("tree {}", enc_path(p)),
            Change::Dir(p) => format!("dir {}", enc_path(p)),
            Change::File(p) => format!("file {}", enc_path(p)),
            Change::Mount { target, source, fstype } => {
                format!("mount {} {} {}", enc_path(target), enc(source.as_bytes()), enc(fstype.as_bytes()))
            }
            Change::LoopDevice { index } => format!("loop-device {index}"),
            Change::LoopAttach { index, backing } => format!("loop-attach {index} {}", enc_path(backing)),
            Change::TraceInstance { name } => format!("trace-instance {}", enc(name.as_bytes())),
            Change::Sysctls { knobs } => {
                let mut s = String::from("sysctls");
                for k in knobs {
                    let new = k.new.map_or("-".to_string(), |v| v.to_string());
                    s.push_str(&format!(" {} {} {new}", enc(k.name.as_bytes()), k.old));
                }
                s
            }
            Change::Throttle { file, dev, before, bps } => {
                format!("throttle {} {} {before} {bps}", enc_path(file), enc(dev.as_bytes()))
            }
            Change::Cgroup { dir } => format!("cgroup {}", enc_path(dir)),
            Change::Setting { file, before, value } => {
                format!("setting {} {} {}", enc_path(file), enc(before.as_bytes()), enc(value.as_bytes()))
            }
        }
    }

    /// Reads what `encode` wrote.
    pub fn decode(line: &str) -> Result<Change, String> {
        let f: Vec<&str> = line.split(' ').collect();
        let want = |n: usize| {
            if f.len() == n {
                Ok(())
            } else {
                Err(format!("`{line}`: {} fields, expected {n}", f.len()))
            }
        };
        match f[0] {
            "tree" => want(2).and_then(|_| Ok(Change::Tree(dec_path(f[1])?))),
            "dir" => want(2).and_then(|_| Ok(Change::Dir(dec_path(f[1])?))),
            "file" => want(2).and_then(|_| Ok(Change::File(dec_path(f[1])?))),
            "mount" => want(4).and_then(|_| {
                Ok(Change::Mount { target: dec_path(f[1])?, source: dec_str(f[2])?, fstype: dec_str(f[3])? })
            }),
            "loop-device" => want(2).and_then(|_| Ok(Change::LoopDevice { index: dec_u64(f[1])? as u32 })),
            "loop-attach" => {
                want(3).and_then(|_| Ok(Change::LoopAttach { index: dec_u64(f[1])? as u32, backing: dec_path(f[2])? }))
            }
            "trace-instance" => want(2).and_then(|_| Ok(Change::TraceInstance { name: dec_str(f[1])? })),
            "sysctls" => {
                if f.len() % 3 != 1 {
                    return Err(format!("`{line}`: sysctls take name, old and new value triples"));
                }
                let mut knobs = Vec::new();
                for t in f[1..].chunks(3) {
                    let new = if t[2] == "-" { None } else { Some(dec_u64(t[2])?) };
                    knobs.push(Knob { name: dec_str(t[0])?, old: dec_u64(t[1])?, new });
                }
                Ok(Change::Sysctls { knobs })
            }
            "throttle" => want(5).and_then(|_| {
                Ok(Change::Throttle {
                    file: dec_path(f[1])?,
                    dev: dec_str(f[2])?,
                    before: dec_u64(f[3])?,
                    bps: dec_u64(f[4])?,
                })
            }),
            "cgroup" => want(2).and_then(|_| Ok(Change::Cgroup { dir: dec_path(f[1])? })),
            "setting" => want(4).and_then(|_| {
                Ok(Change::Setting { file: dec_path(f[1])?, before: dec_str(f[2])?, value: dec_str(f[3])? })
            }),
            other => Err(format!("unknown change `{other}`")),
        }
    }

    /// Whether the change lives only in the running kernel (gone after a reboot), as opposed to files on disk.
    pub fn is_kernel_state(&self) -> bool {
        !matches!(self, Change::Tree(_) | Change::Dir(_) | Change::File(_))
    }

    /// Whether this is a scratch filesystem's mount (the teardown's test stop point follows its undo).
    pub fn is_scratch_mount(&self) -> bool {
        matches!(self, Change::Mount { fstype, .. } if fstype != "tracefs" && fstype != "debugfs")
    }

    /// Undoes the change if the host still holds it (see the module comment).
    pub fn undo(&self) -> Result<Outcome, String> {
        match self {
            Change::Tree(p) => remove_tree(p),
            Change::Dir(p) => remove_empty_dir(p),
            Change::File(p) => remove_file(p),
            Change::Mount { target, source, fstype } => unmount(target, source, fstype),
            Change::LoopDevice { index } => remove_loop_device(*index),
            Change::LoopAttach { index, backing } => detach_loop(*index, backing),
            Change::TraceInstance { name } => remove_trace_instance(name),
            Change::Sysctls { knobs } => restore_sysctls(knobs),
            Change::Throttle { file, dev, before, bps } => remove_throttle(file, dev, *before, *bps),
            Change::Cgroup { dir } => remove_cgroup(dir),
            Change::Setting { file, before, value } => restore_setting(file, before, value),
        }
    }
}

fn cstr(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("{} has a NUL byte", p.display()))
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

// ---------------------------------------------------------------- files

fn remove_file(p: &Path) -> Result<Outcome, String> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(Outcome::Undone(format!("removed {}", p.display()))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Outcome::Unchanged(format!("{} is gone", p.display()))),
        Err(e) => Err(format!("removing {}: {e}", p.display())),
    }
}

fn remove_empty_dir(p: &Path) -> Result<Outcome, String> {
    match std::fs::remove_dir(p) {
        Ok(()) => Ok(Outcome::Undone(format!("removed {}", p.display()))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Outcome::Unchanged(format!("{} is gone", p.display()))),
        Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) || e.raw_os_error() == Some(libc::EEXIST) => {
            Ok(Outcome::Foreign(format!("{} is not empty: left as it is", p.display())))
        }
        Err(e) => Err(format!("removing {}: {e}", p.display())),
    }
}

fn remove_tree(p: &Path) -> Result<Outcome, String> {
    let meta = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(Outcome::Unchanged(format!("{} is gone", p.display())));
        }
        Err(e) => return Err(format!("{}: {e}", p.display())),
    };
    if !meta.is_dir() {
        return Err(format!("{} is not a directory: not removed", p.display()));
    }
    remove_tree_on(p, meta.dev())?;
    Ok(Outcome::Undone(format!("removed {}", p.display())))
}

/// Removes `dir` and everything in it on the filesystem `dev`; a directory of another filesystem inside (a mount
/// point still mounted) stops the removal, so nothing under a live mount is ever deleted.
fn remove_tree_on(dir: &Path, dev: u64) -> Result<(), String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for e in rd {
        let e = e.map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let p = e.path();
        let m = std::fs::symlink_metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        if m.is_dir() {
            if m.dev() != dev {
                return Err(format!("{} is a mount point still mounted: not removed", p.display()));
            }
            remove_tree_on(&p, dev)?;
        } else {
            std::fs::remove_file(&p).map_err(|e| format!("removing {}: {e}", p.display()))?;
        }
    }
    std::fs::remove_dir(dir).map_err(|e| format!("removing {}: {e}", dir.display()))
}

// ---------------------------------------------------------------- mounts

/// One line of /proc/self/mountinfo: mount point, filesystem type, source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub target: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The mounts of /proc/self/mountinfo's text, in mount order (the last one at a point is on top).
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else { continue };
        let Some(target) = pre.split(' ').nth(4) else { continue };
        let mut p = post.split(' ');
        let (Some(fstype), Some(source)) = (p.next(), p.next()) else { continue };
        out.push(MountEntry {
            target: PathBuf::from(OsString::from_vec(unescape_mountinfo(target))),
            fstype: fstype.to_string(),
            source: String::from_utf8_lossy(&unescape_mountinfo(source)).into_owned(),
        });
    }
    out
}

/// The host's mounts now.
pub fn mounts() -> Result<Vec<MountEntry>, String> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
    Ok(parse_mountinfo(&text))
}

/// The path as mountinfo shows it (symbolic links resolved), when it exists.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn unmount(target: &Path, source: &str, fstype: &str) -> Result<Outcome, String> {
    let at = canonical(target);
    let all = mounts()?;
    let Some(top) = all.iter().rev().find(|m| m.target == at) else {
        return Ok(Outcome::Unchanged(format!("{} is not mounted", target.display())));
    };
    if top.fstype != fstype || top.source != source {
        return Ok(Outcome::Foreign(format!(
            "{} has {} ({}) mounted, not the probe's {source} ({fstype}): left mounted",
            target.display(),
            top.source,
            top.fstype
        )));
    }
    let c = cstr(&at)?;
    // SAFETY: umount2 with a valid C string.
    if unsafe { libc::umount2(c.as_ptr(), 0) } == 0 {
        return Ok(Outcome::Undone(format!("unmounted {} ({fstype})", target.display())));
    }
    let e = host::errno();
    if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
        return Ok(Outcome::Unchanged(format!("{} is not mounted", target.display())));
    }
    // Busy (a thread of the probe still held a file at an interrupt): detach lazily, so the host is left clean.
    // SAFETY: as above.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
        return Ok(Outcome::Undone(format!("unmounted {} ({fstype}; lazily, it was busy)", target.display())));
    }
    Err(format!("unmounting {}: {e}", target.display()))
}

// ---------------------------------------------------------------- loop devices

pub const LOOP_CTL_ADD: libc::c_ulong = 0x4C80;
const LOOP_CTL_REMOVE: libc::c_ulong = 0x4C81;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
/// The block major of loop devices.
const LOOP_MAJOR: u32 = 7;

/// /dev/loop-control, opened for an ioctl.
pub fn loop_control() -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .map_err(|e| format!("opening /dev/loop-control: {e}; load the loop module (`modprobe loop`)"))
}

/// The backing file a loop device is bound to (without the kernel's ` (deleted)` suffix), `None` when the device
/// does not exist or is unbound.
pub fn loop_backing(index: u32) -> Option<PathBuf> {
    let t = std::fs::read(format!("/sys/block/loop{index}/loop/backing_file")).ok()?;
    let mut t = t.strip_suffix(b"\n").unwrap_or(&t).to_vec();
    if let Some(s) = t.strip_suffix(b" (deleted)") {
        t = s.to_vec();
    }
    Some(PathBuf::from(OsString::from_vec(t)))
}

fn detach_loop(index: u32, backing: &Path) -> Result<Outcome, String> {
    let node = PathBuf::from(format!("/dev/loop{index}"));
    match loop_backing(index) {
        None => return Ok(Outcome::Unchanged(format!("{} is not attached", node.display()))),
        Some(b) if b != backing => {
            return Ok(Outcome::Foreign(format!(
                "{} is attached to {}, not the probe's {}: left attached",
                node.display(),
                b.display(),
                backing.display()
            )))
        }
        Some(_) => {}
    }
    {
        let f = OpenOptions::new().read(true).open(&node).map_err(|e| format!("opening {}: {e}", node.display()))?;
        // SAFETY: an ioctl without argument on an open loop device.
        if unsafe { libc::ioctl(f.as_raw_fd(), LOOP_CLR_FD as _, 0) } != 0 {
            let e = host::errno();
            if e.raw_os_error() != Some(libc::ENXIO) {
                return Err(format!("detaching {} (LOOP_CLR_FD): {e}", node.display()));
            }
        }
        // Our own descriptor keeps the device open: the kernel detaches it when the last one closes (here).
    }
    for _ in 0..200 {
        if loop_backing(index).is_none() {
            return Ok(Outcome::Undone(format!("detached {} from {}", node.display(), backing.display())));
        }
        sleep_ms(10);
    }
    Err(format!("{} is still attached 2 s after LOOP_CLR_FD: something still holds it open", node.display()))
}

fn remove_loop_device(index: u32) -> Result<Outcome, String> {
    let node = PathBuf::from(format!("/dev/loop{index}"));
    let sys = PathBuf::from(format!("/sys/block/loop{index}"));
    let mut did = None;
    if sys.exists() {
        if let Some(b) = loop_backing(index) {
            return Err(format!("{} is still attached to {}: not removed", node.display(), b.display()));
        }
        let ctl = loop_control()?;
        let mut last = None;
        for _ in 0..100 {
            // SAFETY: an ioctl with an integer argument on the loop control device.
            let rc = unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_REMOVE as _, index as libc::c_ulong) };
            if rc >= 0 {
                did = Some(format!("removed {} (LOOP_CTL_REMOVE)", node.display()));
                last = None;
                break;
            }
            let e = host::errno();
            if e.raw_os_error() == Some(libc::ENODEV) || e.raw_os_error() == Some(libc::ENXIO) {
                last = None;
                break;
            }
            // EBUSY while the detach of the device is still settling.
            last = Some(e);
            sleep_ms(20);
        }
        if let Some(e) = last {
            return Err(format!("removing {} (LOOP_CTL_REMOVE): {e}", node.display()));
        }
    }
    // devtmpfs removes the node with the device; a node left behind without its device is removed here.
    for _ in 0..100 {
        if !node.exists() {
            break;
        }
        sleep_ms(10);
    }
    if let Ok(m) = std::fs::symlink_metadata(&node) {
        if !sys.exists() && m.file_type().is_block_device() && libc::major(m.rdev()) == LOOP_MAJOR {
            std::fs::remove_file(&node).map_err(|e| format!("removing the stale node {}: {e}", node.display()))?;
            did = Some(format!("{}removed the stale node {}", did.map_or(String::new(), |d| d + "; "), node.display()));
        }
    }
    Ok(match did {
        Some(d) => Outcome::Undone(d),
        None => Outcome::Unchanged(format!("{} does not exist", node.display())),
    })
}

// ---------------------------------------------------------------- tracefs

fn remove_instance_dir(d: &Path) -> Result<(), String> {
    let _ = std::fs::write(d.join("tracing_on"), "0");
    let _ = std::fs::write(d.join("events/enable"), "0");
    // rmdir may briefly fail with EBUSY while a reader is closing.
    for _ in 0..50 {
        match std::fs::remove_dir(d) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => sleep_ms(20),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("removing {}: {e}", d.display())),
        }
    }
    Err(format!("removing {}: still busy after 1 s", d.display()))
}

/// Instances live in the kernel whether or not tracefs is mounted: the instance is looked for under every tracefs
/// mount, and under a temporary one when there is none.
fn remove_trace_instance(name: &str) -> Result<Outcome, String> {
    let roots: Vec<PathBuf> = mounts()?.into_iter().filter(|m| m.fstype == "tracefs").map(|m| m.target).collect();
    if let Some(d) = roots.iter().map(|r| r.join("instances").join(name)).find(|d| d.is_dir()) {
        remove_instance_dir(&d)?;
        return Ok(Outcome::Undone(format!("removed tracefs instance {name} ({})", d.display())));
    }
    if !roots.is_empty() {
        return Ok(Outcome::Unchanged(format!("no tracefs instance {name}")));
    }
    let base = if Path::new("/run").is_dir() { "/run" } else { "/var/tmp" };
    let mnt = PathBuf::from(format!("{base}/pcsim-tracefs-{}", std::process::id()));
    std::fs::create_dir(&mnt).map_err(|e| format!("creating {}: {e}", mnt.display()))?;
    let c = cstr(&mnt)?;
    let t = CString::new("tracefs").expect("no NUL");
    let n = CString::new("nodev").expect("no NUL");
    // SAFETY: mount(2) with valid C strings.
    let r = if unsafe { libc::mount(n.as_ptr(), c.as_ptr(), t.as_ptr(), 0, std::ptr::null()) } != 0 {
        Err(format!("mounting tracefs on {} to look for instance {name}: {}", mnt.display(), host::errno()))
    } else {
        let d = mnt.join("instances").join(name);
        let r = if d.is_dir() {
            remove_instance_dir(&d).map(|_| Outcome::Undone(format!("removed tracefs instance {name}")))
        } else {
            Ok(Outcome::Unchanged(format!("no tracefs instance {name}")))
        };
        // SAFETY: umount2 with a valid C string.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
            eprintln!("pcsim: warning: unmounting {}: {}", mnt.display(), host::errno());
        }
        r
    };
    let _ = std::fs::remove_dir(&mnt);
    r
}

// ---------------------------------------------------------------- sysctls

/// `dirty_bytes` and `dirty_ratio` are twins (writing one zeroes the other), as are the two background knobs.
pub const TWINS: &[(&str, &str)] =
    &[("vm.dirty_ratio", "vm.dirty_bytes"), ("vm.dirty_background_ratio", "vm.dirty_background_bytes")];

/// `/proc/sys/...` path of a dotted sysctl name.
pub fn sysctl_path(name: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(name.replace('.', "/"))
}

/// One sysctl as an integer.
pub fn sysctl_read(name: &str) -> Result<u64, String> {
    let p = sysctl_path(name);
    let s = std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))?;
    s.split_ascii_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("sysctl {name} = `{}` is not an integer", s.trim()))
}

fn sysctl_write(name: &str, v: u64) -> Result<(), String> {
    std::fs::write(sysctl_path(name), v.to_string()).map_err(|e| format!("writing {v} to {name}: {e}"))
}

/// Restores each group of knobs (a twin pair, or one knob) whose knob the probe wrote still has the probe's value;
/// a group someone changed since is left as it is. For twins, the saved non-zero one is written back, which puts
/// both back as they were.
fn restore_sysctls(knobs: &[Knob]) -> Result<Outcome, String> {
    let by_name: BTreeMap<&str, &Knob> = knobs.iter().map(|k| (k.name.as_str(), k)).collect();
    let mut groups: Vec<Vec<&Knob>> = Vec::new();
    for (a, b) in TWINS {
        let g: Vec<&Knob> = [a, b].iter().filter_map(|n| by_name.get(*n).copied()).collect();
        if !g.is_empty() {
            groups.push(g);
        }
    }
    for k in knobs {
        if !TWINS.iter().any(|(a, b)| k.name == *a || k.name == *b) {
            groups.push(vec![k]);
        }
    }
    let (mut restored, mut foreign, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for g in groups {
        let set: Vec<(&Knob, u64)> = g.iter().filter_map(|k| k.new.map(|n| (*k, n))).collect();
        if set.is_empty() {
            continue;
        }
        let now: Vec<Option<u64>> = set.iter().map(|(k, _)| sysctl_read(&k.name).ok()).collect();
        if !set.iter().zip(&now).any(|((_, n), v)| *v == Some(*n)) {
            // Not the probe's any more: as before the probe (nothing to do), or someone else's value.
            for ((k, n), v) in set.iter().zip(&now) {
                if *v != Some(k.old) {
                    let v = v.map_or("unreadable".to_string(), |v| v.to_string());
                    foreign.push(format!("{} is {v}, not the probe's {n}: left as it is", k.name));
                }
            }
            continue;
        }
        let target: Vec<&Knob> = if g.len() == 2 {
            // Twins: write the one that was non-zero (the bytes knob when both were saved and it was set).
            vec![if g[1].old != 0 { g[1] } else { g[0] }]
        } else {
            g.clone()
        };
        for k in target {
            if let Err(e) = sysctl_write(&k.name, k.old) {
                errors.push(e);
                continue;
            }
        }
        for k in &g {
            match sysctl_read(&k.name) {
                Ok(v) if v == k.old => restored.push(format!("{}={}", k.name, k.old)),
                Ok(v) => errors.push(format!("{} reads {v} after restoring {}", k.name, k.old)),
                Err(e) => errors.push(e),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let mut text = Vec::new();
    if !restored.is_empty() {
        text.push(format!("restored {}", restored.join(" ")));
    }
    text.extend(foreign.iter().cloned());
    Ok(match (restored.is_empty(), foreign.is_empty()) {
        (false, _) => Outcome::Undone(text.join("; ")),
        (true, false) => Outcome::Foreign(text.join("; ")),
        (true, true) => Outcome::Unchanged("the vm sysctls have the host's values".into()),
    })
}

// ---------------------------------------------------------------- blk-throttle

/// The rule in force for `dev` (`MAJ:MIN`) in a throttle file's text, 0 when there is none.
pub fn rule_in(text: &str, dev: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(d, _)| *d == dev)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn remove_throttle(file: &Path, dev: &str, before: u64, bps: u64) -> Result<Outcome, String> {
    let read = || std::fs::read_to_string(file).map(|t| rule_in(&t, dev));
    let now = match read() {
        Ok(v) => v,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(Outcome::Unchanged(format!("no {}", file.display())));
        }
        Err(e) => return Err(format!("reading {}: {e}", file.display())),
    };
    if now != bps || bps == before {
        return Ok(if now == before {
            Outcome::Unchanged(format!("the write throttle on {dev} is {now}, as before the probe"))
        } else {
            Outcome::Foreign(format!("the write throttle on {dev} is {now}, not the probe's {bps}: left as it is"))
        });
    }
    std::fs::write(file, format!("{dev} {before}"))
        .map_err(|e| format!("writing `{dev} {before}` to {}: {e}", file.display()))?;
    let after = read().map_err(|e| format!("reading {}: {e}", file.display()))?;
    if after != before {
        return Err(format!("{} reads {after} for {dev}, expected {before}", file.display()));
    }
    Ok(Outcome::Undone(if before == 0 {
        format!("removed the write throttle on {dev} ({bps} B/s)")
    } else {
        format!("put the write throttle on {dev} back to {before} B/s")
    }))
}

// ---------------------------------------------------------------- control files

/// A control file's value as it is read back: the bracketed entry of a choice list (`[mono] local`), else the text.
fn setting_value(text: &str) -> String {
    let t = text.trim();
    t.split_whitespace().find(|w| w.starts_with('[')).map_or(t.to_string(), |w| w.trim_matches(['[', ']']).into())
}

/// Puts a control file back to `before` if it still holds the probe's `value`.
fn restore_setting(file: &Path, before: &str, value: &str) -> Result<Outcome, String> {
    let now = match std::fs::read_to_string(file) {
        Ok(t) => setting_value(&t),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(Outcome::Unchanged(format!("no {} (unmounted or gone)", file.display())));
        }
        Err(e) => return Err(format!("reading {}: {e}", file.display())),
    };
    if now == before {
        return Ok(Outcome::Unchanged(format!("{} is {now}, as before the probe", file.display())));
    }
    if now != value {
        return Ok(Outcome::Foreign(format!("{} is {now}, not the probe's {value}: left as it is", file.display())));
    }
    std::fs::write(file, before).map_err(|e| format!("writing `{before}` to {}: {e}", file.display()))?;
    Ok(Outcome::Undone(format!("put {} back to {before}", file.display())))
}

// ---------------------------------------------------------------- cgroups

fn cgroup_pids(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Kills what the cgroup still holds (the workload process of a killed probe), then removes it.
fn remove_cgroup(dir: &Path) -> Result<Outcome, String> {
    if !dir.is_dir() {
        return Ok(Outcome::Unchanged(format!("{} is gone", dir.display())));
    }
    let mut killed = 0;
    for _ in 0..500 {
        let pids = cgroup_pids(dir);
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            // SAFETY: kill(2) of a process inside the probe's own cgroup.
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
        sleep_ms(10);
    }
    let mut last = None;
    // Exiting processes leave the cgroup shortly after they die: retry briefly.
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => {
                last = None;
                break;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        sleep_ms(20);
    }
    if let Some(e) = last {
        return Err(format!("removing cgroup {}: {e}", dir.display()));
    }
    Ok(Outcome::Undone(if killed > 0 {
        format!("killed the workload process left in cgroup {} and removed it", dir.display())
    } else {
        format!("removed cgroup {}", dir.display())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Change> {
        vec![
            Change::Tree("/var/tmp/pcsim-probe-1-1".into()),
            Change::Dir("/tmp/a dir/with%percent".into()),
            Change::File(PathBuf::from(OsString::from_vec(b"/tmp/\xff\nx".to_vec()))),
            Change::Mount { target: "/sys/kernel/tracing".into(), source: "nodev".into(), fstype: "tracefs".into() },
            Change::LoopDevice { index: 200 },
            Change::LoopAttach { index: 200, backing: "/var/tmp/pcsim-probe-1-1/disk0.img".into() },
            Change::TraceInstance { name: "pcsim-1".into() },
            Change::Sysctls {
                knobs: vec![
                    Knob { name: "vm.dirty_bytes".into(), old: 0, new: Some(67108864) },
                    Knob { name: "vm.dirty_ratio".into(), old: 20, new: None },
                ],
            },
            Change::Throttle { file: "/sys/x".into(), dev: "7:200".into(), before: 0, bps: 16777216 },
            Change::Cgroup { dir: "/sys/fs/cgroup/memory/pcsim-probe-1".into() },
            Change::Setting {
                file: "/sys/kernel/tracing/current_tracer".into(),
                before: "nop".into(),
                value: "blk".into(),
            },
            Change::Setting {
                file: "/sys/block/loop200/trace/enable".into(),
                before: String::new(),
                value: "1".into(),
            },
            Change::Dir(PathBuf::new()),
        ]
    }

    #[test]
    fn every_change_reads_back_as_written() {
        for c in all() {
            let line = c.encode();
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(Change::decode(&line).unwrap(), c, "{line}");
        }
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        for l in ["", "tree", "mount a b", "loop-device x", "sysctls a 1", "bogus 1", "file %4", "file %zz"] {
            assert!(Change::decode(l).is_err(), "{l}");
        }
    }

    #[test]
    fn mountinfo_lines_are_read_with_their_escapes() {
        let t = "36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - ext4 /dev/loop200 rw\n\
                 40 20 0:12 / /sys/kernel/tracing rw - tracefs nodev rw\n";
        let m = parse_mountinfo(t);
        assert_eq!(m[0].target, PathBuf::from("/mnt/a b"));
        assert_eq!((m[0].fstype.as_str(), m[0].source.as_str()), ("ext4", "/dev/loop200"));
        assert_eq!(m[1].fstype, "tracefs");
    }

    #[test]
    fn reads_the_rule_of_one_device() {
        let t = "7:0 52428800\n7:10 1048576\n";
        assert_eq!(rule_in(t, "7:0"), 52428800);
        assert_eq!(rule_in(t, "7:10"), 1048576);
        assert_eq!(rule_in(t, "7:1"), 0);
        assert_eq!(rule_in("", "7:0"), 0);
    }

    #[test]
    fn trees_files_and_dirs_are_removed_once_and_then_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("tree");
        std::fs::create_dir_all(t.join("a/b")).unwrap();
        std::fs::write(t.join("a/b/f"), "x").unwrap();
        let c = Change::Tree(t.clone());
        assert!(matches!(c.undo(), Ok(Outcome::Undone(_))));
        assert!(!t.exists());
        assert!(matches!(c.undo(), Ok(Outcome::Unchanged(_))));
        let d = tmp.path().join("d");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("user-file"), "x").unwrap();
        assert!(matches!(Change::Dir(d.clone()).undo(), Ok(Outcome::Foreign(_))), "a non-empty dir is left");
        assert!(d.join("user-file").exists());
        let f = tmp.path().join("f");
        std::fs::write(&f, "x").unwrap();
        assert!(matches!(Change::File(f.clone()).undo(), Ok(Outcome::Undone(_))));
        assert!(matches!(Change::File(f).undo(), Ok(Outcome::Unchanged(_))));
    }
}
