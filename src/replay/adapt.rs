//! What the command line asks of a file-level trace beyond its importer: keep only the files under some paths
//! (`--under DIR`: a program's libraries, locales and configuration files are not the workload), and open every
//! file `O_DIRECT` or buffered (`--direct` / `--buffered`) whatever the trace recorded.
//!
//! A file outside the paths is left out with everything done through it: its `Open`, and every later call on that
//! descriptor (and on mappings made from it) until the descriptor is closed, each counted as
//! `outside_under`. The file table keeps the files that remain, renumbered in order of first use.
//!
//! Private writable file mappings (`MAP_PRIVATE` with `PROT_WRITE`: a program's data segments, mapped by the
//! dynamic loader) are left out too, with their `madvise`, `msync` and `munmap` (`private_writable_mmap`): the
//! model refuses copy-on-write mappings, and a trace that cannot show page touches (strace) gives them nothing
//! to do to the page cache.

use hashbrown::{HashMap, HashSet};

use super::{Counters, ImportError, Importer, ProcessInfo, Record, Stats, ThreadInfo, TraceFile};
use crate::trace::op::{FileId, Op};

/// The adapter's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdaptOptions {
    /// `Some(d)`: every `Open` gets `O_DIRECT` = `d`.
    pub direct: Option<bool>,
    /// Keep only files whose path is one of these or below one (empty: keep every file).
    pub under: Vec<String>,
}

/// An importer with the adapter's changes applied; an iterator of [`Record`]s like any importer.
pub struct Adapt {
    inner: Box<dyn Importer + Send>,
    direct: Option<bool>,
    under: Vec<String>,
    /// Inner file id to outer: `None` left out, absent not decided yet.
    outer: HashMap<u32, Option<u32>>,
    /// Outer file id to inner.
    kept: Vec<u32>,
    files: Vec<TraceFile>,
    dropped_fds: HashSet<(u32, u32)>,
    /// Mappings left out, with the reason their calls are counted under.
    dropped_maps: HashMap<(u32, u32), &'static str>,
    counters: Counters,
}

/// Whether `path` is `dir` or below it (`dir` without its trailing slashes).
pub fn is_under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/')) || dir.is_empty()
}

impl Adapt {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Importer + Send>, opts: AdaptOptions) -> Adapt {
        Adapt {
            inner,
            direct: opts.direct,
            under: opts.under,
            outer: HashMap::new(),
            kept: Vec::new(),
            files: Vec::new(),
            dropped_fds: HashSet::new(),
            dropped_maps: HashMap::new(),
            counters: Counters::default(),
        }
    }

    fn refresh_files(&mut self) {
        let inner = self.inner.files();
        self.files = self.kept.iter().map(|&i| inner[i as usize].clone()).collect();
    }

    /// The outer id of inner file `f`, deciding on first sight.
    fn file(&mut self, f: u32) -> Option<u32> {
        if let Some(&o) = self.outer.get(&f) {
            return o;
        }
        let name = &self.inner.files()[f as usize].name;
        let keep = self.under.is_empty() || self.under.iter().any(|d| is_under(name, d));
        let o = keep.then(|| {
            self.kept.push(f);
            self.kept.len() as u32 - 1
        });
        self.outer.insert(f, o);
        if keep {
            self.refresh_files();
        }
        o
    }

    /// The record as the adapter passes it on, or `None` when it is left out.
    fn adapt(&mut self, mut r: Record) -> Option<Record> {
        let p = r.process;
        let filtering = !self.under.is_empty();
        let keep = match &mut r.op {
            Op::Open { fd, file, flags } => {
                if let Some(d) = self.direct {
                    flags.direct = d;
                }
                match self.file(file.0) {
                    Some(o) => {
                        *file = FileId(o);
                        self.dropped_fds.remove(&(p, fd.0));
                        true
                    }
                    None => {
                        self.dropped_fds.insert((p, fd.0));
                        false
                    }
                }
            }
            Op::Mmap { write: true, shared: false, map, .. } => {
                self.dropped_maps.insert((p, map.0), "private_writable_mmap");
                return self.left_out("private_writable_mmap");
            }
            Op::Mmap { fd, map, .. } => {
                if self.dropped_fds.contains(&(p, fd.0)) {
                    self.dropped_maps.insert((p, map.0), "outside_under");
                    false
                } else {
                    self.dropped_maps.remove(&(p, map.0));
                    true
                }
            }
            Op::Munmap { map } => match self.dropped_maps.remove(&(p, map.0)) {
                Some(why) => return self.left_out(why),
                None => true,
            },
            Op::Touch { map, .. } | Op::Madvise { map, .. } | Op::Msync { map, .. } => {
                match self.dropped_maps.get(&(p, map.0)) {
                    Some(&why) => return self.left_out(why),
                    None => true,
                }
            }
            _ if !filtering => true,
            Op::Close { fd } => !self.dropped_fds.remove(&(p, fd.0)),
            op => match fd_of(op) {
                Some(fd) => !self.dropped_fds.contains(&(p, fd)),
                None => true,
            },
        };
        if keep {
            self.counters.op();
            Some(r)
        } else {
            self.left_out("outside_under")
        }
    }

    fn left_out(&mut self, why: &'static str) -> Option<Record> {
        self.counters.skip(why);
        None
    }
}

/// The descriptor an op works on, if any.
fn fd_of(op: &Op) -> Option<u32> {
    match op {
        Op::Open { fd, .. }
        | Op::Close { fd }
        | Op::Read { fd, .. }
        | Op::Pread { fd, .. }
        | Op::Readv { fd, .. }
        | Op::Preadv { fd, .. }
        | Op::Write { fd, .. }
        | Op::Pwrite { fd, .. }
        | Op::Writev { fd, .. }
        | Op::Pwritev { fd, .. }
        | Op::Lseek { fd, .. }
        | Op::Mmap { fd, .. }
        | Op::Fsync { fd }
        | Op::Fdatasync { fd }
        | Op::SyncFileRange { fd, .. }
        | Op::Fadvise { fd, .. }
        | Op::Readahead { fd, .. }
        | Op::Fallocate { fd, .. }
        | Op::Ftruncate { fd, .. }
        | Op::Sendfile { fd, .. }
        | Op::Cachestat { fd, .. } => Some(fd.0),
        _ => None,
    }
}

impl Iterator for Adapt {
    type Item = Result<Record, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.inner.next() {
                None => {
                    self.refresh_files();
                    return None;
                }
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(r)) => {
                    if let Some(r) = self.adapt(r) {
                        return Some(Ok(r));
                    }
                }
            }
        }
    }
}

impl Importer for Adapt {
    fn files(&self) -> &[TraceFile] {
        &self.files
    }
    fn processes(&self) -> &[ProcessInfo] {
        self.inner.processes()
    }
    fn threads(&self) -> &[ThreadInfo] {
        self.inner.threads()
    }
    fn stats(&self) -> Stats {
        let mut s = self.inner.stats();
        let mine = self.counters.to_stats(Default::default());
        s.ops = mine.ops;
        for (k, v) in mine.skipped {
            *s.skipped.entry(k).or_insert(0) += v;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::strace::StraceImporter;

    const TRACE: &str = r#"100 10:00:00.000000 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3 <0.000010>
100 10:00:00.000100 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f0000000000 <0.000010>
100 10:00:00.000200 close(3) = 0 <0.000010>
100 10:00:00.000300 openat(AT_FDCWD, "/mnt/s/data", O_RDONLY) = 3 <0.000010>
100 10:00:00.000400 read(3, ""..., 4096) = 4096 <0.000010>
100 10:00:00.000500 munmap(0x7f0000000000, 4096) = 0 <0.000010>
100 10:00:00.000600 close(3) = 0 <0.000010>
"#;

    fn run(opts: AdaptOptions) -> (Vec<Op>, Vec<TraceFile>, Stats) {
        let inner = Box::new(StraceImporter::new("t", TRACE.as_bytes()));
        let mut a = Adapt::new(inner, opts);
        let ops: Vec<Op> = a.by_ref().map(|r| r.unwrap().op).collect();
        (ops, a.files().to_vec(), a.stats())
    }

    #[test]
    fn files_outside_are_left_out_with_their_descriptors_and_mappings() {
        let (all, files, _) = run(AdaptOptions::default());
        assert_eq!(all.len(), 7);
        assert_eq!(files.len(), 2);
        let (ops, files, stats) = run(AdaptOptions { under: vec!["/mnt/s/".into()], direct: None });
        let names: Vec<&str> = ops.iter().map(Op::name).collect();
        // The library's open, mmap, close and the munmap go; the same fd number reopened on a kept file stays.
        assert_eq!(names, ["open", "read", "close"]);
        assert_eq!(files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["/mnt/s/data"]);
        assert!(matches!(ops[0], Op::Open { file: FileId(0), .. }));
        assert_eq!(stats.skipped("outside_under"), 4);
        assert_eq!(stats.ops, 3);
    }

    #[test]
    fn direct_overrides_the_recorded_flags() {
        let (ops, ..) = run(AdaptOptions { direct: Some(true), under: vec!["/mnt/s".into()] });
        assert!(matches!(ops[0], Op::Open { flags, .. } if flags.direct));
    }

    #[test]
    fn under_matches_whole_path_components() {
        assert!(is_under("/mnt/s/a", "/mnt/s"));
        assert!(is_under("/mnt/s", "/mnt/s/"));
        assert!(!is_under("/mnt/sx/a", "/mnt/s"));
    }
}
