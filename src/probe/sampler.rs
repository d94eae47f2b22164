//! The dirty-page time series: a thread that samples `/proc/vmstat` (nr_dirty, nr_writeback, nr_dirtied,
//! nr_written) and each scratch device's `/sys/kernel/debug/bdi/MAJ:MIN/stats` every `INTERVAL_NS` while the
//! workload runs, written as `vmstat_series.txt` (format in `trace::series`).
//!
//! Samples are taken on CLOCK_MONOTONIC (the trace clock), on a fixed schedule from the first sample (a late wake-up
//! does not shift the following ones), plus one final sample when the workload ends. The sampler starts just before
//! the tasks and takes its first sample as they start (within a millisecond of time 0; a sample taken before the
//! start would show as 0). debugfs is mounted for the run if it is not (and unmounted at the
//! end); without it the series has the /proc/vmstat columns only.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::change::Change;
use super::clock::mono_ns;
use super::guard::Undo;
use super::host;
use crate::trace::series::{bdi_stats_values, Sample, Series};
use crate::units::Nanos;

/// Sampling interval: 100 ms.
pub const INTERVAL_NS: u64 = 100_000_000;

/// The /proc/vmstat counters sampled (pages).
pub const VMSTAT_KEYS: &[&str] = &["nr_dirty", "nr_writeback", "nr_dirtied", "nr_written"];

/// The debugfs `bdi` directory, mounting debugfs for the run if needed; `None` if it cannot be had.
pub fn bdi_debugfs(undo: &mut Undo) -> Option<PathBuf> {
    let bdi = Path::new("/sys/kernel/debug/bdi");
    if bdi.is_dir() {
        return Some(bdi.to_path_buf());
    }
    let mnt = Path::new("/sys/kernel/debug");
    if !mnt.is_dir() {
        return None;
    }
    let change = Change::Mount { target: mnt.to_path_buf(), source: "debugfs".into(), fstype: "debugfs".into() };
    if let Err(e) = undo.record(change) {
        eprintln!("pcsim: warning: {e}; the series has no per-device columns");
        return None;
    }
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL");
    // SAFETY: plain mount(2) with valid C strings.
    let rc = unsafe {
        libc::mount(c("debugfs").as_ptr(), c("/sys/kernel/debug").as_ptr(), c("debugfs").as_ptr(), 0, std::ptr::null())
    };
    if rc != 0 {
        eprintln!("pcsim: warning: cannot mount debugfs ({}); the series has no per-device columns", host::errno());
        return None;
    }
    bdi.is_dir().then(|| bdi.to_path_buf())
}

/// Raw samples: CLOCK_MONOTONIC ns and values; and the watched sysctls seen with another value (time, name, value).
type Raw = (Vec<(u64, Vec<(String, u64)>)>, Vec<(u64, String, u64)>);

/// The running sampler.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Raw>>,
    devices: Vec<String>,
}

/// One sample of /proc/vmstat and the devices' bdi stats (`(device name, stats file)`).
fn sample(devices: &[(String, PathBuf)]) -> Vec<(String, u64)> {
    let mut out = Vec::with_capacity(4 + 8 * devices.len());
    if let Ok(text) = std::fs::read_to_string("/proc/vmstat") {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once(' ') {
                if VMSTAT_KEYS.contains(&k) {
                    if let Ok(v) = v.trim().parse() {
                        out.push((k.to_string(), v));
                    }
                }
            }
        }
    }
    for (i, (name, stats)) in devices.iter().enumerate() {
        if let Ok(text) = std::fs::read_to_string(stats) {
            for (k, v) in bdi_stats_values(&text) {
                if k == "dirty_thresh_kb" || k == "background_thresh_kb" {
                    if i == 0 {
                        out.push((k.to_string(), v));
                    }
                } else {
                    out.push((format!("{name}.{k}"), v));
                }
            }
        }
    }
    out
}

impl Sampler {
    /// Starts sampling now. `devices`: (scenario device name, MAJ, MIN); `bdi_dir`: debugfs `bdi`, if available;
    /// `watch`: sysctls (dotted names) that must keep the given values, read at every sample (another process
    /// that changes one during the run, even for a moment, voids the run: see [`Sampler::finish`]).
    pub fn start(
        devices: &[(String, u32, u32)],
        bdi_dir: Option<&Path>,
        watch: Vec<(String, u64)>,
    ) -> Result<Sampler, super::ProbeError> {
        let files: Vec<(String, PathBuf)> = match bdi_dir {
            Some(d) => {
                devices.iter().map(|(n, ma, mi)| (n.clone(), d.join(format!("{ma}:{mi}")).join("stats"))).collect()
            }
            None => Vec::new(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("pcsim-sampler".into())
            .spawn(move || {
                let mut raw: Raw = (Vec::new(), Vec::new());
                let first = mono_ns();
                let mut k = 0u64;
                loop {
                    let now = mono_ns();
                    raw.0.push((now, sample(&files)));
                    for (name, want) in &watch {
                        if let Ok(v) = super::sysctl::read(name) {
                            if v != *want && raw.1.len() < 16 {
                                raw.1.push((now, name.clone(), v));
                            }
                        }
                    }
                    if s.load(Ordering::SeqCst) {
                        return raw;
                    }
                    k += 1;
                    let next = first + k * INTERVAL_NS;
                    // Sleep in short slices so the final sample follows the end of the workload closely.
                    loop {
                        let now = mono_ns();
                        if now >= next || s.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep(Duration::from_nanos((next - now).min(5_000_000)));
                    }
                    // Skip slots missed by a late wake-up rather than bunching samples.
                    while first + (k + 1) * INTERVAL_NS <= mono_ns() {
                        k += 1;
                    }
                }
            })
            .map_err(|e| super::ProbeError::Host(format!("starting the vmstat sampler: {e}")))?;
        Ok(Sampler { stop, handle: Some(handle), devices: devices.iter().map(|d| d.0.clone()).collect() })
    }

    /// Takes the final sample and returns the series, times relative to `t0` (CLOCK_MONOTONIC ns), and the
    /// watched sysctls that were seen with another value (`name=value at T ms`).
    pub fn finish(mut self, t0: u64) -> (Series, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let (raw, changed) = self.handle.take().and_then(|h| h.join().ok()).unwrap_or_default();
        let changed = changed
            .into_iter()
            .map(|(t, n, v)| format!("{n} was {v} at {} ms", t.saturating_sub(t0) / 1_000_000))
            .collect();
        let mut series = Series::default();
        series.header.insert("interval_ns".into(), INTERVAL_NS.to_string());
        series.header.insert("devices".into(), self.devices.join(","));
        for (t, values) in raw {
            series.samples.push(Sample { time: Nanos(t.saturating_sub(t0)), values: values.into_iter().collect() });
        }
        (series, changed)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// syncfs(2) on the filesystem holding `dir`; returns how long it took (ns).
pub fn syncfs(dir: &Path) -> Result<u64, super::ProbeError> {
    let f = std::fs::File::open(dir).map_err(|e| super::ProbeError::Host(format!("{}: {e}", dir.display())))?;
    let a = mono_ns();
    // SAFETY: a valid descriptor.
    if unsafe { libc::syncfs(std::os::unix::io::AsRawFd::as_raw_fd(&f)) } != 0 {
        return Err(super::ProbeError::Host(format!("syncfs {}: {}", dir.display(), host::errno())));
    }
    Ok(mono_ns() - a)
}
