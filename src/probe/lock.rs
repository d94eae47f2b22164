//! The probe's host-wide lock: one probe at a time on a host.

use super::error::ProbeError;
use super::{guard, host};

/// Where probes take their host-wide lock.
pub const LOCK_FILE: &str = "/run/pcsim-probe.lock";

/// One probe at a time on a host: vm sysctls, blkio throttle rules and the page cache are shared, and a second probe
/// restoring its sysctls would change the first one's limits in the middle of its run. Waits (interruptibly) for
/// an earlier probe to finish; the lock is released when the returned file is closed, or when the process dies.
pub fn host_lock() -> Result<std::fs::File, ProbeError> {
    use std::os::unix::io::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_FILE)
        .map_err(|e| ProbeError::Host(format!("opening {LOCK_FILE}: {e}")))?;
    let mut told = false;
    loop {
        // SAFETY: flock on our own descriptor.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(f);
        }
        let e = host::errno();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(ProbeError::Host(format!("locking {LOCK_FILE}: {e}")));
        }
        if !told {
            eprintln!("pcsim: waiting for another pcsim probe on this host to finish ({LOCK_FILE})");
            told = true;
        }
        guard::check()?;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
