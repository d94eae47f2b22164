//! fio iolog importer, versions 2 and 3 (fio's `iolog.c` `read_iolog`; HOWTO "Trace file format").
//!
//! - The first line must start with `fio version 2 iolog` or `fio version 3 iolog` (fio compares the prefix);
//!   version 1 (no header, `rw, offset, length` lines) is refused, as fio refuses it.
//! - v2 lines: `FILE ACTION` (add, open, close) or `FILE ACTION OFFSET LENGTH` (read, write, sync, datasync,
//!   trim, wait); v3 lines start with a timestamp in µs since the log started.
//! - One process and thread, pid 0, named `fio`. Each file name becomes a [`TraceFile`] (existed before: fio lays its files out before the job runs), sized to
//!   the largest offset + length it touched. An iolog has no descriptors: file `i` is always `Fd(i)`.
//! - `open` is `Open` (read-write, `O_DIRECT` as [`IologOptions::direct`] says: the log does not record it),
//!   `close` is `Close`; an I/O on a file the log never opened (fio leaves out the opens done before logging
//!   starts) gets an `Open` first (note `implicit_open`; an unknown file is added, note `implicit_add`).
//! - `read`/`write` are `Pread`/`Pwrite`; `sync`/`datasync` are `Fsync`/`Fdatasync` of the whole file; `trim` is
//!   skipped (`trim`: fio's trim is a BLKDISCARD ioctl, which fails on a regular file), unless
//!   [`IologOptions::trim_as_punch_hole`] (logs of fio's `falloc` engine, whose trim is
//!   `fallocate(PUNCH_HOLE | KEEP_SIZE)`).
//! - v2 `wait N` is a `Sleep` of N µs that also advances the record times (HOWTO: "relative to the previous wait";
//!   fio's replay code actually waits until N ms after the job started: docs/REPLAY_FORMATS.md); v3 `wait` is
//!   skipped as fio skips it (`wait_in_v3`). v3 times are the timestamps less the first, kept non-decreasing.
//! - Unknown actions (`unknown_action`), lines with the wrong number of fields or unreadable numbers
//!   (`malformed_line`), offsets past [`MAX_FILE_END`](super::MAX_FILE_END) (`offset_out_of_range`) and over-long
//!   lines (`line_too_long`) are counted and skipped, as fio logs and skips them.

use std::collections::VecDeque;
use std::io::BufRead;

use super::lines::{Line, Lines};
use super::{
    checked_end, Counters, ErrorKind, ImportError, Importer, Location, ProcessInfo, Record, Stats, ThreadInfo,
    TraceFile,
};
use crate::trace::op::{Access, FallocMode, Fd, FileId, Op, OpenFlags};

/// How to read an iolog. There is no default: whether fio ran with `direct=1` is not in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IologOptions {
    /// Open the files with O_DIRECT (fio's `direct=1`).
    pub direct: bool,
    /// Replay `trim` as `fallocate(PUNCH_HOLE | KEEP_SIZE)` (logs of fio's `falloc` ioengine) instead of skipping.
    pub trim_as_punch_hole: bool,
}

/// Imports a fio iolog; an iterator of [`Record`]s.
pub struct IologImporter<R> {
    origin: String,
    lines: Lines<R>,
    opts: IologOptions,
    version: u8,
    counters: Counters,
    files: Vec<TraceFile>,
    by_name: hashbrown::HashMap<String, u32>,
    open: Vec<bool>,
    processes: Vec<ProcessInfo>,
    threads: Vec<ThreadInfo>,
    first_ts: Option<u64>,
    now: u64,
    pending: VecDeque<Record>,
    done: bool,
}

fn num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl<R: BufRead> IologImporter<R> {
    /// An importer reading `reader`; `origin` names it in errors.
    pub fn new(origin: impl Into<String>, reader: R, opts: IologOptions) -> Self {
        IologImporter {
            origin: origin.into(),
            lines: Lines::new(reader),
            opts,
            version: 0,
            counters: Counters::default(),
            files: Vec::new(),
            by_name: hashbrown::HashMap::new(),
            open: Vec::new(),
            processes: Vec::new(),
            threads: Vec::new(),
            first_ts: None,
            now: 0,
            pending: VecDeque::with_capacity(2),
            done: false,
        }
    }

    /// The log's version (2 or 3), once its first line has been read.
    pub fn version(&self) -> Option<u8> {
        (self.version != 0).then_some(self.version)
    }

    fn file(&mut self, name: &str, implicit: bool) -> u32 {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        if implicit {
            self.counters.note("implicit_add");
        }
        let i = self.files.len() as u32;
        self.files.push(TraceFile { name: name.to_string(), size: 0, existed_before: true });
        self.by_name.insert(name.to_string(), i);
        self.open.push(false);
        i
    }

    fn push(&mut self, op: Op) {
        if self.processes.is_empty() {
            // The log names no job or pid: the one task is fio's.
            self.processes.push(ProcessInfo { pid: 0, name: Some("fio".into()) });
            self.threads.push(ThreadInfo { tid: 0, process: 0, name: Some("fio".into()) });
        }
        self.counters.op();
        self.pending.push_back(Record { time_ns: self.now, process: 0, thread: 0, op, duration_ns: None });
    }

    fn open_flags(&self) -> OpenFlags {
        OpenFlags { access: Access::ReadWrite, direct: self.opts.direct, ..Default::default() }
    }

    fn ensure_open(&mut self, f: u32) {
        if !self.open[f as usize] {
            self.counters.note("implicit_open");
            self.open[f as usize] = true;
            let flags = self.open_flags();
            self.push(Op::Open { fd: Fd(f), file: FileId(f), flags });
        }
    }

    fn header(&mut self, line_no: u64, line: &str) -> Result<(), ImportError> {
        if line.starts_with("fio version 2 iolog") {
            self.version = 2;
            return Ok(());
        }
        if line.starts_with("fio version 3 iolog") {
            self.version = 3;
            return Ok(());
        }
        let looks_v1 = {
            let mut t = line.split(|c: char| c == ',' || c.is_ascii_whitespace()).filter(|t| !t.is_empty());
            matches!((t.next(), t.next(), t.next(), t.next()), (Some("0" | "1"), Some(a), Some(b), None)
                if num(a).is_some() && num(b).is_some())
        };
        let (kind, message, hint) = if looks_v1 || line.starts_with("fio version") {
            (
                ErrorKind::UnsupportedVersion,
                format!("not a version 2 or 3 iolog: `{}`", line.chars().take(60).collect::<String>()),
                "iolog version 1 is not supported (fio dropped it in 1.20): record again with fio --write_iolog",
            )
        } else {
            (
                ErrorKind::NotThisFormat,
                format!("not a fio iolog: the first line is `{}`", line.chars().take(60).collect::<String>()),
                "a fio iolog starts with `fio version 3 iolog` (written by fio --write_iolog=FILE)",
            )
        };
        Err(ImportError::new(&self.origin, Location::Line(line_no), kind, message, hint))
    }

    /// Reads one line; false at the end.
    fn step(&mut self) -> Result<bool, ImportError> {
        let (line_no, line) = match self.lines.next_line() {
            Ok(Some((n, Line::Text(t)))) => (n, t.into_owned()),
            Ok(Some((n, Line::TooLong))) => {
                if self.version == 0 {
                    return Err(ImportError::new(
                        &self.origin,
                        Location::Line(n),
                        ErrorKind::NotThisFormat,
                        "the first line is over 1 MiB long: not a fio iolog".into(),
                        "a fio iolog starts with `fio version 3 iolog`",
                    ));
                }
                self.counters.record();
                self.counters.skip("line_too_long");
                return Ok(true);
            }
            Ok(None) => {
                if self.version == 0 {
                    return Err(ImportError::new(
                        &self.origin,
                        Location::Line(1),
                        ErrorKind::NotThisFormat,
                        "empty input: no iolog header".into(),
                        "a fio iolog starts with `fio version 3 iolog` (written by fio --write_iolog=FILE)",
                    ));
                }
                return Ok(false);
            }
            Err(e) => return Err(ImportError::io(&self.origin, Location::Line(self.lines.line_no + 1), e)),
        };
        self.counters.record();
        if self.version == 0 {
            self.header(line_no, &line)?;
            return Ok(true);
        }
        self.line(&line);
        Ok(true)
    }

    fn line(&mut self, line: &str) {
        let mut t: [&str; 5] = [""; 5];
        let mut n = 0;
        for tok in line.split_ascii_whitespace() {
            if n < t.len() {
                t[n] = tok;
            }
            n += 1;
            if n > t.len() {
                break;
            }
        }
        if n == 0 {
            return self.counters.skip("blank_line");
        }
        let (ts, rest, m) = if self.version == 3 {
            match num(t[0]) {
                Some(ts) => (Some(ts), &t[1..], n - 1),
                None => return self.counters.skip("malformed_line"),
            }
        } else {
            (None, &t[..], n)
        };
        let io = match m {
            2 => None,
            4 => match (num(rest[2]), num(rest[3])) {
                (Some(off), Some(len)) => Some((off, len)),
                _ => return self.counters.skip("malformed_line"),
            },
            _ => return self.counters.skip("malformed_line"),
        };
        if let Some(ts) = ts {
            let first = *self.first_ts.get_or_insert(ts);
            let rel = ts.saturating_sub(first).saturating_mul(1000);
            if rel < self.now {
                self.counters.note("time_raised_to_monotonic");
            } else {
                self.now = rel;
            }
        }
        match io {
            None => self.file_action(rest[0], rest[1]),
            Some((off, len)) => self.io_action(rest[0], rest[1], off, len),
        }
    }

    fn file_action(&mut self, name: &str, act: &str) {
        match act {
            "add" => {
                if self.by_name.contains_key(name) {
                    self.counters.skip("re_add");
                } else {
                    self.file(name, false);
                    self.counters.note("file_added");
                }
            }
            "open" => {
                let f = self.file(name, true);
                if self.open[f as usize] {
                    return self.counters.skip("reopen");
                }
                self.open[f as usize] = true;
                let flags = self.open_flags();
                self.push(Op::Open { fd: Fd(f), file: FileId(f), flags });
            }
            "close" => match self.by_name.get(name) {
                Some(&f) if self.open[f as usize] => {
                    self.open[f as usize] = false;
                    self.push(Op::Close { fd: Fd(f) });
                }
                _ => self.counters.skip("close_unopened"),
            },
            _ => self.counters.skip("unknown_action"),
        }
    }

    fn io_action(&mut self, name: &str, act: &str, off: u64, len: u64) {
        match act {
            "wait" if self.version == 3 => return self.counters.skip("wait_in_v3"),
            "wait" => {
                let ns = off.saturating_mul(1000);
                self.push(Op::Sleep { ns });
                self.now = self.now.saturating_add(ns);
                return;
            }
            "read" | "write" | "trim" | "sync" | "datasync" => {}
            _ => return self.counters.skip("unknown_action"),
        }
        if act == "trim" && !self.opts.trim_as_punch_hole {
            return self.counters.skip("trim");
        }
        let sized = matches!(act, "read" | "write" | "trim");
        let end = checked_end(off, len);
        if sized && end.is_none() {
            return self.counters.skip("offset_out_of_range");
        }
        let f = self.file(name, true);
        self.ensure_open(f);
        if let (true, Some(end)) = (sized, end) {
            let tf = &mut self.files[f as usize];
            tf.size = tf.size.max(end);
        }
        let fd = Fd(f);
        self.push(match act {
            "read" => Op::Pread { fd, off, len },
            "write" => Op::Pwrite { fd, off, len },
            "trim" => Op::Fallocate { fd, mode: FallocMode::PunchHole, off, len },
            "sync" => Op::Fsync { fd },
            _ => Op::Fdatasync { fd },
        });
    }
}

impl<R: BufRead> Iterator for IologImporter<R> {
    type Item = Result<Record, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.pending.pop_front() {
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

impl<R: BufRead> Importer for IologImporter<R> {
    fn files(&self) -> &[TraceFile] {
        &self.files
    }
    fn processes(&self) -> &[ProcessInfo] {
        &self.processes
    }
    fn threads(&self) -> &[ThreadInfo] {
        &self.threads
    }
    fn stats(&self) -> Stats {
        self.counters.to_stats(Default::default())
    }
}
