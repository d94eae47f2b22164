//! Small helpers for /proc, /sys and external commands, with errors that name the path or command.

use std::path::Path;

use super::error::ProbeError;

pub fn read(path: impl AsRef<Path>) -> Result<String, ProbeError> {
    let p = path.as_ref();
    std::fs::read_to_string(p).map_err(|e| ProbeError::Host(format!("reading {}: {e}", p.display())))
}

pub fn read_trim(path: impl AsRef<Path>) -> Result<String, ProbeError> {
    read(path).map(|s| s.trim().to_string())
}

pub fn write(path: impl AsRef<Path>, value: &str) -> Result<(), ProbeError> {
    let p = path.as_ref();
    std::fs::write(p, value).map_err(|e| ProbeError::Host(format!("writing `{value}` to {}: {e}", p.display())))
}

/// The Debian package that provides a command the probe runs.
pub fn package_of(cmd: &str) -> &'static str {
    match cmd {
        "mkfs.ext4" => "e2fsprogs",
        "mkfs.xfs" => "xfsprogs",
        _ => "util-linux",
    }
}

/// Whether a command is on PATH.
pub fn have(cmd: &str) -> bool {
    std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).any(|d| d.join(cmd).is_file())).unwrap_or(false)
}

pub fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// `uname -r` and `uname -v`.
pub fn uname() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return ("unknown".into(), "unknown".into());
        }
        let s = |f: &[libc::c_char]| std::ffi::CStr::from_ptr(f.as_ptr()).to_string_lossy().into_owned();
        (s(&u.release), s(&u.version))
    }
}

/// Checks root, loop devices and tools before touching anything.
pub fn preflight() -> Result<(), ProbeError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ProbeError::Missing(
            "the probe needs root (it creates loop devices, mounts a scratch filesystem and uses tracefs); \
             run it as root, e.g. `sudo pcsim probe ...`"
                .into(),
        ));
    }
    if !Path::new("/dev/loop-control").exists() {
        return Err(ProbeError::Missing(
            "no /dev/loop-control: loop devices are unavailable; load the module with `modprobe loop`".into(),
        ));
    }
    if !have("losetup") {
        return Err(ProbeError::Missing("`losetup` is not installed; `apt-get install -y util-linux`".into()));
    }
    if !Path::new("/sys/kernel/tracing").is_dir() && !Path::new("/sys/kernel/debug/tracing").is_dir() {
        return Err(ProbeError::Missing(
            "tracefs is unavailable (no /sys/kernel/tracing); the kernel needs ftrace".into(),
        ));
    }
    Ok(())
}
