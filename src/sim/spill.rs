//! Streaming a run's outputs to disk as it goes, in memory bounded by a chunk and independent of the run's length:
//! the events, emitted out of time order by tasks that run ahead of one another, are sorted per chunk of
//! `CHUNK_EVENTS` and written to a chunk file; the event log is the merge of the chunks by time, ties going to the
//! earlier chunk (so the result is the stable sort of the whole run, byte for byte what an in-memory run writes).
//! The vmstat series, made in time order, is written sample by sample.

use std::collections::BinaryHeap;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::files::TempDir;
use crate::trace::event::Event;
use crate::trace::series::Sample;

/// Events held in memory before a chunk is sorted and written out.
pub const CHUNK_EVENTS: usize = 1 << 18;

/// The chunk files and the series file of a run being streamed, in a scratch directory removed with it.
pub struct Spill {
    dir: TempDir,
    /// Events per chunk.
    pub chunk: usize,
    chunks: Vec<PathBuf>,
    series: Option<(PathBuf, BufWriter<std::fs::File>)>,
    line: String,
}

impl Spill {
    /// A spill in a new scratch directory under `base` (the output's own directory: same filesystem, and nothing
    /// left in the temporary directory).
    pub fn new(base: &Path, chunk: usize) -> Result<Spill, String> {
        Ok(Spill {
            dir: TempDir::new_in(base, ".pcsim-spill")?,
            chunk: if chunk == 0 { CHUNK_EVENTS } else { chunk },
            chunks: Vec::new(),
            series: None,
            line: String::new(),
        })
    }

    fn err(&self, e: io::Error) -> String {
        format!("{}: cannot write the run's spill files: {e}", self.dir.path().display())
    }

    /// Sorts `events` by time (stably: same-time events keep their emission order) and writes them as the next
    /// chunk; `events` is left empty.
    pub fn spill_events(&mut self, events: &mut Vec<Event>) -> Result<(), String> {
        if events.is_empty() {
            return Ok(());
        }
        events.sort_by_key(|e| e.time);
        let p = self.dir.path().join(format!("chunk-{:06}", self.chunks.len()));
        let r = (|| {
            let mut w = BufWriter::new(std::fs::File::create(&p)?);
            for e in events.iter() {
                self.line.clear();
                crate::trace::log::format_event(e, &mut self.line);
                self.line.push('\n');
                w.write_all(self.line.as_bytes())?;
            }
            w.flush()
        })();
        r.map_err(|e| self.err(e))?;
        self.chunks.push(p);
        events.clear();
        Ok(())
    }

    /// Appends a sample to the series file (started with `header` on the first sample).
    pub fn series_sample(&mut self, header: &str, s: &Sample) -> Result<(), String> {
        if self.series.is_none() {
            let p = self.dir.path().join("series");
            let mut w = BufWriter::new(std::fs::File::create(&p).map_err(|e| self.err(e))?);
            w.write_all(header.as_bytes()).map_err(|e| self.err(e))?;
            self.series = Some((p, w));
        }
        let line = crate::trace::series::sample_line(s);
        let r = self.series.as_mut().map(|(_, w)| w.write_all(line.as_bytes())).unwrap_or(Ok(()));
        r.map_err(|e| self.err(e))
    }

    /// Whether the series was streamed here.
    pub fn has_series(&self) -> bool {
        self.series.is_some()
    }

    /// Ends the writing: flushes the series file.
    pub fn finish(&mut self) -> Result<(), String> {
        let r = self.series.as_mut().map(|(_, w)| w.flush()).unwrap_or(Ok(()));
        r.map_err(|e| self.err(e))
    }

    /// Copies the series file (flushed by `finish`) to `w`.
    pub fn copy_series(&self, w: &mut dyn Write) -> io::Result<()> {
        let Some((p, _)) = self.series.as_ref() else { return Ok(()) };
        io::copy(&mut std::fs::File::open(p)?, w).map(|_| ())
    }

    /// Merges the chunks into `w`, one event line each, in time order (ties: the earlier chunk first).
    pub fn merge_events(&self, w: &mut dyn FnMut(&str) -> io::Result<()>) -> io::Result<()> {
        let mut readers: Vec<io::BufReader<std::fs::File>> =
            self.chunks.iter().map(|p| std::fs::File::open(p).map(io::BufReader::new)).collect::<Result<_, _>>()?;
        let mut lines: Vec<String> = vec![String::new(); readers.len()];
        // Min-heap on (time, chunk).
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(t) = next(r, &mut lines[i])? {
                heap.push(std::cmp::Reverse((t, i)));
            }
        }
        while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
            w(lines[i].trim_end_matches('\n'))?;
            if let Some(t) = next(&mut readers[i], &mut lines[i])? {
                heap.push(std::cmp::Reverse((t, i)));
            }
        }
        Ok(())
    }
}

/// Reads the next line of a chunk into `line`, returning its time (its first field).
fn next(r: &mut impl BufRead, line: &mut String) -> io::Result<Option<u64>> {
    line.clear();
    if r.read_line(line)? == 0 {
        return Ok(None);
    }
    let t = line.split(' ').next().and_then(|t| t.parse().ok());
    t.map(Some).ok_or_else(|| io::Error::other(format!("a spill chunk's line without a time: {line}")))
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spill({}, {} chunks)", self.dir.path().display(), self.chunks.len())
    }
}
