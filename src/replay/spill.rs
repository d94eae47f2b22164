//! A first-in first-out queue of records on disk, for a replay task that fell behind: the trace is read in its own
//! order, one thread's calls can wait while another's run ahead, and what waits beyond the replay's memory budget
//! goes here (one file per task, deleted when the queue is dropped). Records are one JSON line each: the spill is
//! for the rare case, not the fast path.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Record;
use crate::trace::op::Op;

#[derive(Serialize, Deserialize)]
struct Line {
    t: u64,
    p: u32,
    h: u32,
    d: Option<u64>,
    op: Op,
}

/// One task's spilled records.
#[derive(Debug)]
pub struct Spill {
    path: PathBuf,
    writer: io::BufWriter<File>,
    reader: BufReader<File>,
    /// Records written and not yet read back.
    pending: u64,
    line: String,
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Spill {
    /// A new, empty spill file at `path` (created, or truncated).
    pub fn create(path: PathBuf) -> io::Result<Spill> {
        let f = OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
        // A second open: the reader's offset is its own.
        let reader = BufReader::new(File::open(&path)?);
        Ok(Spill { path, writer: io::BufWriter::new(f), reader, pending: 0, line: String::new() })
    }

    /// Records waiting in the file.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Appends one record.
    pub fn push(&mut self, r: &Record) -> io::Result<()> {
        let line = Line { t: r.time_ns, p: r.process, h: r.thread, d: r.duration_ns, op: r.op.clone() };
        serde_json::to_writer(&mut self.writer, &line)?;
        self.writer.write_all(b"\n")?;
        self.pending += 1;
        Ok(())
    }

    /// Takes the oldest record; `None` when the file holds none. Once everything written has been read back, the
    /// file is emptied.
    pub fn pop(&mut self) -> io::Result<Option<Record>> {
        if self.pending == 0 {
            return Ok(None);
        }
        self.writer.flush()?;
        self.line.clear();
        self.reader.read_line(&mut self.line)?;
        let l: Line = serde_json::from_str(self.line.trim_end())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", self.path.display())))?;
        self.pending -= 1;
        if self.pending == 0 {
            // Everything was read back: empty the file and start both ends again.
            self.writer.get_mut().set_len(0)?;
            self.writer.get_mut().seek(SeekFrom::Start(0))?;
            self.reader = BufReader::new(File::open(&self.path)?);
        }
        Ok(Some(Record { time_ns: l.t, process: l.p, thread: l.h, op: l.op, duration_ns: l.d }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::op::Fd;

    fn rec(i: u64) -> Record {
        Record {
            time_ns: i,
            process: 1,
            thread: 2,
            op: Op::Pread { fd: Fd(3), off: i << 12, len: 4096 },
            duration_ns: Some(i),
        }
    }

    #[test]
    fn records_come_back_in_order_and_the_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spill");
        let mut s = Spill::create(path.clone()).unwrap();
        for i in 0..100 {
            s.push(&rec(i)).unwrap();
        }
        for i in 0..60 {
            assert_eq!(s.pop().unwrap(), Some(rec(i)));
        }
        // Interleaved writes and reads keep the order; an emptied file starts again.
        s.push(&rec(100)).unwrap();
        for i in 60..=100 {
            assert_eq!(s.pop().unwrap(), Some(rec(i)));
        }
        assert_eq!(s.pop().unwrap(), None);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        s.push(&rec(7)).unwrap();
        assert_eq!(s.pending(), 1);
        assert_eq!(s.pop().unwrap(), Some(rec(7)));
        drop(s);
        assert!(!path.exists());
    }
}
