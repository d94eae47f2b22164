//! `pcsim calibrate`: measures the probe's scratch device on this host (a loop device with direct I/O over a
//! sparse file, ext4, as `pcsim probe` builds it) with O_DIRECT I/O on a file of it, and writes a device section
//! that scenarios can use, so the probe and the model talk about the same device.
//!
//! Measurements: sequential 1 MiB writes and reads (bandwidth); 4 KiB random reads and writes, one at a time
//! (latency at queue depth 1); 4 KiB random reads from 32 threads (IOPS at queue depth 32). The model's service
//! time of a request is `latency + bytes / bandwidth`, so the latencies written are the QD1 times less the 4 KiB
//! transfer. The host is left as found (loop device, mount, files) on every exit path, Ctrl-C included.

use std::io::Write as _;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::change::Change;
use super::guard::{self, Undo};
use super::{preflight, scratch, ProbeError};
use crate::scenario::Scenario;

/// What one calibration measured.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceProfile {
    pub seq_read_bps: u64,
    pub seq_write_bps: u64,
    pub read_lat_qd1_ns: u64,
    pub write_lat_qd1_ns: u64,
    pub read_iops_qd32: u64,
}

impl DeviceProfile {
    /// The device section (RON) a scenario's `devices: [...]` takes, with the measurements as comments.
    pub fn to_ron(&self, name: &str, header: &str) -> String {
        let mib = |b: u64| format!("{}m", (b >> 20).max(1));
        let xfer = |bps: u64| 4096u128 * 1_000_000_000 / bps.max(1) as u128;
        let lat = |qd1: u64, bps: u64| format!("{}us", (qd1 as u128).saturating_sub(xfer(bps)).max(1000) / 1000);
        format!(
            "// {header}\n\
             // measured with O_DIRECT on a file of the scratch ext4: sequential 1 MiB reads {} MiB/s, writes {} MiB/s;\n\
             // 4 KiB random reads at queue depth 1 {} us, writes {} us; 4 KiB random reads at queue depth 32 {} IOPS.\n\
             // Latencies below are the queue-depth-1 times less the 4 KiB transfer at the measured bandwidth.\n\
             (name: \"{name}\", read_bw: \"{}\", write_bw: \"{}\", read_latency: \"{}\", write_latency: \"{}\", queue_depth: 32)\n",
            self.seq_read_bps >> 20,
            self.seq_write_bps >> 20,
            self.read_lat_qd1_ns / 1000,
            self.write_lat_qd1_ns / 1000,
            self.read_iops_qd32,
            mib(self.seq_read_bps),
            mib(self.seq_write_bps),
            lat(self.read_lat_qd1_ns, self.seq_read_bps),
            lat(self.write_lat_qd1_ns, self.seq_write_bps),
        )
    }
}

/// A 4 KiB-aligned buffer for O_DIRECT.
struct Aligned {
    buf: Vec<u8>,
    off: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Self {
        let buf = vec![0x5a; len + 4096];
        let off = buf.as_ptr().align_offset(4096);
        Aligned { buf, off, len }
    }
    fn get(&mut self) -> &mut [u8] {
        &mut self.buf[self.off..self.off + self.len]
    }
}

/// A deterministic spread of 4 KiB offsets over `pages` pages (a multiplicative walk, no RNG needed).
fn offsets(pages: u64, n: u64, salt: u64) -> impl Iterator<Item = u64> {
    (0..n).map(move |i| ((i.wrapping_add(salt).wrapping_mul(2_654_435_761)) % pages) * 4096)
}

#[allow(clippy::disallowed_methods)] // the probe measures wall-clock time on the real device
fn timed<T>(f: impl FnOnce() -> Result<T, ProbeError>) -> Result<(T, u64), ProbeError> {
    let t = std::time::Instant::now();
    let r = f()?;
    Ok((r, t.elapsed().as_nanos() as u64))
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> ProbeError {
    ProbeError::Host(format!("{what} {}: {e}", path.display()))
}

/// Measures the scratch device of a probe built for a `size_mib` device with a `file_mib` file.
pub fn calibrate(size_mib: u64, file_mib: u64) -> Result<DeviceProfile, ProbeError> {
    preflight()?;
    if file_mib == 0 || file_mib * 2 > size_mib {
        return Err(ProbeError::Refused(format!(
            "the file ({file_mib} MiB) must be at least 1 MiB and at most half the device ({size_mib} MiB)"
        )));
    }
    guard::install_signal_handlers();
    let _session = super::recover::begin("calibrate")?;
    let text = format!(
        "Scenario(name: \"calibrate\", machine: (memory: \"1g\"), devices: [(name: \"disk0\", size: \"{size_mib}m\")], \
         files: [(name: \"calib\", size: \"{file_mib}m\")], tasks: [(name: \"t\", ops: [Sleep(\"1ms\")])])"
    );
    let sc = Scenario::parse(&text, "calibrate").map_err(|e| ProbeError::Refused(e.to_string()))?;
    let mut undo = Undo::new();
    let result = measure(&sc, file_mib, &mut undo);
    let cleanup = undo.run();
    if !cleanup.is_empty() {
        return Err(ProbeError::Host(format!("restoring the host failed: {}", cleanup.join("; "))));
    }
    guard::check()?;
    result
}

fn measure(sc: &Scenario, file_mib: u64, undo: &mut Undo) -> Result<DeviceProfile, ProbeError> {
    let workdir = PathBuf::from(format!("/var/tmp/pcsim-probe-{}-calibrate", std::process::id()));
    undo.record(Change::Tree(workdir.clone()))?;
    std::fs::create_dir(&workdir).map_err(|e| io_err(&workdir, "creating", e))?;
    let s = scratch::build(sc, 0, &workdir, undo)?;
    guard::check()?;
    let path = s.files[0].1.clone();
    let open = |write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .map_err(|e| io_err(&path, "opening (O_DIRECT)", e))
    };
    let bytes = file_mib << 20;
    let pages = bytes / 4096;
    // Sequential 1 MiB writes, then reads.
    let mut big = Aligned::new(1 << 20);
    let f = open(true)?;
    let ((), ns) = timed(|| {
        for off in (0..bytes).step_by(1 << 20) {
            f.write_all_at(big.get(), off).map_err(|e| io_err(&path, "writing", e))?;
        }
        Ok(())
    })?;
    let seq_write_bps = bytes * 1_000_000_000 / ns.max(1);
    guard::check()?;
    let f = open(false)?;
    let ((), ns) = timed(|| {
        for off in (0..bytes).step_by(1 << 20) {
            f.read_exact_at(big.get(), off).map_err(|e| io_err(&path, "reading", e))?;
        }
        Ok(())
    })?;
    let seq_read_bps = bytes * 1_000_000_000 / ns.max(1);
    guard::check()?;
    // 4 KiB random reads and writes, one at a time.
    let n = 2000;
    let mut small = Aligned::new(4096);
    let ((), ns) = timed(|| {
        for off in offsets(pages, n, 1) {
            f.read_exact_at(small.get(), off).map_err(|e| io_err(&path, "reading", e))?;
        }
        Ok(())
    })?;
    let read_lat_qd1_ns = ns / n;
    let fw = open(true)?;
    let ((), ns) = timed(|| {
        for off in offsets(pages, n, 7) {
            fw.write_all_at(small.get(), off).map_err(|e| io_err(&path, "writing", e))?;
        }
        Ok(())
    })?;
    let write_lat_qd1_ns = ns / n;
    guard::check()?;
    // 4 KiB random reads from 32 threads.
    let per = 500u64;
    let (res, ns) = timed(|| {
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..32u64)
                .map(|t| {
                    let p = path.clone();
                    scope.spawn(move || -> Result<(), String> {
                        let f = std::fs::OpenOptions::new()
                            .read(true)
                            .custom_flags(libc::O_DIRECT)
                            .open(&p)
                            .map_err(|e| e.to_string())?;
                        let mut b = Aligned::new(4096);
                        for off in offsets(pages, per, 1000 + t * per) {
                            f.read_exact_at(b.get(), off).map_err(|e| e.to_string())?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a reader panicked".into()))).collect()
        });
        Ok(results)
    })?;
    if let Some(Err(e)) = res.into_iter().find(|r| r.is_err()) {
        return Err(ProbeError::Host(format!("reading {} from 32 threads: {e}", path.display())));
    }
    let read_iops_qd32 = 32 * per * 1_000_000_000 / ns.max(1);
    let _ = std::io::stderr().flush();
    Ok(DeviceProfile { seq_read_bps, seq_write_bps, read_lat_qd1_ns, write_lat_qd1_ns, read_iops_qd32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_section_is_a_valid_scenario_device() {
        let p = DeviceProfile {
            seq_read_bps: 1500 << 20,
            seq_write_bps: 3000 << 20,
            read_lat_qd1_ns: 120_000,
            write_lat_qd1_ns: 450_000,
            read_iops_qd32: 90_000,
        };
        let dev = p.to_ron("disk0", "test");
        assert!(dev.contains("read_bw: \"1500m\"") && dev.contains("write_bw: \"3000m\""), "{dev}");
        // 120 us less 4 KiB at 1500 MiB/s (2.6 us) -> 117 us.
        assert!(dev.contains("read_latency: \"117us\""), "{dev}");
        let text = format!(
            "Scenario(name: \"x\", machine: (memory: \"1g\"), devices: [\n{dev}], files: [(name: \"f\", size: \"1m\")], \
             tasks: [(name: \"t\", ops: [Sleep(\"1ms\")])])"
        );
        let sc = Scenario::parse(&text, "calibrated.ron").unwrap();
        assert_eq!(sc.devices[0].write_bw, 3000 << 20);
        assert_eq!(sc.devices[0].read_latency, crate::units::Nanos::from_us(117));
    }
}
