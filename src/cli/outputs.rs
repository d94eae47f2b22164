//! Where `pcsim run` writes its results (a scenario's run and a trace's replay alike): files, or `-` for stdout.
//! Outputs are checked before the run (never over an input, `--out` new or empty with an existing parent) and each
//! file is written under a temporary name and renamed when complete.

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

    /// Refuses, before the run, an output file that is one of `inputs` or whose directory is missing, two outputs
    /// naming one file, and an `--out` or `--blktrace` directory that is a file, is not empty or has no parent.
    pub(crate) fn check(&self, inputs: &[&Path]) -> Result<(), Failure> {
        let files: Vec<(&str, &Path)> =
            [("--events", &self.events), ("--json", &self.json), ("--blkparse", &self.blkparse)]
                .into_iter()
                .filter_map(|(flag, p)| p.as_deref().map(|p| (flag, p)))
                .filter(|(_, p)| p.as_os_str() != "-")
                .collect();
        for (i, (flag, p)) in files.iter().enumerate() {
            crate::files::check_output(p, inputs).map_err(fail)?;
            if let Some((other, _)) = files[..i].iter().find(|(_, q)| q == p) {
                return Err(fail(format!("{other} and {flag} name the same file")));
            }
        }
        for dir in [&self.out, &self.blktrace].into_iter().flatten() {
            check_out_dir(dir)?;
        }
        Ok(())
    }

    /// Where the run streams its event log and series as it goes (beside the output, so nothing is left in the
    /// temporary directory and a rename stays on one filesystem); `None` when it keeps them in memory (no output
    /// of them, or the blktrace/blkparse exports, which read the events whole).
    pub(crate) fn spill_dir(&self) -> Option<PathBuf> {
        if self.blktrace.is_some() || self.blkparse.is_some() {
            return None;
        }
        match (&self.out, &self.events) {
            (Some(dir), _) => Some(parent_dir(dir)),
            (None, Some(p)) if p.as_os_str() != "-" => Some(parent_dir(p)),
            (None, Some(_)) => Some(std::env::temp_dir()),
            (None, None) => None,
        }
    }
}

/// The directory a path is in (`.` for a bare name).
pub(crate) fn parent_dir(p: &Path) -> PathBuf {
    p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
}

/// An output directory: refused when it is a file or a non-empty directory, or its parent does not exist (nothing
/// is created before the run succeeds).
pub(crate) fn check_out_dir(dir: &Path) -> Result<(), Failure> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(fail(format!("{}: the output directory is a file", dir.display())));
        }
        if std::fs::read_dir(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?.next().is_some() {
            return Err(fail(format!(
                "{}: the output directory is not empty: its files would be overwritten; give a new or empty directory",
                dir.display()
            )));
        }
        return Ok(());
    }
    let parent = parent_dir(dir);
    if !parent.is_dir() {
        return Err(fail(format!("{}: its parent directory {} does not exist", dir.display(), parent.display())));
    }
    Ok(())
}

/// Writes an output: `-` is standard output; a file is written under a temporary name and renamed when complete.
pub(crate) fn write_to(p: &Path, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Failure> {
    if p.as_os_str() == "-" {
        let mut o = std::io::stdout().lock();
        return f(&mut o).and_then(|()| o.flush()).map_err(|e| fail(format!("cannot write to standard output: {e}")));
    }
    let mut af = crate::files::AtomicFile::create(p).map_err(fail)?;
    if let Err(e) = f(af.writer()) {
        return Err(fail(af.err(e)));
    }
    af.commit().map_err(fail)
}
