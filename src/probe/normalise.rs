//! A raw ftrace capture normalised into pcsim's event log (the ftrace parser is `ftrace`), with its counts.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use crate::trace::log::LogWriter;

use super::error::ProbeError;
use super::ftrace;

/// Counts from normalising a raw trace.
#[derive(Clone, Debug, Default)]
pub struct NormaliseStats {
    pub raw_lines: u64,
    pub events: u64,
    pub skipped: u64,
    pub errors: Vec<String>,
    /// Evictions (mm_filemap_delete_from_page_cache) fired by another task (kswapd, kdamond, ...), by task name.
    pub foreign_evictions: std::collections::BTreeMap<String, u64>,
}

/// Reads `raw` (ftrace text) and writes the normalised log to `out`.
pub fn normalise_file(
    raw: &Path,
    out: &Path,
    norm: &mut ftrace::Normaliser,
    header: &std::collections::BTreeMap<String, String>,
) -> Result<NormaliseStats, ProbeError> {
    // First pass: thread names by pid, for the lines ftrace printed with `<...>`.
    let r = BufReader::new(File::open(raw).map_err(|e| ProbeError::Host(format!("{}: {e}", raw.display())))?);
    for line in r.lines() {
        let line = line.map_err(|e| ProbeError::Host(format!("{}: {e}", raw.display())))?;
        if let Some(rawl) = ftrace::split_line(&line) {
            norm.learn_comm(&rawl);
        }
    }
    let r = BufReader::new(File::open(raw).map_err(|e| ProbeError::Host(format!("{}: {e}", raw.display())))?);
    let f = File::create(out).map_err(|e| ProbeError::Host(format!("{}: {e}", out.display())))?;
    let werr = |e: std::io::Error| ProbeError::Host(format!("writing {}: {e}", out.display()));
    let mut w = LogWriter::new(BufWriter::new(f), header).map_err(werr)?;
    let mut st = NormaliseStats::default();
    for (i, line) in r.lines().enumerate() {
        let line = line.map_err(|e| ProbeError::Host(format!("{}: {e}", raw.display())))?;
        let Some(rawl) = ftrace::split_line(&line) else { continue };
        st.raw_lines += 1;
        match norm.event(&rawl) {
            Ok(Some(e)) => {
                if let crate::trace::EventKind::MmFilemapDeleteFromPageCache { .. } = e.kind {
                    if crate::trace::event::is_foreign(&e.task) {
                        *st.foreign_evictions.entry(e.task.to_string()).or_default() += 1;
                    }
                }
                st.events += 1;
                w.write(&e).map_err(werr)?;
            }
            Ok(None) => st.skipped += 1,
            Err(e) => {
                if st.errors.len() < 20 {
                    st.errors.push(format!("{}:{}: {e}", raw.display(), i + 1));
                }
            }
        }
    }
    w.finish().map_err(werr)?.flush().map_err(werr)?;
    Ok(st)
}
