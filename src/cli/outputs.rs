//! Where `pcsim run` writes its results (a scenario's run and a trace's replay alike): files, or `-` for stdout.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::failure::{fail, Failure};

/// Where `pcsim run` writes (shared with a scenario's run).
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    pub events: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub blktrace: Option<PathBuf>,
    pub blkparse: Option<PathBuf>,
}

impl Outputs {
    /// Whether the run must record events.
    pub(crate) fn events_needed(&self) -> bool {
        self.events.is_some() || self.out.is_some() || self.blktrace.is_some() || self.blkparse.is_some()
    }

    /// Whether stdout carries data (then the summary goes to stderr).
    pub(crate) fn stdout_taken(&self) -> bool {
        [&self.events, &self.json, &self.blkparse].iter().any(|p| p.as_deref() == Some(Path::new("-")))
    }
}

/// A file to write, `-` for stdout.
pub(crate) fn open_out(p: &Path) -> Result<Box<dyn Write>, Failure> {
    if p.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdout().lock()));
    }
    let f = std::fs::File::create(p).map_err(|e| fail(format!("creating {}: {e}", p.display())))?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}
