//! Output directories: `DIR` must not exist or be empty; the output is written into `.NAME.partial-PID` beside it
//! and renamed to `DIR` when complete, so a failed or interrupted command leaves no half-written `DIR` (the partial
//! directory is removed on failure).

use std::path::{Path, PathBuf};

/// A directory being written, renamed into place by `commit`.
pub struct Staged {
    target: PathBuf,
    partial: PathBuf,
    committed: bool,
}

impl Staged {
    /// Checks `target` and creates the partial directory beside it.
    pub fn new(target: &Path) -> Result<Staged, String> {
        if target.exists() {
            if !target.is_dir() {
                return Err(format!("--out {}: exists and is not a directory", target.display()));
            }
            let mut rd = std::fs::read_dir(target).map_err(|e| format!("--out {}: {e}", target.display()))?;
            if rd.next().is_some() {
                return Err(format!(
                    "--out {}: the directory exists and is not empty (give a new directory; nothing is overwritten)",
                    target.display()
                ));
            }
        }
        let name = target
            .file_name()
            .ok_or_else(|| format!("--out {}: not a directory name", target.display()))?
            .to_string_lossy()
            .into_owned();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .map_err(|e| format!("--out {}: cannot create {}: {e}", target.display(), parent.display()))?;
        let partial = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir(&partial)
            .map_err(|e| format!("--out {}: cannot write in {}: {e}", target.display(), parent.display()))?;
        Ok(Staged { target: target.to_path_buf(), partial, committed: false })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Renames the partial directory to the target (an empty target is replaced).
    pub fn commit(mut self) -> Result<(), String> {
        if self.target.is_dir() {
            let _ = std::fs::remove_dir(&self.target);
        }
        std::fs::rename(&self.partial, &self.target)
            .map_err(|e| format!("renaming {} to {}: {e}", self.partial.display(), self.target.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.partial);
        }
    }
}
