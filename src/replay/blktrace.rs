//! blktrace binary importer: per-CPU files `NAME.blktrace.N` (merged as blkparse merges them) or one merged
//! `blkparse -d` file, replayed from their `Q` records (see the `block` module docs for the reading, and
//! docs/REPLAY_FORMATS.md).
//!
//! - Byte order is detected from each stream's first record (`magic & 0xffffff00 == 0x65617400`, else swapped);
//!   every record's magic and version are checked: version 7 only, version 8 (`blk_io_trace2`) refused by name.
//! - Notes are read as blkparse reads them: PROCESS names the pid (its PDU is the comm), TIMESTAMP gives the wall
//!   clock at the start ([`BlktraceImporter::start_wall_clock`]), MESSAGE is skipped (`message`).
//! - Streams are merged by (time, device, sequence), holding one record per stream: constant memory. Times are
//!   relative to the earliest first record of the streams (blkparse's genesis).
//! - Sequence gaps per (device, cpu) are counted in [`Stats::sequence_gaps`](super::Stats).
//! - A stream that ends inside a record is an error naming the record's offset, returned after the records
//!   before it (which were good); a bad magic in the middle of a stream likewise.
//! - PDUs of records (cgroup ids, split and remap details, unplug counts) are skipped (note `pdu_skipped`).
//! - Only `Q` records are replayed; `A` (remap) records are skipped as `remap` (the `Q` that follows on the traced
//!   device already carries the remapped-to, whole-device sector) after their PDU has named the partition and its
//!   start ([`Stats::partitions`](super::Stats); [`BlockOptions::partition`] replays one partition alone), the
//!   others as `not_queue_event`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::blktrace_read::{BinReader, RawRecord};
use super::block::{tc, BlockMapper};
use super::{
    BlockOptions, ErrorKind, ImportError, Importer, Location, ProcessInfo, Record, SequenceGaps, Stats, ThreadInfo,
    TraceFile,
};

/// `__BLK_TA_QUEUE`.
const TA_QUEUE: u32 = 1;
/// `__BLK_TA_REMAP`.
const TA_REMAP: u32 = 15;
/// `__BLK_TA_DRV_DATA`, the last action.
const TA_LAST: u32 = 17;
/// `__BLK_TA_CGROUP`: the PDU starts with an 8-byte cgroup id.
const TA_CGROUP: u32 = 1 << 8;

struct Stream<R> {
    reader: BinReader<R>,
    head: Option<RawRecord>,
}

#[derive(Clone, Copy)]
struct SeqState {
    device: u32,
    cpu: u32,
    last: u32,
    gaps: SequenceGaps,
}

/// Imports blktrace binary streams; an iterator of [`Record`]s.
pub struct BlktraceImporter<R> {
    streams: Vec<Stream<R>>,
    heap: BinaryHeap<Reverse<(u64, u32, u32, usize)>>,
    mapper: BlockMapper,
    genesis: u64,
    started: bool,
    done: bool,
    error: Option<ImportError>,
    wall_clock: Option<(u32, u32)>,
    seq: Vec<SeqState>,
    last_seq: usize,
}

impl<R: Read> BlktraceImporter<R> {
    /// An importer over one or more streams, each `(origin, reader)`: the per-CPU files of one trace (any order),
    /// or a single merged file. `origin` names the stream in errors.
    pub fn new(inputs: Vec<(String, R)>, opts: BlockOptions) -> Self {
        let streams = inputs.into_iter().map(|(o, r)| Stream { reader: BinReader::new(o, r), head: None }).collect();
        BlktraceImporter {
            streams,
            heap: BinaryHeap::new(),
            mapper: BlockMapper::new(opts),
            genesis: 0,
            started: false,
            done: false,
            error: None,
            wall_clock: None,
            seq: Vec::new(),
            last_seq: 0,
        }
    }

    /// The wall-clock time (seconds, nanoseconds since the epoch) at the trace's start, from its TIMESTAMP note.
    pub fn start_wall_clock(&self) -> Option<(u32, u32)> {
        self.wall_clock
    }

    /// Reads stream `i` up to its next non-note record (handling notes on the way) and makes it the head.
    fn advance(&mut self, i: usize) -> Result<(), ImportError> {
        let Self { streams, mapper, wall_clock, seq, last_seq, .. } = self;
        let s = &mut streams[i];
        s.head = None;
        while let Some((rec, pdu)) = s.reader.next_record()? {
            mapper.counters.record();
            let cats = rec.action >> 16;
            if cats & tc::NOTIFY != 0 {
                let pdu = if rec.action & TA_CGROUP != 0 { pdu.get(8..).unwrap_or(&[]) } else { pdu };
                match rec.action & 0xffff & !TA_CGROUP {
                    0 => {
                        let end = pdu.iter().position(|&b| b == 0).unwrap_or(pdu.len());
                        mapper.name_pid(rec.pid, &String::from_utf8_lossy(&pdu[..end]));
                        mapper.counters.skip("process_note");
                    }
                    1 => {
                        if pdu.len() == 8 {
                            let be = rec.big_endian;
                            let w = |o: usize| {
                                let b = [pdu[o], pdu[o + 1], pdu[o + 2], pdu[o + 3]];
                                if be {
                                    u32::from_be_bytes(b)
                                } else {
                                    u32::from_le_bytes(b)
                                }
                            };
                            *wall_clock = Some((w(0), w(4)));
                        }
                        mapper.counters.skip("timestamp_note");
                    }
                    2 => mapper.counters.skip("message"),
                    _ => mapper.counters.skip("unknown_note"),
                }
                continue;
            }
            let mut rec = rec;
            if rec.action & 0xffff & !TA_CGROUP == TA_REMAP {
                // struct blk_io_trace_remap: be32 device_from, be32 device_to, be64 sector_from.
                let pdu = if rec.action & TA_CGROUP != 0 { pdu.get(8..).unwrap_or(&[]) } else { pdu };
                if let (Some(from), Some(sector)) = (pdu.get(0..4), pdu.get(8..16)) {
                    let from = u32::from_be_bytes(from.try_into().expect("4 bytes"));
                    rec.remap = Some((from, u64::from_be_bytes(sector.try_into().expect("8 bytes"))));
                }
            } else if rec.pdu_len > 0 {
                mapper.counters.note("pdu_skipped");
            }
            track_sequence(seq, last_seq, &rec);
            s.head = Some(rec);
            break;
        }
        Ok(())
    }

    fn start(&mut self) -> Result<(), ImportError> {
        self.started = true;
        for i in 0..self.streams.len() {
            self.advance(i)?;
        }
        if self.mapper.counters.records_read() == 0 {
            let origin = self.streams.first().map(|s| s.reader.origin.clone()).unwrap_or_else(|| "-".into());
            return Err(ImportError::new(
                &origin,
                Location::Byte(0),
                ErrorKind::NotThisFormat,
                "empty input: no blktrace record".into(),
                "give the files written by `blktrace -d DEV` (NAME.blktrace.N) or by `blkparse -i NAME -d FILE`",
            ));
        }
        self.genesis = self.streams.iter().filter_map(|s| s.head.map(|h| h.time)).min().unwrap_or(0);
        if self.streams.len() > 1 {
            for (i, s) in self.streams.iter().enumerate() {
                if let Some(h) = s.head {
                    self.heap.push(Reverse((h.time, h.device, h.sequence, i)));
                }
            }
        }
        Ok(())
    }

    /// Takes the next record in merge order and maps it; false at the end.
    fn step(&mut self) -> Result<bool, ImportError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.started {
            self.start()?;
        }
        let i = if self.streams.len() == 1 {
            0
        } else {
            match self.heap.pop() {
                Some(Reverse((_, _, _, i))) => i,
                None => return Ok(false),
            }
        };
        let Some(rec) = self.streams.get_mut(i).and_then(|s| s.head.take()) else {
            return Ok(false);
        };
        self.map(&rec);
        match self.advance(i) {
            Ok(()) => {
                if self.streams.len() > 1 {
                    if let Some(h) = self.streams[i].head {
                        self.heap.push(Reverse((h.time, h.device, h.sequence, i)));
                    }
                }
            }
            Err(e) => self.error = Some(e),
        }
        Ok(true)
    }

    fn map(&mut self, rec: &RawRecord) {
        let act = rec.action & 0xffff & !TA_CGROUP;
        if act == TA_QUEUE {
            if rec.time < self.genesis {
                self.mapper.counters.note("time_before_first_record");
            }
            let t = rec.time.saturating_sub(self.genesis);
            self.mapper.queue(t, rec.pid, rec.device, rec.sector, rec.bytes as u64, rec.action >> 16);
        } else if act == TA_REMAP {
            match rec.remap {
                // The partition's dev_t as blkparse prints it in `<- (maj,min)`: the kernel's MKDEV layout.
                Some((from, from_sector)) => {
                    self.mapper.remap(rec.pid, rec.device, rec.sector, from, from_sector);
                }
                None => self.mapper.counters.skip("remap"),
            }
        } else if act == 0 || act > TA_LAST {
            self.mapper.counters.skip("unknown_action");
        } else {
            self.mapper.counters.skip("not_queue_event");
        }
    }
}

fn track_sequence(seq: &mut Vec<SeqState>, last: &mut usize, rec: &RawRecord) {
    let i = match seq.get(*last) {
        Some(s) if s.device == rec.device && s.cpu == rec.cpu => *last,
        _ => match seq.iter().position(|s| s.device == rec.device && s.cpu == rec.cpu) {
            Some(i) => i,
            None => {
                seq.push(SeqState { device: rec.device, cpu: rec.cpu, last: 0, gaps: SequenceGaps::default() });
                seq.len() - 1
            }
        },
    };
    *last = i;
    let s = &mut seq[i];
    if s.last != 0 || rec.sequence > 1 {
        let expected = s.last.wrapping_add(1);
        if rec.sequence != expected {
            if rec.sequence > expected {
                s.gaps.gaps += 1;
                s.gaps.missing += (rec.sequence - expected) as u64;
            } else {
                s.gaps.backwards += 1;
            }
        }
    }
    s.last = rec.sequence;
}

impl<R: Read> Iterator for BlktraceImporter<R> {
    type Item = Result<Record, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.mapper.pending.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<R: Read> Importer for BlktraceImporter<R> {
    fn files(&self) -> &[TraceFile] {
        &self.mapper.files
    }
    fn processes(&self) -> &[ProcessInfo] {
        &self.mapper.processes
    }
    fn threads(&self) -> &[ThreadInfo] {
        &self.mapper.threads
    }
    fn stats(&self) -> Stats {
        let gaps: BTreeMap<(u32, u32), SequenceGaps> = self
            .seq
            .iter()
            .filter(|s| s.gaps != SequenceGaps::default())
            .map(|s| ((s.device, s.cpu), s.gaps))
            .collect();
        let mut st = self.mapper.counters.to_stats(gaps);
        st.partitions = self.mapper.partitions.clone();
        st
    }
}

/// Opens the per-CPU files of trace `name` in `dir` as blkparse does: `NAME.blktrace.0`, `.1`, ... until one is
/// missing, leaving out empty ones (a `name` ending in `.blktrace.N` is cut back to `NAME`). An error if none.
pub fn open_per_cpu(dir: &Path, name: &str) -> io::Result<Vec<(String, File)>> {
    let name = name.find(".blktrace.").map_or(name, |i| &name[..i]);
    let mut out = Vec::new();
    for cpu in 0u32.. {
        let path = dir.join(format!("{name}.blktrace.{cpu}"));
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        };
        if meta.len() == 0 {
            continue;
        }
        let f = File::open(&path)?;
        out.push((path.display().to_string(), f));
    }
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no input files found for {name} in {} (expected {name}.blktrace.0, ...)", dir.display()),
        ));
    }
    Ok(out)
}
