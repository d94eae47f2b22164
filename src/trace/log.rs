//! The event log: one event per line, the same text for simulated and probed runs, so they diff directly.
//!
//! ```text
//! # pcsim event log v1
//! # source=probe scenario=quickstart seed=1 kernel=6.18.44
//! 1250000 reader page_cache_sync_ra file=data index=0 req_count=1 order=0 size=0 async_size=0 ra_pages=32 mmap_miss=0 prev_pos=-1
//! 1262000 reader mm_filemap_add_to_page_cache file=data index=0 order=0
//! ```
//! - `#` lines are comments; the first must be `# pcsim event log v1`; `# key=value ...` lines before the first
//!   event form the header (source, scenario, seed, ...).
//! - Each event line is `TIME_NS TASK NAME key=value...`: time in nanoseconds since the start of the run, the task
//!   (thread) that fired it, the tracepoint name, then its fields in the order `EventKind` declares them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, Write};
use std::sync::Arc;

use super::event::{Event, EventKind, FieldError, Name};
use crate::units::Nanos;

/// The first line of every event log.
pub const MAGIC: &str = "# pcsim event log v1";

/// A parsed log: header fields and events in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// The header's `key=value` pairs.
    pub header: BTreeMap<String, String>,
    /// The events, in log order.
    pub events: Vec<Event>,
}

/// A log line that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("line {line}: {msg}")]
    /// A line that is not an event.
    Line {
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    #[error("line {line}: {source}")]
    /// An event line with a bad field.
    Field {
        /// The 1-based line.
        line: usize,
        #[source]
        /// The field's error.
        source: FieldError,
    },
    #[error("reading the log: {0}")]
    /// The log could not be read.
    Io(#[from] io::Error),
}

/// Appends one event's line (without newline) to `out`.
pub fn format_event(e: &Event, out: &mut String) {
    let _ = write!(out, "{} {} {}", e.time.0, e.task, e.kind.name());
    e.kind.write_fields(out);
}

/// Writes the log line by line to `w`.
pub struct LogWriter<W: Write> {
    w: W,
    line: String,
}

impl<W: Write> LogWriter<W> {
    /// Starts a log with its magic line and header (`key=value`, sorted by key).
    pub fn new(mut w: W, header: &BTreeMap<String, String>) -> io::Result<Self> {
        writeln!(w, "{MAGIC}")?;
        if !header.is_empty() {
            let mut line = String::from("#");
            for (k, v) in header {
                let _ = write!(line, " {k}={}", sanitize(v));
            }
            writeln!(w, "{line}")?;
        }
        Ok(LogWriter { w, line: String::with_capacity(160) })
    }

    /// Writes one event line.
    pub fn write(&mut self, e: &Event) -> io::Result<()> {
        self.line.clear();
        format_event(e, &mut self.line);
        self.line.push('\n');
        self.w.write_all(self.line.as_bytes())
    }

    /// Ends the log and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Replaces whitespace and `=` so a value stays one token.
pub fn sanitize(v: &str) -> String {
    v.chars().map(|c| if c.is_whitespace() || c == '=' { '_' } else { c }).collect()
}

/// Parses one event line (no comment, no newline).
pub fn parse_event(line: &str) -> Result<Event, (String, Option<FieldError>)> {
    let mut it = line.split_ascii_whitespace();
    let time = it.next().ok_or_else(|| ("empty line".to_string(), None))?;
    let time: u64 = time.parse().map_err(|_| (format!("time `{time}` is not integer nanoseconds"), None))?;
    let task = it.next().ok_or_else(|| ("missing task column".to_string(), None))?;
    let name = it.next().ok_or_else(|| ("missing event name".to_string(), None))?;
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(12);
    for tok in it {
        let (k, v) = tok.split_once('=').ok_or_else(|| (format!("field `{tok}` is not key=value"), None))?;
        pairs.push((k, v));
    }
    let kind = EventKind::from_fields(name, &pairs).map_err(|e| (String::new(), Some(e)))?;
    Ok(Event { time: Nanos(time), task: Arc::from(task), kind })
}

/// Reads a whole log.
pub fn read_log<R: BufRead>(r: R) -> Result<Log, LogError> {
    let mut log = Log::default();
    let mut tasks: hashbrown::HashMap<String, Name> = hashbrown::HashMap::new();
    for (i, line) in r.lines().enumerate() {
        let line = line?;
        let lineno = i + 1;
        if lineno == 1 {
            if line.trim_end() != MAGIC {
                return Err(LogError::Line {
                    line: 1,
                    msg: format!("not a pcsim event log: the first line must be `{MAGIC}`"),
                });
            }
            continue;
        }
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix('#') {
            if log.events.is_empty() {
                for tok in rest.split_ascii_whitespace() {
                    if let Some((k, v)) = tok.split_once('=') {
                        log.header.insert(k.to_string(), v.to_string());
                    }
                }
            }
            continue;
        }
        let mut e = parse_event(t).map_err(|(msg, fe)| match fe {
            Some(source) => LogError::Field { line: lineno, source },
            None => LogError::Line { line: lineno, msg },
        })?;
        // Share one allocation per task name.
        if let Some(n) = tasks.get(&*e.task) {
            e.task = n.clone();
        } else {
            tasks.insert(e.task.to_string(), e.task.clone());
        }
        log.events.push(e);
    }
    Ok(log)
}

/// Opens a file for reading, decompressing it if it starts with the gzip magic (`1f 8b`), whatever its name.
pub fn open_maybe_gzip(path: &std::path::Path) -> io::Result<Box<dyn BufRead>> {
    let mut f = io::BufReader::new(std::fs::File::open(path)?);
    let gz = f.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz { Box::new(io::BufReader::new(flate2::bufread::MultiGzDecoder::new(f))) } else { Box::new(f) })
}

/// Reads a log file (plain or gzip); errors name the file.
pub fn read_log_file(path: &std::path::Path) -> Result<Log, String> {
    let r = open_maybe_gzip(path).map_err(|e| format!("{}: {e}", path.display()))?;
    read_log(r).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a whole log to a byte vector.
pub fn write_log(log: &Log) -> Vec<u8> {
    let mut w = LogWriter::new(Vec::new(), &log.header).expect("writing to memory");
    for e in &log.events {
        w.write(e).expect("writing to memory");
    }
    w.finish().expect("writing to memory")
}

/// An event as its log line (without the newline).
impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::with_capacity(128);
        format_event(self, &mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Log {
        let mut header = BTreeMap::new();
        header.insert("source".into(), "sim".into());
        header.insert("seed".into(), "7".into());
        let f: Name = Arc::from("data");
        let events = vec![
            Event {
                time: Nanos(10),
                task: Arc::from("reader"),
                kind: EventKind::PageCacheSyncRa {
                    file: f.clone(),
                    index: 0,
                    req_count: 1,
                    order: 0,
                    size: 0,
                    async_size: 0,
                    ra_pages: 32,
                    mmap_miss: 0,
                    prev_pos: -1,
                },
            },
            Event {
                time: Nanos(20),
                task: Arc::from("reader"),
                kind: EventKind::MmFilemapAddToPageCache { file: f.clone(), index: 4, order: 2 },
            },
            Event {
                time: Nanos(30),
                task: Arc::from("kworker"),
                kind: EventKind::BlockRqIssue {
                    device: Arc::from("disk0"),
                    rwbs: Arc::from("RA"),
                    bytes: 16384,
                    sector: 2048,
                    nr_sector: 32,
                },
            },
        ];
        Log { header, events }
    }

    #[test]
    fn round_trip() {
        let log = sample();
        let text = write_log(&log);
        let back = read_log(&text[..]).unwrap();
        assert_eq!(back, log);
        assert_eq!(write_log(&back), text);
        let s = String::from_utf8(text).unwrap();
        assert!(s.contains("20 reader mm_filemap_add_to_page_cache file=data index=4 order=2\n"), "{s}");
    }

    #[test]
    fn errors_name_the_line() {
        let bad = format!("{MAGIC}\n10 t mm_filemap_add_to_page_cache file=a index=x order=0\n");
        let e = read_log(bad.as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with("line 2:") && e.contains("index") && e.contains("unsigned"), "{e}");
        let bad = format!("{MAGIC}\n10 t no_such_event a=1\n");
        assert!(read_log(bad.as_bytes()).unwrap_err().to_string().contains("unknown event `no_such_event`"));
        let bad = format!("{MAGIC}\n10 t mm_filemap_fault file=a\n");
        assert!(read_log(bad.as_bytes()).unwrap_err().to_string().contains("lacks field `index`"));
        assert!(read_log("hello\n".as_bytes()).unwrap_err().to_string().contains("not a pcsim event log"));
    }
}
