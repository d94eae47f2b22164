//! `pcsim probe --blktrace`: a binary blktrace of the scratch devices during the workload, recorded through
//! ftrace's `blk` tracer rather than the `blktrace` tool.
//!
//! Why not the tool: `blktrace` reads the kernel's per-CPU relay files under debugfs
//! (`/sys/kernel/debug/block/DEV/traceN`), and this host's kernel runs under lockdown, which refuses to open
//! debugfs files that can be mapped: `blktrace -d /dev/loopN` as root fails with `Thread N failed open
//! /sys/kernel/debug/block/loopN/traceN: 1/Operation not permitted`, and the kernel logs `Lockdown: blktrace:
//! debugfs access is restricted; see man kernel_lockdown.7` (kernel/trace/blktrace.c sets up the trace through
//! the BLKTRACESETUP ioctl, which succeeds; only the relay files are refused). The same kernel code also feeds
//! ftrace: with the `blk` tracer current in tracefs (not debugfs), `/sys/block/DEV/trace/enable` set to 1, and
//! the `bin` trace option on, `trace_pipe` yields the kernel's `struct blk_io_trace` records
//! (`blk_trace_synthesize_old_trace`: magic and version 7, the trace clock's time, then the record as the relay
//! would carry it, PDU included); with `context-info` off nothing else is written between them.
//!
//! Differences from the tool's files, fixed here: the records' sequence numbers are 0 (the ftrace path does not
//! number them), so they are numbered per (device, CPU) from 1 in the stream's order, as the relay numbers them;
//! all CPUs' records come merged in time order in one stream, split here by their CPU field into the tool's
//! per-CPU files `blktrace/NAME.blktrace.CPU` (blkparse wants each file's records on its CPU; a CPU without records
//! gets an empty file, so the numbering has no hole). No PROCESS notes are written by this path.
//!
//! The top-level tracefs instance is shared with the host: the probe refuses to start when another tracer than
//! `nop` is current, and restores every setting it changed (`current_tracer`, `trace_clock`, `options/bin`,
//! `options/context-info`, `tracing_on`, each device's `trace/enable`), each journalled in the crash journal
//! (`Change::Setting`), so a killed probe's settings are put back by `--recover`.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::guard::Undo;
use super::host;
use super::ProbeError;

/// A running recording.
pub struct BlkRecorder {
    tracefs: PathBuf,
    raw: PathBuf,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<u64, String>>>,
}

/// Sets `file` under `dir` to `value`, journalled (crash journal) with its current value (as `restore` turns it) so
/// the undo step, or `pcsim probe --recover` after a SIGKILL, puts it back.
fn set_restored(
    dir: &Path,
    file: &str,
    value: &str,
    undo: &mut Undo,
    restore: fn(&str) -> String,
) -> Result<(), ProbeError> {
    let path = dir.join(file);
    let before = restore(host::read_trim(&path)?.as_str());
    undo.record(super::change::Change::Setting { file: path.clone(), before, value: value.to_string() })?;
    host::write(&path, value)
}

/// `trace_clock` reads `[local] global ...`: the bracketed one is in force.
fn current_clock(s: &str) -> String {
    s.split_whitespace().find(|w| w.starts_with('[')).map_or("local".into(), |w| w.trim_matches(['[', ']']).into())
}

fn same(s: &str) -> String {
    s.to_string()
}

impl BlkRecorder {
    /// Starts recording the block devices `devices` (their names under /sys/block, e.g. `loop3`) into `raw`.
    pub fn start(tracefs: &Path, devices: &[String], raw: PathBuf, undo: &mut Undo) -> Result<BlkRecorder, ProbeError> {
        let tracer = host::read_trim(tracefs.join("current_tracer"))?;
        if tracer != "nop" {
            return Err(ProbeError::Refused(format!(
                "--blktrace needs ftrace's top-level tracer, and `{tracer}` is in use ({}): try again when it is `nop`",
                tracefs.join("current_tracer").display()
            )));
        }
        if !host::read(tracefs.join("available_tracers"))?.split_whitespace().any(|t| t == "blk") {
            return Err(ProbeError::Missing(
                "--blktrace: this kernel has no `blk` tracer (CONFIG_BLK_DEV_IO_TRACE)".into(),
            ));
        }
        set_restored(tracefs, "tracing_on", "0", undo, same)?;
        set_restored(tracefs, "trace_clock", "mono", undo, current_clock)?;
        set_restored(tracefs, "options/bin", "1", undo, same)?;
        set_restored(tracefs, "options/context-info", "0", undo, same)?;
        set_restored(tracefs, "current_tracer", "blk", undo, same)?;
        for d in devices {
            set_restored(&Path::new("/sys/block").join(d), "trace/enable", "1", undo, same)?;
        }
        host::write(tracefs.join("trace"), "")?;
        let pipe = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(tracefs.join("trace_pipe"))
            .map_err(|e| ProbeError::Host(format!("opening trace_pipe: {e}")))?;
        let out = File::create(&raw).map_err(|e| ProbeError::Host(format!("creating {}: {e}", raw.display())))?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("pcsim-blktrace".into())
            .spawn(move || drain(pipe, out, s))
            .map_err(|e| ProbeError::Host(format!("starting the blktrace reader: {e}")))?;
        host::write(tracefs.join("tracing_on"), "1")?;
        Ok(BlkRecorder { tracefs: tracefs.to_path_buf(), raw, stop, handle: Some(handle) })
    }

    /// Stops recording, drains the buffer and writes the per-CPU files `dir/NAME.blktrace.CPU` (the records
    /// numbered); returns the records written.
    pub fn finish(mut self, dir: &Path, name: &str) -> Result<u64, ProbeError> {
        host::write(self.tracefs.join("tracing_on"), "0")?;
        self.stop.store(true, Ordering::SeqCst);
        let h = self.handle.take().expect("joined once");
        h.join()
            .map_err(|_| ProbeError::Host("blktrace reader panicked".into()))?
            .map_err(|e| ProbeError::Host(format!("reading trace_pipe: {e}")))?;
        let raw = std::fs::read(&self.raw).map_err(|e| ProbeError::Host(format!("{}: {e}", self.raw.display())))?;
        let (bytes, n) = number_records(&raw).map_err(ProbeError::Host)?;
        std::fs::create_dir_all(dir).map_err(|e| ProbeError::Host(format!("creating {}: {e}", dir.display())))?;
        for (cpu, part) in split_by_cpu(&bytes).iter().enumerate() {
            let out = dir.join(format!("{name}.blktrace.{cpu}"));
            std::fs::write(&out, part).map_err(|e| ProbeError::Host(format!("writing {}: {e}", out.display())))?;
        }
        let _ = std::fs::remove_file(&self.raw);
        Ok(n)
    }
}

impl Drop for BlkRecorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn drain(mut pipe: File, out: File, stop: Arc<AtomicBool>) -> Result<u64, String> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut buf = vec![0u8; 1 << 16];
    let (mut total, mut idle_after_stop) = (0u64, 0);
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                out.write_all(&buf[..n]).map_err(|e| e.to_string())?;
                total += n as u64;
                idle_after_stop = 0;
                continue;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
        if stop.load(Ordering::SeqCst) {
            idle_after_stop += 1;
            if idle_after_stop >= 2 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(total)
}

const MAGIC: u32 = 0x6561_7400;
const HEADER: usize = 48;

/// The stream with each record's sequence number set (per device and CPU, from 1, in stream order), and the
/// number of records. Text lines before the first record (`# tracer: blk`, if any) are dropped.
pub fn number_records(raw: &[u8]) -> Result<(Vec<u8>, u64), String> {
    let mut at = 0;
    while raw.get(at) == Some(&b'#') {
        at += raw[at..].iter().position(|&b| b == b'\n').map_or(raw.len() - at, |p| p + 1);
    }
    let le32 = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
    let mut out = Vec::with_capacity(raw.len() - at);
    let mut seqs: Vec<((u32, u32), u32)> = Vec::new();
    let mut n = 0;
    while at < raw.len() {
        let rec = &raw[at..];
        if rec.len() < HEADER {
            return Err(format!("the blk tracer's stream ends inside a record at byte {at}"));
        }
        let magic = le32(rec, 0);
        if magic & 0xffff_ff00 != MAGIC || magic & 0xff != 7 {
            return Err(format!("the blk tracer's stream has no blktrace v7 record at byte {at} (magic {magic:#x})"));
        }
        let len = HEADER + u16::from_le_bytes([rec[46], rec[47]]) as usize;
        if rec.len() < len {
            return Err(format!("the blk tracer's stream ends inside a record's payload at byte {at}"));
        }
        let key = (le32(rec, 36), le32(rec, 40));
        let is_note = (le32(rec, 28) >> 16) & (1 << 10) != 0;
        let start = out.len();
        out.extend_from_slice(&rec[..len]);
        if !is_note {
            let seq = match seqs.iter_mut().find(|(k, _)| *k == key) {
                Some((_, s)) => s,
                None => {
                    seqs.push((key, 0));
                    &mut seqs.last_mut().expect("just pushed").1
                }
            };
            *seq += 1;
            out[start + 4..start + 8].copy_from_slice(&seq.to_le_bytes());
        }
        at += len;
        n += 1;
    }
    Ok((out, n))
}

/// Whole, valid records (as `number_records` leaves them) split by their CPU field: entry `c` holds CPU `c`'s.
pub fn split_by_cpu(records: &[u8]) -> Vec<Vec<u8>> {
    let mut per_cpu: Vec<Vec<u8>> = Vec::new();
    let mut at = 0;
    while at + HEADER <= records.len() {
        let len = HEADER + u16::from_le_bytes([records[at + 46], records[at + 47]]) as usize;
        let cpu = u32::from_le_bytes(records[at + 40..at + 44].try_into().expect("4 bytes")) as usize;
        if per_cpu.len() <= cpu {
            per_cpu.resize(cpu + 1, Vec::new());
        }
        per_cpu[cpu].extend_from_slice(&records[at..(at + len).min(records.len())]);
        at += len;
    }
    if per_cpu.is_empty() {
        per_cpu.push(Vec::new());
    }
    per_cpu
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(device: u32, cpu: u32, action: u32, pdu: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&0x6561_7407u32.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&1000u64.to_le_bytes());
        r.extend_from_slice(&8u64.to_le_bytes());
        r.extend_from_slice(&4096u32.to_le_bytes());
        r.extend_from_slice(&action.to_le_bytes());
        r.extend_from_slice(&1u32.to_le_bytes());
        r.extend_from_slice(&device.to_le_bytes());
        r.extend_from_slice(&cpu.to_le_bytes());
        r.extend_from_slice(&0u16.to_le_bytes());
        r.extend_from_slice(&(pdu.len() as u16).to_le_bytes());
        r.extend_from_slice(pdu);
        r
    }

    #[test]
    fn records_are_numbered_per_device_and_cpu() {
        let mut raw = b"# tracer: blk\n#\n".to_vec();
        for (dev, cpu) in [(7, 0), (7, 1), (7, 0), (8, 0), (7, 0)] {
            raw.extend(rec(dev, cpu, 0x0019_0001, if cpu == 1 { &[0; 8] } else { &[] }));
        }
        raw.extend(rec(7, 0, 1 << 26, b"comm")); // a note keeps sequence 0
        let (out, n) = number_records(&raw).unwrap();
        assert_eq!(n, 6);
        let mut seqs = Vec::new();
        let mut at = 0;
        while at < out.len() {
            seqs.push(u32::from_le_bytes(out[at + 4..at + 8].try_into().unwrap()));
            at += HEADER + u16::from_le_bytes([out[at + 46], out[at + 47]]) as usize;
        }
        assert_eq!(seqs, [1, 1, 2, 1, 3, 0]);
        let parts = split_by_cpu(&out);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].len(), HEADER + 8);
        assert_eq!(parts[0].len() + parts[1].len(), out.len());
        assert!(number_records(&raw[..raw.len() - 3]).unwrap_err().contains("payload"));
        assert!(number_records(b"xxxx").unwrap_err().contains("inside a record"));
        assert!(number_records(&[0u8; 48]).unwrap_err().contains("no blktrace v7 record"));
    }

    #[test]
    fn the_clock_in_force_is_the_bracketed_one() {
        assert_eq!(current_clock("[local] global counter mono"), "local");
        assert_eq!(current_clock("local global [mono]"), "mono");
    }
}
