//! Opening a trace for replay: `FORMAT:PATH` ([`TraceSpec`]), the importer for its format over a counting reader
//! (for a progress display), gzip detected by its magic, and standard input (`-`) spooled to a temporary file so the
//! trace can be read twice (the replay's plan needs one full pass before the run: see [`super::plan`]).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::adapt::{Adapt, AdaptOptions};
use super::blkparse::BlkparseImporter;
use super::blktrace::{open_per_cpu, BlktraceImporter};
use super::iolog::{IologImporter, IologOptions};
use super::strace::StraceImporter;
use super::{BlockOptions, ErrorKind, ImportError, Importer, Location};

/// A trace format `pcsim` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// blktrace's binary per-CPU files or a merged `blkparse -d` file.
    Blktrace,
    /// blkparse's default text output.
    Blkparse,
    /// fio's `write_iolog` files (versions 2 and 3).
    Iolog,
    /// `strace -f -tt -T [-y]` text.
    Strace,
}

impl Format {
    /// Every format, by its name on the command line.
    pub const ALL: [(&'static str, Format); 4] = [
        ("blktrace", Format::Blktrace),
        ("blkparse", Format::Blkparse),
        ("iolog", Format::Iolog),
        ("strace", Format::Strace),
    ];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        Format::ALL.iter().find(|(_, f)| *f == self).map_or("?", |(n, _)| n)
    }

    /// Whether the trace is of block requests (one file per device) rather than of a program's calls.
    pub fn is_block(self) -> bool {
        matches!(self, Format::Blktrace | Format::Blkparse)
    }

    /// The format named `s`, or an error listing the known ones.
    pub fn parse(s: &str) -> Result<Format, String> {
        Format::ALL.iter().find(|(n, _)| *n == s).map(|&(_, f)| f).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
            format!("unknown trace format `{s}`: use one of {}", names.join(", "))
        })
    }
}

/// A trace named on the command line: `FORMAT:PATH`, PATH `-` for standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSpec {
    /// The format.
    pub format: Format,
    /// The path as given (`-`: standard input). For blktrace also `DIR/NAME.blktrace.0` (all CPUs are read) or
    /// `DIR/NAME` when `NAME.blktrace.0` exists there.
    pub path: String,
}

impl TraceSpec {
    /// Parses `FORMAT:PATH`.
    pub fn parse(s: &str) -> Result<TraceSpec, String> {
        let Some((format, path)) = s.split_once(':') else {
            return Err(format!(
                "`{s}` is not FORMAT:PATH (e.g. strace:trace.txt, blktrace:sda.blktrace.0, blkparse:-, iolog:job.log)"
            ));
        };
        if path.is_empty() {
            return Err(format!("`{s}`: no path after `{format}:` (use `-` for standard input)"));
        }
        Ok(TraceSpec { format: Format::parse(format)?, path: path.to_string() })
    }
}

impl std::fmt::Display for TraceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.format.name(), self.path)
    }
}

/// How to read a trace: the options of every importer, and the adapter's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Block traces: through the cache or to the device, and device sizes.
    pub block: BlockOptions,
    /// `Some(true)`: open every file O_DIRECT (`--direct`), `Some(false)`: buffered (`--buffered`); `None`: as
    /// recorded (strace), refused for an iolog (the log does not say).
    pub direct: Option<bool>,
    /// fio iologs: replay `trim` as a hole punch (fio's `falloc` engine).
    pub trim_as_punch_hole: bool,
    /// File-level traces: keep only files under these paths (and strip the path from their names).
    pub under: Vec<String>,
}

/// Bytes read from a trace's files so far (for a progress display), shared with the reader.
#[derive(Clone, Debug, Default)]
pub struct ReadCounter(Arc<AtomicU64>);

impl ReadCounter {
    /// Bytes read so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A reader that counts what it reads.
pub struct Counted<R> {
    inner: R,
    count: ReadCounter,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A file, or its gzip-decompressed content when it starts with gzip's magic.
type Decoded = Box<dyn Read + Send>;

fn decoded(f: File, count: &ReadCounter) -> io::Result<Decoded> {
    let mut r = BufReader::with_capacity(1 << 16, Counted { inner: f, count: count.clone() });
    let gz = io::BufRead::fill_buf(&mut r)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz { Box::new(flate2::read::MultiGzDecoder::new(r)) } else { Box::new(r) })
}

/// A trace that can be opened as often as needed: its files, or standard input spooled to a temporary file.
#[derive(Debug)]
pub struct TraceInput {
    /// The trace as given.
    pub spec: TraceSpec,
    /// The files to read (for blktrace, its per-CPU files), with their names for errors.
    files: Vec<(String, PathBuf)>,
    /// The spool of standard input, deleted when the input is dropped.
    spool: Option<PathBuf>,
    /// Total bytes of the files (for a progress display).
    pub total_bytes: u64,
}

impl Drop for TraceInput {
    fn drop(&mut self) {
        if let Some(p) = &self.spool {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn input_error(origin: &str, message: String, hint: &str) -> ImportError {
    ImportError::new(origin, Location::Byte(0), ErrorKind::Io, message, hint)
}

impl TraceInput {
    /// Resolves the trace's files (spooling standard input into `spool_dir`).
    pub fn new(spec: &TraceSpec, spool_dir: &Path) -> Result<TraceInput, ImportError> {
        let mut input = TraceInput { spec: spec.clone(), files: Vec::new(), spool: None, total_bytes: 0 };
        if spec.path == "-" {
            let p = spool_dir.join(format!("pcsim-trace-stdin-{}", std::process::id()));
            let spool_failed = |e: io::Error| {
                input_error("-", format!("spooling standard input to {}: {e}", p.display()), "check free space there")
            };
            let mut f = File::create(&p).map_err(spool_failed)?;
            input.spool = Some(p.clone());
            io::copy(&mut io::stdin().lock(), &mut f).map_err(spool_failed)?;
            input.files.push(("-".into(), p));
        } else if spec.format == Format::Blktrace {
            input.files = blktrace_files(&spec.path)?;
        } else {
            input.files.push((spec.path.clone(), PathBuf::from(&spec.path)));
        }
        for (origin, p) in &input.files {
            let meta = std::fs::metadata(p).map_err(|e| {
                input_error(origin, format!("cannot read the trace: {e}"), "check the path after FORMAT:")
            })?;
            input.total_bytes += meta.len();
        }
        Ok(input)
    }

    /// The trace of `format` in several files: blktrace's per-CPU files given one by one (`NAME.blktrace.0
    /// NAME.blktrace.1 ...`); the other formats take one file.
    pub fn with_files(format: Format, paths: &[String], spool_dir: &Path) -> Result<TraceInput, ImportError> {
        match paths {
            [] => Err(input_error("-", "no trace file given".into(), "name the trace's file(s)")),
            [one] => TraceInput::new(&TraceSpec { format, path: one.clone() }, spool_dir),
            [first, ..] if format != Format::Blktrace || paths.iter().any(|p| p == "-") => Err(input_error(
                first,
                format!("{} traces are read from one file (or `-`), not {}", format.name(), paths.len()),
                "give one file (strace -ff writes one per process: import each alone)",
            )),
            [first, ..] => {
                let mut input = TraceInput {
                    spec: TraceSpec { format, path: first.clone() },
                    files: paths.iter().map(|p| (p.clone(), PathBuf::from(p))).collect(),
                    spool: None,
                    total_bytes: 0,
                };
                for (origin, p) in &input.files {
                    let meta = std::fs::metadata(p).map_err(|e| {
                        input_error(origin, format!("cannot read the trace: {e}"), "check the file names")
                    })?;
                    input.total_bytes += meta.len();
                }
                Ok(input)
            }
        }
    }

    /// The trace's files (names as given, for errors, and paths).
    pub fn files(&self) -> &[(String, PathBuf)] {
        &self.files
    }

    /// A new importer over the trace, counting the bytes it reads into `count`.
    pub fn open(&self, opts: &ImportOptions, count: &ReadCounter) -> Result<Box<dyn Importer + Send>, ImportError> {
        let mut readers = Vec::with_capacity(self.files.len());
        for (origin, p) in &self.files {
            let f = File::open(p).map_err(|e| {
                input_error(origin, format!("cannot open the trace: {e}"), "check the path after FORMAT:")
            })?;
            let r = decoded(f, count).map_err(|e| ImportError::io(origin, Location::Byte(0), e))?;
            readers.push((origin.clone(), r));
        }
        let adapt = AdaptOptions { direct: opts.direct, under: opts.under.clone() };
        let inner: Box<dyn Importer + Send> = if self.spec.format == Format::Blktrace {
            Box::new(BlktraceImporter::new(readers, opts.block.clone()))
        } else {
            let (origin, first) = readers.swap_remove(0);
            let r = BufReader::with_capacity(1 << 16, first);
            match self.spec.format {
                Format::Blkparse => Box::new(BlkparseImporter::new(origin, r, opts.block.clone())),
                Format::Iolog => {
                    let Some(direct) = opts.direct else {
                        return Err(ImportError::new(
                            &origin,
                            Location::Line(1),
                            ErrorKind::Malformed,
                            "an iolog does not say whether fio ran with direct=1".into(),
                            "pass --direct (fio's direct=1) or --buffered (direct=0), as the job file says",
                        ));
                    };
                    let o = IologOptions { direct, trim_as_punch_hole: opts.trim_as_punch_hole };
                    Box::new(IologImporter::new(origin, r, o))
                }
                _ => Box::new(StraceImporter::new(origin, r)),
            }
        };
        Ok(if self.spec.format.is_block() { inner } else { Box::new(Adapt::new(inner, adapt)) })
    }
}

/// blktrace's files for PATH: `DIR/NAME.blktrace.N` (all CPUs), `DIR/NAME` when `DIR/NAME.blktrace.0` exists,
/// else PATH itself (a merged file).
fn blktrace_files(path: &str) -> Result<Vec<(String, PathBuf)>, ImportError> {
    let p = Path::new(path);
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let per_cpu = name.contains(".blktrace.") || (!p.exists() && dir.join(format!("{name}.blktrace.0")).exists());
    if !per_cpu {
        return Ok(vec![(path.to_string(), p.to_path_buf())]);
    }
    let files = open_per_cpu(dir, &name).map_err(|e| {
        input_error(path, format!("{e}"), "give NAME.blktrace.0 of a blktrace -o NAME run, or a merged file")
    })?;
    Ok(files.into_iter().map(|(origin, _)| (origin.clone(), PathBuf::from(origin))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_their_errors() {
        let s = TraceSpec::parse("strace:/tmp/a:b.txt").unwrap();
        assert_eq!((s.format, s.path.as_str()), (Format::Strace, "/tmp/a:b.txt"));
        assert_eq!(TraceSpec::parse("blkparse:-").unwrap().path, "-");
        assert!(TraceSpec::parse("strace").unwrap_err().contains("FORMAT:PATH"));
        assert!(TraceSpec::parse("strace:").unwrap_err().contains("standard input"));
        assert!(TraceSpec::parse("ftrace:x").unwrap_err().contains("blktrace, blkparse, iolog, strace"));
        assert_eq!(s.to_string(), "strace:/tmp/a:b.txt");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let spec = TraceSpec::parse("strace:/nonexistent/pcsim-trace.txt").unwrap();
        let e = TraceInput::new(&spec, Path::new("/tmp")).unwrap_err();
        assert_eq!(e.origin, "/nonexistent/pcsim-trace.txt");
        assert!(e.to_string().contains("cannot read the trace"), "{e}");
    }

    #[test]
    fn gzip_is_read_through() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.iolog.gz");
        let mut gz = flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::fast());
        gz.write_all(b"fio version 2 iolog\n/f add\n/f open\n/f read 0 4096\n/f close\n").unwrap();
        gz.finish().unwrap();
        let spec = TraceSpec::parse(&format!("iolog:{}", p.display())).unwrap();
        let input = TraceInput::new(&spec, dir.path()).unwrap();
        let count = ReadCounter::default();
        let opts = ImportOptions { direct: Some(false), ..Default::default() };
        let ops: Vec<_> = input.open(&opts, &count).unwrap().map(|r| r.unwrap().op.name()).collect();
        assert_eq!(ops, ["open", "pread", "close"]);
        assert_eq!(count.get(), input.total_bytes);
        // Without --direct/--buffered an iolog is refused with the fix.
        let e = input.open(&ImportOptions::default(), &count).err().unwrap();
        assert!(e.hint.contains("--direct"), "{e}");
    }
}
