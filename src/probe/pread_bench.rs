//! `pcsim bench --vs-kernel`'s host side: a file in a directory of the current filesystem (no root, no scratch
//! device, no tracing), cached by writing and reading it, then tight `pread(2)` loops over given offsets, so the
//! host kernel's page-cache hit path can be timed beside the model's. The offsets come from the caller (the model's
//! scenario's op stream); nothing here uses the model.
//!
//! The directory is the caller's (`BenchDir`, removed on drop); every long step polls `guard::interrupted()`
//! (install the handlers first) so Ctrl-C ends it promptly through the same path.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::{collect, guard, manifest, ProbeError};

/// A directory created for the benchmark's file, removed with everything in it when dropped (every exit path that
/// unwinds, including an interrupt turned into an error).
pub struct BenchDir {
    path: PathBuf,
}

impl BenchDir {
    /// Creates `parent/.pcsim-bench-PID` (refused if it exists).
    pub fn create(parent: &Path) -> Result<BenchDir, ProbeError> {
        let path = parent.join(format!(".pcsim-bench-{}", std::process::id()));
        std::fs::create_dir(&path).map_err(|e| {
            ProbeError::Refused(format!("creating {}: {e} (pass --dir with a writable directory)", path.display()))
        })?;
        Ok(BenchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Bytes available to an unprivileged user on the filesystem of `dir` (statvfs f_bavail), if known.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills a plain struct from a valid C string.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut st) == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
    }
}

/// MemAvailable, bytes.
pub fn mem_available() -> u64 {
    manifest::meminfo_kb("MemAvailable") * 1024
}

const CHUNK: usize = 1 << 20;

/// Writes a file of `size` bytes (a non-zero pattern) and syncs it, polling for an interrupt every MiB.
pub fn create_file(path: &Path, size: u64) -> Result<(), ProbeError> {
    let host = |e: std::io::Error| ProbeError::Host(format!("writing {}: {e}", path.display()));
    let mut f = File::create(path).map_err(host)?;
    let buf = vec![0x5au8; CHUNK];
    let mut left = size;
    while left > 0 {
        guard::check()?;
        let n = left.min(CHUNK as u64) as usize;
        f.write_all(&buf[..n]).map_err(host)?;
        left -= n as u64;
    }
    f.sync_all().map_err(host)
}

/// Reads the whole file once (which caches it), polling for an interrupt every MiB; returns the bytes read.
pub fn read_whole(f: &mut File) -> Result<u64, ProbeError> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        guard::check()?;
        let n = f.read(&mut buf).map_err(|e| ProbeError::Host(format!("reading the benchmark file: {e}")))?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// Pages of the file in the page cache (cachestat(2)), or `None` where the call is missing (Linux < 6.5).
pub fn cached_pages(f: &File) -> Option<u64> {
    collect::cachestat(f).map(|c| c.nr_cache)
}

/// One `pread(2)` of `len` bytes at each offset, back to back (the loop that is timed); returns the bytes read.
/// A short or failed read is an error: every offset must lie inside the file.
pub fn preads(f: &File, offsets: &[u64], len: usize, buf: &mut [u8]) -> Result<u64, ProbeError> {
    let fd = f.as_raw_fd();
    let buf = &mut buf[..len];
    let mut bytes = 0u64;
    for &off in offsets {
        // SAFETY: pread into a buffer of `len` bytes we own.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr() as *mut libc::c_void, len, off as libc::off_t) };
        if n != len as isize {
            return Err(ProbeError::Host(format!(
                "pread of {len} bytes at {off} returned {n}: {}",
                super::host::errno()
            )));
        }
        bytes += n as u64;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_is_written_cached_read_and_removed() {
        let parent = std::env::temp_dir();
        let dir = BenchDir::create(&parent).unwrap();
        let path = dir.path().join("data");
        create_file(&path, 64 << 10).unwrap();
        let mut f = File::open(&path).unwrap();
        assert_eq!(read_whole(&mut f).unwrap(), 64 << 10);
        if let Some(n) = cached_pages(&f) {
            assert_eq!(n, 16);
        }
        let mut buf = vec![0u8; 4096];
        assert_eq!(preads(&f, &[0, 4096, 61440], 4096, &mut buf).unwrap(), 3 * 4096);
        assert!(preads(&f, &[64 << 10], 4096, &mut buf).is_err(), "a read past the end is an error");
        let kept = dir.path().to_path_buf();
        drop(dir);
        assert!(!kept.exists());
        assert!(free_bytes(&parent).is_some_and(|b| b > 0));
        assert!(mem_available() > 0);
    }
}
