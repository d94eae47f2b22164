//! blkparse default-text importer: the lines `blkparse -i NAME` prints with its default format, replayed from
//! their `Q` lines exactly as the binary importer replays `Q` records (see the `block` module docs).
//!
//! Line shape (blkparse_fmt.c `process_default`): `"%3d,%-3d %2d %8d %5d.%09lu %5u %2s %3s "` (maj,min, cpu,
//! sequence, seconds.nanoseconds since the trace's start, pid, action, RWBS), then per action; a `Q` line ends in
//! `SECTOR + NSECT [comm]`, or just `[comm]` when the bio has no data (a flush).
//!
//! - `Input file NAME.blktrace.N added` lines and blank lines are skipped (`input_file_line`, `blank_line`);
//!   message lines (`m`) are skipped (`message`); lines of other actions are skipped (`not_queue_event`, `remap`
//!   for `A`).
//! - Reading stops at the trailing summary (`CPU0 (8,0):`, `Total (...)`, `Events (...)`, `Skips:`,
//!   `Throughput`, `Trace started at`, or a per-process header `name (pid)` of `-s`).
//! - A custom `-f`/`-F` format is refused: an error if the first record line does not start like the default
//!   header, or if the first `Q` line's tail is not the default one. Later unreadable lines are skipped
//!   (`malformed_line`), lines over 1 MiB too (`line_too_long`).
//! - Sizes come from `NSECT` (blkparse prints `bytes >> 9`, so a bio's last partial sector is lost).

use std::io::BufRead;

use super::block::{rwbs_bits, BlockMapper};
use super::lines::{Line, Lines};
use super::{
    BlockOptions, ErrorKind, ImportError, Importer, Location, ProcessInfo, Record, Stats, ThreadInfo, TraceFile,
};

/// Imports blkparse default text; an iterator of [`Record`]s.
pub struct BlkparseImporter<R> {
    origin: String,
    lines: Lines<R>,
    mapper: BlockMapper,
    first_time: Option<u64>,
    seen_record: bool,
    seen_queue: bool,
    done: bool,
}

/// The fields of a record line's header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub dev: u32,
    pub cpu: u32,
    pub seq: u32,
    pub time_ns: u64,
    pub pid: u32,
    pub action: &'a str,
    pub rwbs: &'a str,
    /// The rest of the line after the RWBS column, trimmed.
    pub tail: &'a str,
}

/// Splits off the next whitespace-separated token: (token, rest).
fn token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses the default header, `None` if the line does not start like one.
pub(crate) fn parse_header(line: &str) -> Option<Header<'_>> {
    let (dev, rest) = token(line)?;
    let (maj, min) = dev.split_once(',')?;
    let (maj, min): (u32, u32) = (digits(maj)?, digits(min)?);
    if maj >= 1 << 12 || min >= 1 << 20 {
        return None;
    }
    let (cpu, rest) = token(rest)?;
    let (seq, rest) = token(rest)?;
    let (time, rest) = token(rest)?;
    let (sec, nsec) = time.split_once('.')?;
    if nsec.len() != 9 {
        return None;
    }
    let time_ns = digits::<u64>(sec)?.checked_mul(1_000_000_000)?.checked_add(digits::<u64>(nsec)?)?;
    let (pid, rest) = token(rest)?;
    let (action, rest) = token(rest)?;
    if !action.bytes().all(|b| b.is_ascii_alphabetic()) || action.len() > 2 {
        return None;
    }
    let (rwbs, rest) = token(rest)?;
    Some(Header {
        dev: (maj << 20) | min,
        cpu: digits(cpu)?,
        seq: digits(seq)?,
        time_ns,
        pid: digits(pid)?,
        action,
        rwbs,
        tail: rest.trim(),
    })
}

/// A `Q` tail: `Some((sector, nsect, comm))`, `Ok(None)` for a passthrough (PC) request, `Err` if not default.
fn comm(s: &str) -> Result<&str, ()> {
    let s = s.trim();
    if s.starts_with('[') && s.ends_with(']') && s.len() >= 2 {
        Ok(&s[1..s.len() - 1])
    } else {
        Err(())
    }
}

#[allow(clippy::type_complexity)]
fn parse_queue_tail(tail: &str) -> Result<Option<(u64, u64, &str)>, ()> {
    if tail.starts_with('[') {
        return Ok(Some((0, 0, comm(tail)?)));
    }
    let (first, rest) = token(tail).ok_or(())?;
    let first: u64 = digits(first).ok_or(())?;
    match token(rest) {
        Some(("+", rest)) => {
            let (n, rest) = token(rest).ok_or(())?;
            let n: u64 = digits(n).ok_or(())?;
            Ok(Some((first, n, comm(rest)?)))
        }
        // PC requests print `BYTES [(cdb)] [comm]`.
        Some((t, _)) if t.starts_with('(') || t.starts_with('[') => Ok(None),
        _ => Err(()),
    }
}

/// Whether a non-record line starts blkparse's trailing summary.
fn is_summary(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with("Total (")
        || t.starts_with("Events (")
        || t.starts_with("Skips:")
        || t.starts_with("Throughput (R/W)")
        || t.starts_with("Trace started at")
        || t.starts_with("Reads Queued:")
    {
        return true;
    }
    if let Some(r) = t.strip_prefix("CPU") {
        let d = r.bytes().take_while(u8::is_ascii_digit).count();
        if d > 0 && r[d..].starts_with(" (") {
            return true;
        }
    }
    // `blkparse -s` per-process headers: `name (pid)`.
    if let Some(open) = t.rfind(" (") {
        let inner = &t[open + 2..];
        if let Some(n) = inner.strip_suffix(')') {
            return digits::<u32>(n).is_some();
        }
    }
    false
}

impl<R: BufRead> BlkparseImporter<R> {
    /// An importer reading `reader`; `origin` names it in errors.
    pub fn new(origin: impl Into<String>, reader: R, opts: BlockOptions) -> Self {
        BlkparseImporter {
            origin: origin.into(),
            lines: Lines::new(reader),
            mapper: BlockMapper::new(opts),
            first_time: None,
            seen_record: false,
            seen_queue: false,
            done: false,
        }
    }

    /// Reads one line; false at the end of the records.
    fn step(&mut self) -> Result<bool, ImportError> {
        let origin = &self.origin;
        let (line_no, line) = match self.lines.next_line() {
            Ok(Some((n, Line::Text(t)))) => (n, t),
            Ok(Some((_, Line::TooLong))) => {
                self.mapper.counters.record();
                self.mapper.counters.skip("line_too_long");
                return Ok(true);
            }
            Ok(None) => {
                if self.mapper.counters.records_read() == 0 {
                    return Err(ImportError::new(
                        origin,
                        Location::Line(1),
                        ErrorKind::NotThisFormat,
                        "empty input: no blkparse line".into(),
                        "give the output of `blkparse -i NAME` (default format)",
                    ));
                }
                return Ok(false);
            }
            Err(e) => return Err(ImportError::io(origin, Location::Line(self.lines.line_no + 1), e)),
        };
        let counters = &mut self.mapper.counters;
        counters.record();
        let Some(h) = parse_header(&line) else {
            if line.trim().is_empty() {
                counters.skip("blank_line");
                return Ok(true);
            }
            if line.starts_with("Input file ") && line.ends_with(" added") {
                counters.skip("input_file_line");
                return Ok(true);
            }
            if is_summary(&line) {
                return Ok(false);
            }
            if !self.seen_record {
                return Err(ImportError::new(
                    origin,
                    Location::Line(line_no),
                    ErrorKind::CustomFormat,
                    format!("not a blkparse default-format line: `{}`", truncate(&line)),
                    "custom blkparse formats (-f/-F) cannot be read: run blkparse again without -f/-F, or import \
                     the binary trace (NAME.blktrace.N) instead",
                ));
            }
            counters.skip("malformed_line");
            return Ok(true);
        };
        self.seen_record = true;
        let first = *self.first_time.get_or_insert(h.time_ns);
        match h.action {
            "Q" => {}
            "m" => {
                counters.skip("message");
                return Ok(true);
            }
            "A" => {
                // `SECTOR + NSECT <- (MAJ,MIN) FROM_SECTOR`: a partition's bio remapped to the whole device.
                match parse_remap_tail(h.tail) {
                    Some((sector, from, from_sector)) => {
                        self.mapper.remap(h.pid, h.dev, sector, from, from_sector);
                    }
                    None => counters.skip("remap"),
                }
                return Ok(true);
            }
            "G" | "M" | "F" | "S" | "R" | "D" | "C" | "P" | "U" | "UT" | "I" | "X" | "B" => {
                counters.skip("not_queue_event");
                return Ok(true);
            }
            _ if h.rwbs == "m" || h.tail.starts_with("m ") => {
                counters.skip("message");
                return Ok(true);
            }
            _ => {
                counters.skip("unknown_action");
                return Ok(true);
            }
        }
        let tail = match parse_queue_tail(h.tail) {
            Ok(t) => t,
            Err(()) if !self.seen_queue => {
                return Err(ImportError::new(
                    origin,
                    Location::Line(line_no),
                    ErrorKind::CustomFormat,
                    format!("a Q line without the default `SECTOR + NSECT [comm]` tail: `{}`", truncate(&line)),
                    "custom blkparse formats (-f/-F) cannot be read: run blkparse again without -f/-F",
                ));
            }
            Err(()) => {
                counters.skip("malformed_line");
                return Ok(true);
            }
        };
        self.seen_queue = true;
        let Some((sector, nsect, comm)) = tail else {
            counters.skip("pc_request");
            return Ok(true);
        };
        let Some(bits) = rwbs_bits(h.rwbs) else {
            counters.skip("bad_rwbs");
            return Ok(true);
        };
        let Some(bytes) = nsect.checked_mul(512) else {
            counters.skip("offset_out_of_range");
            return Ok(true);
        };
        self.mapper.name_pid(h.pid, comm);
        let t = h.time_ns.saturating_sub(first);
        self.mapper.queue(t, h.pid, h.dev, sector, bytes, bits);
        Ok(true)
    }
}

/// An `A` line's tail: (whole-device sector, the partition's dev_t, the sector in the partition).
fn parse_remap_tail(tail: &str) -> Option<(u64, u32, u64)> {
    let (left, right) = tail.split_once(" <- ")?;
    let sector = left.split_whitespace().next()?.parse().ok()?;
    let (dev, from) = right.trim().strip_prefix('(')?.split_once(')')?;
    let (maj, min) = dev.split_once(',')?;
    let (maj, min): (u32, u32) = (maj.trim().parse().ok()?, min.trim().parse().ok()?);
    (maj < 1 << 12 && min < 1 << 20).then_some(())?;
    Some((sector, (maj << 20) | min, from.trim().parse().ok()?))
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl<R: BufRead> Iterator for BlkparseImporter<R> {
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

impl<R: BufRead> Importer for BlkparseImporter<R> {
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
        let mut st = self.mapper.counters.to_stats(Default::default());
        st.partitions = self.mapper.partitions.clone();
        st
    }
}
