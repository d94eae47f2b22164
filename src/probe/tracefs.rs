//! Recording through a private tracefs instance (`instances/pcsim-<pid>`), so other tracers are not disturbed.
//!
//! The instance uses the `mono` trace clock (CLOCK_MONOTONIC, so event times line up with the task threads' op
//! timings), a per-CPU buffer of `BUFFER_KB`, and a filter per event so only the scratch devices are recorded.
//! A reader thread drains `trace_pipe` into `raw_trace.txt` while the workload runs; lost events are counted from
//! the per-CPU `stats` files and reported in the manifest.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::change::Change;
use super::guard::Undo;
use super::host;
use super::ProbeError;

/// Per-CPU ring buffer size of the instance.
pub const BUFFER_KB: u64 = 65536;

/// The events the probe enables, by tracefs system, and which field filters them to the scratch devices.
pub const EVENTS: &[(&str, &str, Filter)] = &[
    ("readahead", "page_cache_sync_ra", Filter::SDev),
    ("readahead", "page_cache_async_ra", Filter::SDev),
    ("readahead", "page_cache_ra_order", Filter::SDev),
    ("readahead", "page_cache_ra_unbounded", Filter::SDev),
    ("filemap", "mm_filemap_add_to_page_cache", Filter::SDev),
    ("filemap", "mm_filemap_delete_from_page_cache", Filter::SDev),
    ("filemap", "mm_filemap_fault", Filter::SDev),
    ("filemap", "mm_filemap_get_pages", Filter::SDev),
    ("filemap", "mm_filemap_map_pages", Filter::SDev),
    ("writeback", "writeback_dirty_folio", Filter::Name),
    ("writeback", "writeback_dirty_inode_enqueue", Filter::Dev),
    ("writeback", "global_dirty_state", Filter::None),
    ("writeback", "balance_dirty_pages", Filter::Bdi),
    ("writeback", "bdi_dirty_ratelimit", Filter::Bdi),
    ("writeback", "writeback_queue", Filter::Name),
    ("writeback", "writeback_exec", Filter::Name),
    ("writeback", "writeback_start", Filter::Name),
    ("writeback", "writeback_written", Filter::Name),
    ("writeback", "writeback_wait", Filter::Name),
    ("writeback", "writeback_queue_io", Filter::Name),
    ("writeback", "writeback_single_inode", Filter::Name),
    ("writeback", "writeback_wake_background", Filter::Name),
    ("writeback", "writeback_single_inode_start", Filter::Name),
    ("writeback", "writeback_write_inode_start", Filter::Name),
    ("writeback", "writeback_write_inode", Filter::Name),
    ("writeback", "writeback_sb_inodes_requeue", Filter::Name),
    ("writeback", "writeback_dirty_inode_start", Filter::Name),
    ("writeback", "writeback_dirty_inode", Filter::Name),
    ("writeback", "sb_mark_inode_writeback", Filter::Dev),
    ("writeback", "sb_clear_inode_writeback", Filter::Dev),
    ("writeback", "folio_wait_writeback", Filter::Name),
    // No device field: the normaliser keeps the ones that follow a scenario device's flusher events.
    ("writeback", "writeback_pages_written", Filter::None),
    ("block", "block_bio_queue", Filter::Dev),
    ("block", "block_getrq", Filter::Dev),
    ("block", "block_bio_backmerge", Filter::Dev),
    ("block", "block_bio_frontmerge", Filter::Dev),
    ("block", "block_rq_insert", Filter::Dev),
    ("block", "block_rq_issue", Filter::Dev),
    ("block", "block_rq_complete", Filter::Dev),
    ("block", "block_rq_merge", Filter::Dev),
    ("block", "block_rq_requeue", Filter::Dev),
    ("block", "block_rq_error", Filter::Dev),
    ("block", "block_io_start", Filter::Dev),
    ("block", "block_io_done", Filter::Dev),
    ("block", "block_bio_complete", Filter::Dev),
    ("block", "block_split", Filter::Dev),
];

/// Tracepoints of the writeback and block systems the probe leaves off, and why (see docs/WRITE_FIXTURES.md).
pub const NOT_ENABLED: &[(&str, &str)] = &[
    ("writeback_mark_inode_dirty", "fires for every folio dirtied, beside writeback_dirty_folio"),
    ("wbc_writepage", "fires for every folio written; block requests and writeback_single_inode cover it"),
    ("writeback_lazytime, writeback_lazytime_iput", "the scratch filesystem is not mounted with lazytime"),
    (
        "inode_switch_wbs*, inode_foreign_history, track_foreign_dirty, flush_foreign",
        "cgroup writeback (cgroup v2 only)",
    ),
    ("writeback_bdi_register", "fires when a bdi is created, before tracing starts"),
    ("block_plug, block_unplug", "name no device, so they cannot be filtered to the scratch devices"),
    ("block_bio_remap, block_rq_remap", "no stacked devices under the scratch filesystem"),
    ("block_dirty_buffer, block_touch_buffer", "buffer heads of filesystem metadata, one event per buffer"),
    ("blk_zone_*, disk_zone_*, blkdev_zone_mgmt", "no zoned devices"),
];

/// How an event is restricted to the scratch devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `s_dev` (the superblock's dev_t).
    SDev,
    /// `dev` (dev_t).
    Dev,
    /// `name` (bdi name, "MAJ:MIN").
    Name,
    /// `bdi` (bdi name).
    Bdi,
    /// Global state: not filtered.
    None,
}

impl Filter {
    /// The filter expression for a set of (major, minor) devices.
    pub fn expr(self, devs: &[(u32, u32)]) -> Option<String> {
        let field = match self {
            Filter::SDev => "s_dev",
            Filter::Dev => "dev",
            Filter::Name => "name",
            Filter::Bdi => "bdi",
            Filter::None => return None,
        };
        let terms: Vec<String> = devs
            .iter()
            .map(|&(ma, mi)| match self {
                Filter::SDev | Filter::Dev => format!("{field} == {}", (ma << 20) | mi),
                _ => format!("{field} == \"{ma}:{mi}\""),
            })
            .collect();
        Some(terms.join(" || "))
    }
}

/// Locates tracefs, mounting it (and unmounting it at the end) if it is not mounted.
pub fn locate(undo: &mut Undo) -> Result<PathBuf, ProbeError> {
    for p in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if Path::new(p).join("instances").is_dir() {
            return Ok(PathBuf::from(p));
        }
    }
    let mnt = Path::new("/sys/kernel/tracing");
    if !mnt.is_dir() {
        return Err(ProbeError::Missing(
            "tracefs: /sys/kernel/tracing does not exist; the kernel needs CONFIG_TRACING (ftrace)".into(),
        ));
    }
    undo.record(Change::Mount { target: mnt.to_path_buf(), source: "nodev".into(), fstype: "tracefs".into() })?;
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL");
    // SAFETY: plain mount(2) with valid C strings.
    let rc = unsafe {
        libc::mount(c("nodev").as_ptr(), c("/sys/kernel/tracing").as_ptr(), c("tracefs").as_ptr(), 0, std::ptr::null())
    };
    if rc != 0 {
        return Err(ProbeError::Missing(format!(
            "tracefs is not mounted and mounting it failed ({}); mount it with `mount -t tracefs nodev /sys/kernel/tracing`",
            host::errno()
        )));
    }
    Ok(mnt.to_path_buf())
}

/// A private tracefs instance.
pub struct Instance {
    pub dir: PathBuf,
}

impl Instance {
    /// Creates `instances/<name>` (removed by the undo stack), tracing off, configured for `devs`.
    pub fn create(tracefs: &Path, name: &str, devs: &[(u32, u32)], undo: &mut Undo) -> Result<Instance, ProbeError> {
        let dir = tracefs.join("instances").join(name);
        undo.record(Change::TraceInstance { name: name.to_string() })?;
        std::fs::create_dir(&dir)
            .map_err(|e| ProbeError::Host(format!("creating tracefs instance {}: {e}", dir.display())))?;
        let inst = Instance { dir };
        inst.set("tracing_on", "0")?;
        inst.set("trace_clock", "mono")?;
        inst.set("buffer_size_kb", &BUFFER_KB.to_string())?;
        inst.set("trace", "")?;
        for (sys, ev, filter) in EVENTS {
            let evdir = inst.dir.join("events").join(sys).join(ev);
            if !evdir.is_dir() {
                return Err(ProbeError::Missing(format!(
                    "tracepoint {sys}:{ev} is missing from this kernel ({}); pcsim's probe needs Linux 6.18's tracepoints",
                    host::uname().0
                )));
            }
            if let Some(expr) = filter.expr(devs) {
                host::write(evdir.join("filter"), &expr)?;
            }
            host::write(evdir.join("enable"), "1")?;
        }
        Ok(inst)
    }

    pub fn set(&self, file: &str, value: &str) -> Result<(), ProbeError> {
        host::write(self.dir.join(file), value)
    }

    /// Starts recording and a thread draining `trace_pipe` into `out` (the file at `out_path`).
    pub fn start(&self, out: File, out_path: &Path) -> Result<Reader, ProbeError> {
        let pipe_path = self.dir.join("trace_pipe");
        let pipe = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&pipe_path)
            .map_err(|e| ProbeError::Host(format!("opening {}: {e}", pipe_path.display())))?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let paths = (pipe_path, out_path.to_path_buf());
        let handle = std::thread::Builder::new()
            .name("pcsim-trace".into())
            .spawn(move || drain(pipe, out, s, paths))
            .map_err(|e| ProbeError::Host(format!("starting the trace reader: {e}")))?;
        self.set("tracing_on", "1")?;
        Ok(Reader { stop, handle: Some(handle) })
    }

    /// Stops recording.
    pub fn stop(&self) -> Result<(), ProbeError> {
        self.set("tracing_on", "0")
    }

    /// Events lost to buffer overruns, summed over CPUs.
    pub fn lost_events(&self) -> u64 {
        let mut lost = 0;
        let Ok(rd) = std::fs::read_dir(self.dir.join("per_cpu")) else { return 0 };
        for cpu in rd.flatten() {
            if let Ok(stats) = std::fs::read_to_string(cpu.path().join("stats")) {
                for line in stats.lines() {
                    if let Some(v) = line.strip_prefix("overrun:").or_else(|| line.strip_prefix("dropped events:")) {
                        lost += v.trim().parse::<u64>().unwrap_or(0);
                    }
                }
            }
        }
        lost
    }
}

/// The running trace reader.
pub struct Reader {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<u64, ProbeError>>>,
}

impl Reader {
    /// Drains what is left (call after `Instance::stop`) and returns the bytes written.
    pub fn finish(mut self) -> Result<u64, ProbeError> {
        self.stop.store(true, Ordering::SeqCst);
        let h = self.handle.take().expect("joined once");
        h.join().map_err(|_| ProbeError::Host("trace reader panicked".into()))?
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Copies `trace_pipe` to the output file until stopped and drained; an error names the file that failed: the
/// output (a full disk, say) or the pipe.
fn drain(mut pipe: File, out: File, stop: Arc<AtomicBool>, paths: (PathBuf, PathBuf)) -> Result<u64, ProbeError> {
    let (pipe_path, out_path) = paths;
    let werr = |e: std::io::Error| ProbeError::Host(format!("writing {}: {e}", out_path.display()));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    let mut idle_after_stop = 0;
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                out.write_all(&buf[..n]).map_err(werr)?;
                total += n as u64;
                idle_after_stop = 0;
                continue;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(ProbeError::Host(format!("reading {}: {e}", pipe_path.display()))),
        }
        if stop.load(Ordering::SeqCst) {
            // Tracing is off: two empty reads in a row mean the buffer is drained.
            idle_after_stop += 1;
            if idle_after_stop >= 2 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out.flush().map_err(werr)?;
    out.into_inner().map_err(|e| werr(e.into_error()))?.sync_all().map_err(werr)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_name_each_device() {
        assert_eq!(Filter::SDev.expr(&[(7, 3)]).unwrap(), "s_dev == 7340035");
        assert_eq!(Filter::Bdi.expr(&[(7, 3), (7, 4)]).unwrap(), "bdi == \"7:3\" || bdi == \"7:4\"");
        assert_eq!(Filter::None.expr(&[(7, 3)]), None);
    }
}
