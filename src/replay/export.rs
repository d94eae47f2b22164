//! Exporters: the model's block events as blkparse's default text ([`write_blkparse`]) or as a blktrace v7
//! little-endian binary ([`write_blktrace`]) that `blkparse -i NAME -D DIR` and `btt` read.
//!
//! Each block event becomes the blktrace record the kernel's blktrace would write for it (kernel/trace/blktrace.c):
//!
//! | event | action | categories |
//! |---|---|---|
//! | block_bio_queue | Q | QUEUE |
//! | block_bio_backmerge / block_rq_merge | M | QUEUE (+ FS for the request merge) |
//! | block_bio_frontmerge | F | QUEUE |
//! | block_getrq | G | QUEUE |
//! | block_rq_insert | I | QUEUE, FS |
//! | block_rq_issue | D | ISSUE, FS |
//! | block_rq_complete | C | COMPLETE, FS |
//! | block_bio_complete | C | COMPLETE |
//! | block_rq_requeue | R | REQUEUE, FS |
//! | block_split | X (PDU: be64 new sector) | none |
//!
//! plus the RWBS letters' bits, read as the kernel writes them (`blk_fill_rwbs`): a leading `F` before another
//! letter is REQ_PREFLUSH (FLUSH); then `W` WRITE, `R` READ, `D` DISCARD and WRITE (`DE`: secure erase), `F`
//! alone (REQ_OP_FLUSH) READ and FLUSH, `N` READ; then `F` FUA, `A` AHEAD, `S` SYNC, `M` META. So the model's
//! `FF` (a flush request) reads back from blkparse as `FN`. block_rq_error, block_io_start and block_io_done have
//! no blktrace action and are left out (counted as `no_blktrace_action`), as are events of other systems
//! (`not_block_event`).
//!
//! Everything goes to one CPU (0) with sequence numbers from 1 per device (as the kernel numbers them), times relative to the earliest event (blkparse's
//! genesis). Each task gets a pid: `idle` and `swapper*` 0, the others 1, 2, ... in order of first appearance;
//! the binary starts with a PROCESS note per task (its name, at most 15 bytes). Events are written in the order
//! given (give them in time order, as the model's logs are).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::block::tc;
use super::export_bit::{ta, Bit};
use super::export_fmt::{format_record, Summary};
use crate::trace::event::{Event, EventKind};

/// A device of an export: the model's device name and the dev_t to write for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportDevice {
    /// The device name in the events (`device=` field).
    pub name: String,
    /// Major number (< 4096).
    pub major: u32,
    /// Minor number (< 2^20).
    pub minor: u32,
}

/// What an export wrote and left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Records written (notes not included).
    pub written: u64,
    /// Events left out, by reason.
    pub ignored: BTreeMap<&'static str, u64>,
}

/// The `BLK_TC_*` bits of a kernel (tracepoint) RWBS string, `None` if it is not one.
pub(crate) fn kernel_rwbs_bits(rwbs: &str) -> Option<u32> {
    let b = rwbs.as_bytes();
    let mut i = 0;
    let mut bits = 0;
    if b.len() >= 2 && b[0] == b'F' && matches!(b[1], b'F' | b'W' | b'R' | b'D' | b'N') {
        bits |= tc::FLUSH;
        i = 1;
    }
    match b.get(i) {
        Some(b'W') => bits |= tc::WRITE,
        Some(b'R') | Some(b'N') => bits |= tc::READ,
        Some(b'F') => bits |= tc::READ | tc::FLUSH,
        Some(b'D') => {
            bits |= tc::DISCARD | tc::WRITE;
            if b.get(i + 1) == Some(&b'E') {
                i += 1;
            }
        }
        _ => return None,
    }
    i += 1;
    for (letter, bit) in [(b'F', tc::FUA), (b'A', tc::AHEAD), (b'S', tc::SYNC), (b'M', tc::META)] {
        if b.get(i) == Some(&letter) {
            bits |= bit;
            i += 1;
        }
    }
    (i == b.len()).then_some(bits)
}

/// Task names to pids, and the genesis time, from a first pass over the events.
pub(crate) struct Plan {
    pub genesis: u64,
    /// (pid, name) in order of first appearance.
    pub tasks: Vec<(u32, String)>,
    pids: hashbrown::HashMap<String, u32>,
    devices: Vec<(String, u32)>,
}

fn is_block(e: &Event) -> bool {
    e.kind.system() == crate::trace::event::System::Block
}

impl Plan {
    fn new<'a>(events: impl Iterator<Item = &'a Event>, devices: &[ExportDevice]) -> io::Result<Plan> {
        let mut devs = Vec::new();
        for d in devices {
            if d.major >= 1 << 12 || d.minor >= 1 << 20 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "device {}: {}:{} does not fit a dev_t (major < 4096, minor < 2^20)",
                        d.name, d.major, d.minor
                    ),
                ));
            }
            devs.push((d.name.clone(), (d.major << 20) | d.minor));
        }
        let mut plan = Plan { genesis: u64::MAX, tasks: Vec::new(), pids: hashbrown::HashMap::new(), devices: devs };
        let mut next = 1;
        for e in events.filter(|e| is_block(e)) {
            plan.genesis = plan.genesis.min(e.time.0);
            if !plan.pids.contains_key(&*e.task) {
                // A comm holds 15 bytes and a NUL.
                let mut end = e.task.len().min(15);
                while !e.task.is_char_boundary(end) {
                    end -= 1;
                }
                let name = e.task[..end].to_string();
                let pid = if e.task.as_ref() == "idle" || e.task.starts_with("swapper") {
                    0
                } else {
                    next += 1;
                    next - 1
                };
                plan.pids.insert(e.task.to_string(), pid);
                plan.tasks.push((pid, name));
            }
        }
        if plan.genesis == u64::MAX {
            plan.genesis = 0;
        }
        Ok(plan)
    }

    fn device(&self, name: &str) -> io::Result<(usize, u32)> {
        self.devices.iter().position(|(n, _)| n == name).map(|i| (i, self.devices[i].1)).ok_or_else(|| {
            let known: Vec<&str> = self.devices.iter().map(|(n, _)| n.as_str()).collect();
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("event on device `{name}`, which is not in the export's device list ({})", known.join(", ")),
            )
        })
    }

    /// The record for one event, or the reason it has none; `seq` holds each device's last sequence number (the
    /// kernel numbers records per traced device and CPU).
    pub(crate) fn bit(&self, e: &Event, seq: &mut [u32]) -> io::Result<Result<Bit, &'static str>> {
        use EventKind as K;
        let (dev, rwbs, act, cats, sector, bytes, error, split_to) = match &e.kind {
            K::BlockBioQueue { device, rwbs, sector, nr_sector } => {
                (device, rwbs, ta::QUEUE, tc::QUEUE, *sector, nr_sector.saturating_mul(512), 0, None)
            }
            K::BlockBioBackmerge { device, rwbs, sector, nr_sector } => {
                (device, rwbs, ta::BACKMERGE, tc::QUEUE, *sector, nr_sector.saturating_mul(512), 0, None)
            }
            K::BlockBioFrontmerge { device, rwbs, sector, nr_sector } => {
                (device, rwbs, ta::FRONTMERGE, tc::QUEUE, *sector, nr_sector.saturating_mul(512), 0, None)
            }
            K::BlockGetrq { device, rwbs, sector, nr_sector } => {
                (device, rwbs, ta::GETRQ, tc::QUEUE, *sector, nr_sector.saturating_mul(512), 0, None)
            }
            K::BlockRqMerge { device, rwbs, bytes, sector, .. } => {
                (device, rwbs, ta::BACKMERGE, tc::QUEUE | tc::FS, *sector, *bytes, 0, None)
            }
            K::BlockRqInsert { device, rwbs, bytes, sector, .. } => {
                (device, rwbs, ta::INSERT, tc::QUEUE | tc::FS, *sector, *bytes, 0, None)
            }
            K::BlockRqIssue { device, rwbs, bytes, sector, .. } => {
                (device, rwbs, ta::ISSUE, tc::ISSUE | tc::FS, *sector, *bytes, 0, None)
            }
            K::BlockRqComplete { device, rwbs, sector, nr_sector, error } => (
                device,
                rwbs,
                ta::COMPLETE,
                tc::COMPLETE | tc::FS,
                *sector,
                nr_sector.saturating_mul(512),
                *error,
                None,
            ),
            K::BlockBioComplete { device, rwbs, sector, nr_sector, error } => {
                (device, rwbs, ta::COMPLETE, tc::COMPLETE, *sector, nr_sector.saturating_mul(512), *error, None)
            }
            K::BlockRqRequeue { device, rwbs, sector, nr_sector } => {
                (device, rwbs, ta::REQUEUE, tc::REQUEUE | tc::FS, *sector, nr_sector.saturating_mul(512), 0, None)
            }
            K::BlockSplit { device, rwbs, sector, new_sector } => {
                let bytes = new_sector.saturating_sub(*sector).saturating_mul(512);
                (device, rwbs, ta::SPLIT, 0, *sector, bytes, 0, Some(*new_sector))
            }
            K::BlockRqError { .. } | K::BlockIoStart { .. } | K::BlockIoDone { .. } => {
                return Ok(Err("no_blktrace_action"))
            }
            _ => return Ok(Err("not_block_event")),
        };
        let Some(bits) = kernel_rwbs_bits(rwbs) else {
            return Ok(Err("bad_rwbs"));
        };
        let Ok(bytes) = u32::try_from(bytes) else {
            return Ok(Err("too_many_bytes"));
        };
        let pid = self.pids.get(&*e.task).copied().unwrap_or(0);
        let (index, device) = self.device(dev)?;
        seq[index] = seq[index].wrapping_add(1);
        Ok(Ok(Bit {
            sequence: seq[index],
            time: e.time.0.saturating_sub(self.genesis),
            sector,
            bytes,
            action: act | ((cats | bits) << 16),
            pid,
            device,
            // The kernel stores the negative errno in a u16.
            error: error as u16,
            split_to,
        }))
    }
}

fn encode(out: &mut Vec<u8>, b: &Bit, time: u64, pdu: &[u8]) {
    out.extend_from_slice(&0x6561_7407u32.to_le_bytes());
    out.extend_from_slice(&b.sequence.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(&b.sector.to_le_bytes());
    out.extend_from_slice(&b.bytes.to_le_bytes());
    out.extend_from_slice(&b.action.to_le_bytes());
    out.extend_from_slice(&b.pid.to_le_bytes());
    out.extend_from_slice(&b.device.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // cpu
    out.extend_from_slice(&b.error.to_le_bytes());
    out.extend_from_slice(&(pdu.len() as u16).to_le_bytes());
    out.extend_from_slice(pdu);
}

/// Writes the events as one blktrace v7 little-endian stream (what `NAME.blktrace.0` holds) to `out`.
pub fn write_blktrace_to<'a, I>(events: I, devices: &[ExportDevice], out: impl Write) -> io::Result<ExportStats>
where
    I: IntoIterator<Item = &'a Event>,
    I::IntoIter: Clone,
{
    let events = events.into_iter();
    let plan = Plan::new(events.clone(), devices)?;
    let mut w = BufWriter::new(out);
    let mut buf = Vec::with_capacity(128);
    let note_dev = plan.devices.first().map_or(0, |d| d.1);
    for (pid, name) in &plan.tasks {
        let mut comm = [0u8; 16];
        comm[..name.len()].copy_from_slice(name.as_bytes());
        let note = Bit {
            sequence: 0,
            time: 0,
            sector: 0,
            bytes: 0,
            action: tc::NOTIFY << 16,
            pid: *pid,
            device: note_dev,
            error: 0,
            split_to: None,
        };
        buf.clear();
        encode(&mut buf, &note, plan.genesis, &comm);
        w.write_all(&buf)?;
    }
    let mut stats = ExportStats::default();
    let mut seq = vec![0u32; plan.devices.len()];
    for e in events {
        match plan.bit(e, &mut seq)? {
            Ok(b) => {
                buf.clear();
                let pdu = b.split_to.map(u64::to_be_bytes);
                encode(&mut buf, &b, b.time + plan.genesis, pdu.as_ref().map_or(&[][..], |p| &p[..]));
                w.write_all(&buf)?;
                stats.written += 1;
            }
            Err(reason) => *stats.ignored.entry(reason).or_insert(0) += 1,
        }
    }
    w.flush()?;
    Ok(stats)
}

/// Writes the events as `DIR/NAME.blktrace.0`, a blktrace v7 little-endian per-CPU file (one CPU): read it with
/// `blkparse -i NAME -D DIR`, or merge it for btt with `blkparse -i NAME -D DIR -d merged.bin -O`.
pub fn write_blktrace<'a, I>(events: I, devices: &[ExportDevice], dir: &Path, name: &str) -> io::Result<ExportStats>
where
    I: IntoIterator<Item = &'a Event>,
    I::IntoIter: Clone,
{
    let f = File::create(dir.join(format!("{name}.blktrace.0")))?;
    write_blktrace_to(events, devices, f)
}

/// Writes the events as blkparse's default text, with blkparse's printf widths, followed by its per-CPU summary
/// as `blkparse -i -` prints it for the same records (see docs/REPLAY_FORMATS.md for what the summary assumes).
pub fn write_blkparse<'a, I>(events: I, devices: &[ExportDevice], out: impl Write) -> io::Result<ExportStats>
where
    I: IntoIterator<Item = &'a Event>,
    I::IntoIter: Clone,
{
    let events = events.into_iter();
    let plan = Plan::new(events.clone(), devices)?;
    let names: hashbrown::HashMap<u32, &str> = plan.tasks.iter().map(|(p, n)| (*p, n.as_str())).collect();
    let mut w = BufWriter::new(out);
    let mut line = String::with_capacity(128);
    let mut stats = ExportStats::default();
    let mut summary = Summary::default();
    let mut seq = vec![0u32; plan.devices.len()];
    for e in events {
        match plan.bit(e, &mut seq)? {
            Ok(b) => {
                line.clear();
                format_record(&b, names.get(&b.pid).copied().unwrap_or("(null)"), &mut line);
                w.write_all(line.as_bytes())?;
                summary.account(&b);
                stats.written += 1;
            }
            Err(reason) => *stats.ignored.entry(reason).or_insert(0) += 1,
        }
    }
    line.clear();
    summary.write(&mut line);
    w.write_all(line.as_bytes())?;
    w.flush()?;
    Ok(stats)
}
