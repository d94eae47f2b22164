//! Reading inputs and writing outputs safely: every input file has a size limit stated in its error, is refused when
//! it is a directory or a device, and must be text without NUL bytes; every output is written under a temporary
//! name and renamed when complete (a failed write never leaves a truncated file that looks whole), never over one of
//! the command's inputs, and a command's output directory must be new or empty.

use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

/// The largest scenario, extents or device-profile file read (64 MiB).
pub const MAX_TEXT_INPUT: u64 = 64 << 20;
/// The longest line of an event log, a vmstat series or a raw trace (1 MiB).
pub const MAX_LINE: usize = 1 << 20;

/// What kind of file `path` is, for refusing the ones that cannot be an input: `Err` names it.
pub fn check_input_kind(path: &Path, what: &str) -> Result<std::fs::Metadata, String> {
    let md = std::fs::metadata(path).map_err(|e| format!("{}: cannot read the {what}: {e}", path.display()))?;
    let ft = md.file_type();
    if ft.is_dir() {
        return Err(format!("{}: the {what} is a directory; give a file", path.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_block_device() || ft.is_char_device() || ft.is_socket() || ft.is_fifo() {
            return Err(format!(
                "{}: the {what} is a device, FIFO or socket, not a file; give a regular file",
                path.display()
            ));
        }
    }
    Ok(md)
}

/// Reads a text input of at most `limit` bytes: refused when larger ("WHAT files over N MiB are refused"), when it
/// is a directory or a device, when it holds a NUL byte or is not UTF-8 (both with the byte offset).
pub fn read_text(path: &Path, what: &str, limit: u64) -> Result<String, String> {
    let md = check_input_kind(path, what)?;
    let over = || {
        format!(
            "{}: {what} files over {} MiB are refused (this one is larger); is it the right file?",
            path.display(),
            limit >> 20
        )
    };
    if md.is_file() && md.len() > limit {
        return Err(over());
    }
    let f = std::fs::File::open(path).map_err(|e| format!("{}: cannot read the {what}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: cannot read the {what}: {e}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(over());
    }
    text_of(bytes, path, what)
}

/// The bytes as text: refused at the first NUL byte or invalid UTF-8 sequence, with its byte offset.
pub fn text_of(bytes: Vec<u8>, path: &Path, what: &str) -> Result<String, String> {
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(format!("{}: byte {at}: a NUL byte in the {what}: it is not a text file", path.display()));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!("{}: byte {}: the {what} is not valid UTF-8 text: {e}", path.display(), e.utf8_error().valid_up_to())
    })
}

/// Opens an input read line by line (a `.gz` name is decompressed), refusing directories and devices.
pub fn open_input(path: &Path, what: &str) -> Result<Box<dyn BufRead>, String> {
    check_input_kind(path, what)?;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: cannot read the {what}: {e}", path.display()))?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    Ok(if gz {
        Box::new(io::BufReader::new(flate2::bufread::MultiGzDecoder::new(io::BufReader::new(f))))
    } else {
        Box::new(io::BufReader::new(f))
    })
}

/// Reads the next line of `r` into `buf` (without its newline), refusing a line over MAX_LINE bytes (a corrupt or
/// hostile file: a gzip bomb of one endless line), a NUL byte and invalid UTF-8. Returns false at the end; the error
/// says what is wrong with the line (the caller names the file and line).
pub fn next_line_raw(r: &mut dyn BufRead, buf: &mut String) -> Result<bool, String> {
    buf.clear();
    let mut bytes = std::mem::take(buf).into_bytes();
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    if n == 0 {
        return Ok(false);
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    } else if bytes.len() > MAX_LINE {
        return Err(format!("a line longer than {} MiB: the file is corrupt or not what it should be", MAX_LINE >> 20));
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    if bytes.contains(&0) {
        return Err("a NUL byte: the file is not text".into());
    }
    *buf = String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    Ok(true)
}

/// `next_line_raw` with errors naming `path` and the line (`path:LINE: ...`).
pub fn next_line(r: &mut dyn BufRead, buf: &mut String, path: &Path, line_no: usize) -> Result<bool, String> {
    next_line_raw(r, buf).map_err(|e| format!("{}:{line_no}: {e}", path.display()))
}

/// Whether two paths name the same file (same device and inode), when both exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
}

/// Refuses an output path that is one of the command's inputs (it would be overwritten) or whose directory does
/// not exist.
pub fn check_output(out: &Path, inputs: &[&Path]) -> Result<(), String> {
    for i in inputs {
        if same_file(out, i) {
            return Err(format!(
                "{}: this output is also an input ({}): it would be overwritten; choose another path",
                out.display(),
                i.display()
            ));
        }
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(format!("{}: its directory {} does not exist", out.display(), parent.display()));
    }
    Ok(())
}

/// An output directory: refused when it is a file, is not empty, or its parent does not exist; created otherwise.
pub fn prepare_out_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(format!("{}: the output directory is a file", dir.display()));
        }
        let mut entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "{}: the output directory is not empty: its files would be overwritten; give a new or empty directory",
                dir.display()
            ));
        }
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(format!("{}: its parent directory {} does not exist", dir.display(), parent.display()));
    }
    std::fs::create_dir(dir).map_err(|e| format!("{}: cannot create the output directory: {e}", dir.display()))
}

/// A file written under a temporary name in its directory and renamed to its name by `commit` once complete; dropped
/// uncommitted (an error on the way), the temporary file is removed.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    w: Option<io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> Result<Self, String> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.pcsim-tmp-{}", std::process::id()));
        let f = std::fs::File::create(&tmp).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        Ok(AtomicFile { path: path.to_path_buf(), tmp, w: Some(io::BufWriter::new(f)) })
    }

    /// The writer; an error names the file being written.
    pub fn writer(&mut self) -> &mut io::BufWriter<std::fs::File> {
        self.w.as_mut().expect("invariant: an AtomicFile is written only before commit")
    }

    /// A write error as a message naming the file.
    pub fn err(&self, e: io::Error) -> String {
        format!("{}: cannot write: {e}", self.path.display())
    }

    /// Flushes, syncs and renames the file to its name.
    pub fn commit(mut self) -> Result<(), String> {
        let w = self.w.take().expect("invariant: committed once");
        let f = w.into_inner().map_err(|e| format!("{}: cannot write: {}", self.path.display(), e.error()))?;
        f.sync_all().map_err(|e| format!("{}: cannot write: {e}", self.path.display()))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| format!("{}: cannot write: {e}", self.path.display()))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.w.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `text` to `path` atomically.
pub fn write_atomic(path: &Path, text: &[u8]) -> Result<(), String> {
    let mut f = AtomicFile::create(path)?;
    if let Err(e) = f.writer().write_all(text) {
        return Err(f.err(e));
    }
    f.commit()
}

/// A directory removed with everything in it when dropped (a command's scratch space, so that nothing is left in
/// the temporary directory on any exit path that unwinds).
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `TMPDIR/PREFIX-PID-N` (a new name: N counts up until one is free).
    pub fn new(prefix: &str) -> Result<Self, String> {
        Self::new_in(&std::env::temp_dir(), prefix)
    }

    /// Creates `BASE/PREFIX-PID-N`.
    pub fn new_in(base: &Path, prefix: &str) -> Result<Self, String> {
        for n in 0..1000 {
            let p = base.join(format!("{prefix}-{}-{n}", std::process::id()));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("{}: cannot create a temporary directory: {e}", p.display())),
            }
        }
        Err(format!("{}: no free temporary directory name for {prefix}", base.display()))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
