//! Trace replay (issue 13): real traces in, `Op`s out; a trace streamed through the model; the model's block events
//! out in blktrace's formats. What a replay means: docs/REPLAY.md; the formats: docs/REPLAY_FORMATS.md.
//!
//! Importers turn a recorded trace into a stream of [`Record`]s, one replayable call each, in trace order:
//! - [`blktrace`]: blktrace's binary per-CPU files (`NAME.blktrace.N`) or a merged `blkparse -d` file;
//! - [`blkparse`]: blkparse's default text output;
//! - [`iolog`]: fio's `--write_iolog` files, versions 2 and 3;
//! - [`strace`]: `strace -f -tt -T [-y]` text.
//!
//! Every importer is an `Iterator<Item = Result<Record, ImportError>>` over a reader (stdin works), holding
//! memory in proportion to the distinct files, descriptors and tasks it has seen, never to the trace's length.
//! After (or during) iteration it gives its file table ([`TraceFile`]), the tasks it saw ([`ProcessInfo`],
//! [`ThreadInfo`]) and [`Stats`]: what was read, what was skipped and why. An [`ImportError`] is fatal (the
//! iterator ends after it); anything else odd is a counted skip.
//!
//! The replay on top of them:
//! - [`source`]: `FORMAT:PATH`, the importer of a format over files (gzip detected) or spooled standard input;
//! - [`adapt`]: `--under` (files outside some paths left out) and `--direct`/`--buffered`;
//! - [`plan`]: the first pass: files, sizes, one task per thread issuing calls;
//! - [`timing`]: the recorded think time between a thread's calls, kept or dropped;
//! - [`demux`]: the second pass, handing each task its calls in bounded memory (spilling to files);
//! - [`scenario_out`] and [`naming`]: the replay as a scenario (`pcsim import`, and the header of a streamed run);
//! - [`synthetic`]: a blktrace of any length generated on the fly, for the scale benchmarks.
//!
//! The engine's side is `sim::simulate_replay`. [`export`] writes the model's block events as blkparse text or as a
//! blktrace binary that Debian's `blkparse` and `btt` read.
//!
//! Layering: this module uses the `Op` and `Event` vocabularies (`trace/`) and scenario types, never the model; the
//! model never uses it (tests/layers.rs).

pub mod adapt;
pub mod blkparse;
pub mod blktrace;
mod blktrace_read;
mod block;
pub mod demux;
pub mod export;
mod export_bit;
mod export_fmt;
pub mod iolog;
mod lines;
pub mod naming;
pub mod plan;
mod ron_ops;
pub mod scenario_out;
pub mod source;
mod spill;
pub mod strace;
mod strace_calls;
mod strace_fds;
mod strace_lex;
mod strace_ops;
pub mod synthetic;
pub mod timing;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use crate::trace::op::Op;

pub use block::{BlockOptions, Through};

/// The largest byte offset a file may reach: `i64::MAX` rounded down to a 4 KiB page (MAX_LFS_FILESIZE for the
/// page cache). A record whose offset plus length passes it is skipped (`offset_out_of_range`).
pub const MAX_FILE_END: u64 = (i64::MAX as u64) & !4095;

/// One replayable call, in trace order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Nanoseconds since the trace's first record, as recorded, never decreasing along the stream.
    pub time_ns: u64,
    /// Dense id of the process (fd tables are per process), in order of first appearance.
    pub process: u32,
    /// Dense id of the thread, in order of first appearance.
    pub thread: u32,
    /// The call. `FileId` indexes the importer's file table; `Fd` is the traced fd number for file-level traces
    /// (strace), an invented slot for the others (see each importer).
    pub op: Op,
    /// The call's recorded duration (strace -T), when known.
    pub duration_ns: Option<u64>,
}

/// One file (or block device) the trace touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFile {
    /// The path (strace, iolog) or the device name `devMAJ_MIN` (block traces).
    pub name: String,
    /// The largest offset + length touched (and sizes seen by fstat or lseek), or the device size when given.
    pub size: u64,
    /// Whether the file existed before the trace started (false for files the trace created).
    pub existed_before: bool,
}

/// A traced process (strace: a thread group; block traces: a pid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The traced pid (for strace the first tid seen in the group; 0 when the trace did not say).
    pub pid: u32,
    /// The command name, when the trace said (blktrace PROCESS notes, blkparse `[comm]`, strace execve).
    pub name: Option<String>,
}

/// A traced thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadInfo {
    /// The traced tid (blktrace and blkparse: the pid field; 0 when the trace did not say).
    pub tid: u32,
    /// Dense id of its process.
    pub process: u32,
    /// The thread's name, when the trace said.
    pub name: Option<String>,
}

/// Sequence numbers missing in one per-CPU blktrace stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequenceGaps {
    /// How many times a record's sequence was not the previous one's plus one.
    pub gaps: u64,
    /// Sequence numbers skipped over (lost records).
    pub missing: u64,
    /// Records whose sequence was not above the previous one's.
    pub backwards: u64,
}

/// A partition seen in a trace's remap (`A`) records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// The whole device's dev_t (the traced device).
    pub device: u32,
    /// Where the partition starts on it, in 512-byte sectors.
    pub start_sector: u64,
}

/// What an importer read and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Input records read: lines of a text trace, trace records of a binary one (notes included).
    pub records: u64,
    /// `Record`s produced.
    pub ops: u64,
    /// Input records not replayed, by reason (see docs/REPLAY_FORMATS.md for the names).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Things noticed that did not drop a record (implicit opens and closes, times raised to stay monotonic,
    /// file mappings whose page touches strace cannot see, ...).
    pub notes: BTreeMap<&'static str, u64>,
    /// blktrace: sequence gaps per (device dev_t, cpu).
    pub sequence_gaps: BTreeMap<(u32, u32), SequenceGaps>,
    /// Block traces: the partitions seen in remap (`A`) records, by dev_t.
    pub partitions: BTreeMap<u32, Partition>,
}

impl Stats {
    /// Total of all skip counts.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// The count for one skip reason (0 when none).
    pub fn skipped(&self, reason: &str) -> u64 {
        self.skipped.get(reason).copied().unwrap_or(0)
    }

    /// The count for one note (0 when none).
    pub fn noted(&self, what: &str) -> u64 {
        self.notes.get(what).copied().unwrap_or(0)
    }
}

/// Internal counters: fixed slots per reason, so the hot path of the binary importer is an array increment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
    records: u64,
    ops: u64,
    skips: Vec<(&'static str, u64)>,
    notes: Vec<(&'static str, u64)>,
}

impl Counters {
    pub(crate) fn record(&mut self) {
        self.records += 1;
    }
    pub(crate) fn records_read(&self) -> u64 {
        self.records
    }
    pub(crate) fn op(&mut self) {
        self.ops += 1;
    }
    /// Counts a skipped input record.
    pub(crate) fn skip(&mut self, reason: &'static str) {
        bump(&mut self.skips, reason);
    }
    /// Counts a note.
    pub(crate) fn note(&mut self, what: &'static str) {
        bump(&mut self.notes, what);
    }
    pub(crate) fn to_stats(&self, sequence_gaps: BTreeMap<(u32, u32), SequenceGaps>) -> Stats {
        Stats {
            records: self.records,
            ops: self.ops,
            skipped: self.skips.iter().copied().collect(),
            notes: self.notes.iter().copied().collect(),
            sequence_gaps,
            partitions: BTreeMap::new(),
        }
    }
}

fn bump(v: &mut Vec<(&'static str, u64)>, key: &'static str) {
    // Pointer equality first: reasons are string literals, so the same literal is usually the same pointer.
    if let Some(e) = v.iter_mut().find(|(k, _)| std::ptr::eq(*k, key) || *k == key) {
        e.1 += 1;
    } else {
        v.push((key, 1));
    }
}

/// Where in the input an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a text trace.
    Line(u64),
    /// Byte offset in a binary trace.
    Byte(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Byte(n) => write!(f, "byte {n}"),
        }
    }
}

/// What kind of failure an [`ImportError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Reading the input failed.
    Io,
    /// The input is not in the expected format at all (bad magic, wrong first line, empty input).
    NotThisFormat,
    /// A known format in a version this importer does not read (blktrace v8, fio iolog v1).
    UnsupportedVersion,
    /// The input ends in the middle of a record.
    Truncated,
    /// blkparse output with a custom `-f`/`-F` format.
    CustomFormat,
    /// A record that cannot be read, where going on would mean guessing.
    Malformed,
}

/// A fatal import error: the input, where in it, what, and a hint for the fix.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {at}: {message}\n  hint: {hint}")]
pub struct ImportError {
    /// The input's name as given to the importer (a path, `-`, ...).
    pub origin: String,
    /// Where.
    pub at: Location,
    /// What kind of error.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// The I/O error, for `ErrorKind::Io`.
    #[source]
    pub source: Option<std::io::Error>,
}

impl ImportError {
    pub(crate) fn new(origin: &str, at: Location, kind: ErrorKind, message: String, hint: &str) -> Self {
        ImportError { origin: origin.to_string(), at, kind, message, hint: hint.to_string(), source: None }
    }

    pub(crate) fn io(origin: &str, at: Location, e: std::io::Error) -> Self {
        ImportError {
            origin: origin.to_string(),
            at,
            kind: ErrorKind::Io,
            message: format!("read failed: {e}"),
            hint: "check that the input is readable".to_string(),
            source: Some(e),
        }
    }
}

/// What every importer gives besides its records.
pub trait Importer: Iterator<Item = Result<Record, ImportError>> {
    /// The file table so far (`FileId(i)` is entry `i`); complete once the iterator has ended.
    fn files(&self) -> &[TraceFile];
    /// The processes seen so far (`Record::process` indexes it).
    fn processes(&self) -> &[ProcessInfo];
    /// The threads seen so far (`Record::thread` indexes it).
    fn threads(&self) -> &[ThreadInfo];
    /// The counts so far.
    fn stats(&self) -> Stats;
}

/// Dense ids for traced ids (pids, tids) in order of first appearance, with a one-entry cache for the hot path.
#[derive(Clone, Debug, Default)]
pub(crate) struct DenseIds {
    map: hashbrown::HashMap<u32, u32>,
    last: Option<(u32, u32)>,
}

impl DenseIds {
    /// The dense id of `key`, and whether it is new (the next id, `next`).
    pub(crate) fn get_or_insert(&mut self, key: u32, next: u32) -> (u32, bool) {
        if let Some((k, v)) = self.last {
            if k == key {
                return (v, false);
            }
        }
        let mut new = false;
        let v = *self.map.entry(key).or_insert_with(|| {
            new = true;
            next
        });
        self.last = Some((key, v));
        (v, new)
    }

    pub(crate) fn get(&self, key: u32) -> Option<u32> {
        self.map.get(&key).copied()
    }
}

/// `off + len` if it stays within [`MAX_FILE_END`].
pub(crate) fn checked_end(off: u64, len: u64) -> Option<u64> {
    off.checked_add(len).filter(|&e| e <= MAX_FILE_END)
}
