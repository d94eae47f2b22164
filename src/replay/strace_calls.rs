//! The strace importer's system calls: what each successful call does to the descriptor tables, the files' sizes,
//! and which `Op`s it becomes (the list is in docs/REPLAY_FORMATS.md). This file has the state, the descriptor
//! helpers, the reads and writes and the dispatcher; `strace_ops` has the other calls.

use super::strace_fds::{FdProblem, Slot, Table};
use super::strace_lex::{iov_lens, parse_fd, parse_int, parse_u64, split_args, unescape, unquote};
use super::strace_lex::{CallResult, Ret};
use super::{checked_end, Counters, ProcessInfo, ThreadInfo, TraceFile};
use crate::trace::op::{Access, Fd, Op, OpenFlags, RwFlags};

#[derive(Clone, Copy, Debug, Default)]
struct FileState {
    /// The first open had O_CREAT without O_EXCL/O_TRUNC: whether the file existed is decided by what follows.
    maybe_created: bool,
    written: bool,
}

/// Everything the strace importer tracks besides its input.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) counters: Counters,
    pub(crate) files: Vec<TraceFile>,
    file_ids: hashbrown::HashMap<String, u32>,
    file_state: Vec<FileState>,
    pub(crate) table: Table,
    /// The ops of the line being read, each with whether it is the call itself (vs. implicit).
    pub(crate) out: Vec<(Op, bool)>,
    pub(super) scratch: Vec<Op>,
    spans: Vec<(usize, usize)>,
    /// Dense processes (descriptor-table groups) and threads.
    pub(crate) processes: Vec<ProcessInfo>,
    pub(crate) threads: Vec<ThreadInfo>,
}

/// Whether a path names a regular file (not /dev, /proc, /sys; not `pipe:[...]`, `socket:[...]` ...).
pub(crate) fn is_regular_path(path: &str) -> bool {
    if path.starts_with("/dev/") {
        return path.starts_with("/dev/shm/");
    }
    !(path.starts_with("/proc/") || path.starts_with("/sys/") || path.is_empty() || path.contains(":["))
        && (path.starts_with('/') || !path.contains(':'))
}

/// The path of a `-y` annotation (decoded; a `-yy` device suffix `<char 1:3>` dropped).
pub(crate) fn annotation_path(ann: &str) -> String {
    unescape(ann.split('<').next().unwrap_or(ann))
}

/// The lengths a vectored call moved: the buffers filled in order with the `n` bytes returned.
fn spread(iov: Option<Vec<u64>>, n: u64) -> Vec<u64> {
    let mut left = n;
    let mut out = Vec::new();
    for len in iov.unwrap_or_default() {
        if left == 0 {
            break;
        }
        let take = len.min(left);
        out.push(take);
        left -= take;
    }
    if left > 0 || out.is_empty() {
        out.push(left);
    }
    out
}

fn rw_flags(text: &str) -> Option<RwFlags> {
    let mut f = RwFlags::default();
    for t in text.split('|').map(str::trim) {
        match t {
            "0" => {}
            "RWF_NOWAIT" => f.nowait = true,
            "RWF_HIPRI" => f.hipri = true,
            "RWF_DSYNC" => f.dsync = true,
            "RWF_SYNC" => f.sync = true,
            _ => return None,
        }
    }
    Some(f)
}

impl State {
    pub(super) fn skip(&mut self, reason: &'static str) {
        self.counters.skip(reason);
    }

    pub(super) fn main(&mut self, op: Op) {
        self.out.push((op, true));
    }

    /// Moves what a table method pushed into `out` as implicit ops.
    pub(super) fn flush_scratch(&mut self, main: bool) {
        for op in self.scratch.drain(..) {
            if !main {
                match op {
                    Op::Open { .. } => self.counters.note("implicit_open"),
                    Op::Lseek { .. } => self.counters.note("lseek_for_shared_position"),
                    Op::Close { .. } => self.counters.note("implicit_close"),
                    Op::Munmap { .. } => self.counters.note("implicit_munmap"),
                    _ => {}
                }
            }
            self.out.push((op, main));
        }
    }

    /// The file named `path`, added if new.
    pub(super) fn file_id(&mut self, path: &str, created: bool, maybe_created: bool) -> u32 {
        if let Some(&f) = self.file_ids.get(path) {
            return f;
        }
        let f = self.files.len() as u32;
        self.files.push(TraceFile { name: path.to_string(), size: 0, existed_before: !created });
        self.file_state.push(FileState { maybe_created, written: false });
        self.file_ids.insert(path.to_string(), f);
        f
    }

    pub(super) fn grow(&mut self, file: u32, end: u64) {
        let f = &mut self.files[file as usize];
        f.size = f.size.max(end);
    }

    /// Data was seen in the file before anything wrote it: it existed.
    pub(super) fn saw_data(&mut self, file: u32) {
        let st = self.file_state[file as usize];
        if st.maybe_created && !st.written {
            self.files[file as usize].existed_before = true;
            self.file_state[file as usize].maybe_created = false;
        }
    }

    pub(super) fn wrote(&mut self, file: u32) {
        let st = &mut self.file_state[file as usize];
        if st.maybe_created && !st.written {
            self.files[file as usize].existed_before = false;
        }
        st.written = true;
    }

    /// The descriptor an fd argument names, reconciled with its `-y` annotation: an fd the trace never opened
    /// but whose annotation is a regular file is adopted (`adopted_fd`); one whose annotation names another file
    /// than the table says is replaced (`fd_path_mismatch`).
    pub(super) fn fd_of(&mut self, p: u32, arg: &str) -> Result<u32, &'static str> {
        let (n, ann) = parse_fd(arg).ok_or("malformed_args")?;
        let fd = u32::try_from(n).map_err(|_| "unknown_fd")?;
        let Some(ann) = ann else {
            return Ok(fd);
        };
        let path = annotation_path(ann);
        let regular = is_regular_path(&path);
        match self.table.procs[p as usize].fds.get(&fd).copied() {
            Some(Slot::File { ofd, .. }) => {
                let file = self.table.ofd(ofd).file;
                if !regular || self.files[file as usize].name == path {
                    return Ok(fd);
                }
                self.counters.note("fd_path_mismatch");
            }
            Some(Slot::Other { .. }) if !regular => return Ok(fd),
            _ => {}
        }
        let slot = if regular {
            self.counters.note("adopted_fd");
            let file = self.file_id(&path, false, false);
            let flags = OpenFlags { access: Access::ReadWrite, ..Default::default() };
            Slot::File { ofd: self.table.new_ofd(file, flags), cloexec: false, sim: None }
        } else {
            Slot::Other { cloexec: false }
        };
        self.table.install(p, fd, slot, &mut self.scratch);
        self.flush_scratch(false);
        Ok(fd)
    }

    /// `fd_of`, then opens the descriptor in the simulator (and syncs its position with `positional`).
    pub(super) fn use_fd(&mut self, p: u32, arg: &str, positional: bool) -> Result<(u32, u32), &'static str> {
        let fd = self.fd_of(p, arg)?;
        let r = self.table.prepare(p, fd, positional, &mut self.scratch);
        self.flush_scratch(false);
        r.map(|ofd| (fd, ofd)).map_err(FdProblem::reason)
    }

    pub(super) fn is_append(&self, p: u32, fd: u32) -> bool {
        match self.table.procs[p as usize].fds.get(&fd) {
            Some(Slot::File { ofd, .. }) => self.table.ofd(*ofd).flags.append,
            _ => false,
        }
    }

    /// read/write/readv/writev (and the file side of sendfile/splice without an offset): at the file position.
    pub(super) fn at_position(&mut self, p: u32, arg: &str, n: u64, write: bool, iov: Option<Option<Vec<u64>>>) {
        let fd = match self.fd_of(p, arg) {
            Ok(fd) => fd,
            Err(r) => return self.skip(r),
        };
        let append = write && self.is_append(p, fd);
        let (fd, ofd) = match self.table.prepare(p, fd, !append, &mut self.scratch) {
            Ok(ofd) => {
                self.flush_scratch(false);
                (fd, ofd)
            }
            Err(e) => return self.skip(e.reason()),
        };
        let file = self.table.ofd(ofd).file;
        let start = if append { self.files[file as usize].size } else { self.table.ofd(ofd).pos };
        let Some(end) = checked_end(start, n) else {
            return self.skip("offset_out_of_range");
        };
        self.table.ofd_mut(ofd).pos = end;
        self.table.set_sim_pos(p, fd, end);
        self.grow(file, end);
        if write {
            self.wrote(file);
        } else if n > 0 {
            self.saw_data(file);
        }
        let fd = Fd(fd);
        self.main(match (write, iov) {
            (false, None) => Op::Read { fd, len: n },
            (true, None) => Op::Write { fd, len: n },
            (false, Some(v)) => Op::Readv { fd, lens: spread(v, n) },
            (true, Some(v)) => Op::Writev { fd, lens: spread(v, n) },
        });
    }

    /// pread/pwrite/preadv/pwritev (and sendfile/copy_file_range/splice with an offset): at `off`.
    pub(super) fn at_offset(
        &mut self,
        p: u32,
        arg: &str,
        off: u64,
        n: u64,
        write: bool,
        iov: Option<(Option<Vec<u64>>, RwFlags)>,
    ) {
        let (fd, ofd) = match self.use_fd(p, arg, false) {
            Ok(v) => v,
            Err(r) => return self.skip(r),
        };
        let Some(end) = checked_end(off, n) else {
            return self.skip("offset_out_of_range");
        };
        let file = self.table.ofd(ofd).file;
        self.grow(file, end);
        if write {
            self.wrote(file);
        } else if n > 0 {
            self.saw_data(file);
        }
        let fd = Fd(fd);
        self.main(match (write, iov) {
            (false, None) => Op::Pread { fd, off, len: n },
            (true, None) => Op::Pwrite { fd, off, len: n },
            (false, Some((v, flags))) => Op::Preadv { fd, off, lens: spread(v, n), flags },
            (true, Some((v, flags))) => Op::Pwritev { fd, off, lens: spread(v, n), flags },
        });
    }

    /// The last thread of process `p` exited: its descriptors are closed and its mappings dropped.
    pub(crate) fn process_exit(&mut self, p: u32) {
        self.table.exit(p, &mut self.scratch);
        self.flush_scratch(false);
    }

    /// A successful call of process `p` (the caller has dropped failures). `args` is the text between the
    /// parentheses.
    pub(crate) fn syscall(&mut self, p: u32, name: &str, args: &str, res: &CallResult<'_>) {
        let mut spans = std::mem::take(&mut self.spans);
        split_args(args, &mut spans);
        let a: Vec<&str> = spans.iter().map(|&(x, y)| &args[x..y]).collect();
        self.spans = spans;
        let arg = |i: usize| a.get(i).copied().unwrap_or("");
        let ret = match res.ret {
            Ret::Int(v) => v,
            Ret::Hex(v) => v as i64,
            Ret::Unknown => -1,
        };
        let n = u64::try_from(ret).unwrap_or(0);
        let num = |i: usize| parse_u64(arg(i));
        match name {
            "open" | "openat" | "creat" | "openat2" => self.open(p, name, &a, res),
            "close" => self.close(p, arg(0)),
            "close_range" => self.close_range(p, arg(0), arg(1), arg(2)),
            "dup" => self.dup(p, arg(0), n, false),
            "dup2" | "dup3" => {
                if parse_fd(arg(0)).map(|x| x.0) == Some(ret) {
                    return self.counters.note("dup");
                }
                self.dup(p, arg(0), n, arg(2).contains("O_CLOEXEC"))
            }
            "fcntl" | "fcntl64" => match arg(1) {
                "F_DUPFD" => self.dup(p, arg(0), n, false),
                "F_DUPFD_CLOEXEC" => self.dup(p, arg(0), n, true),
                "F_SETFD" => match self.fd_of(p, arg(0)) {
                    Ok(fd) => {
                        self.table.set_cloexec(p, fd, arg(2).contains("FD_CLOEXEC"));
                        self.counters.note("cloexec_set");
                    }
                    Err(r) => self.skip(r),
                },
                "F_SETFL" => self.skip("fcntl_setfl"),
                _ => self.skip("non_io_syscall"),
            },
            "read" => self.at_position(p, arg(0), n, false, None),
            "write" => self.at_position(p, arg(0), n, true, None),
            "readv" => self.at_position(p, arg(0), n, false, Some(iov_lens(arg(1)))),
            "writev" => self.at_position(p, arg(0), n, true, Some(iov_lens(arg(1)))),
            "pread64" | "pread" | "pwrite64" | "pwrite" => match parse_int(arg(3)) {
                Some(off) if off >= 0 => self.at_offset(p, arg(0), off as u64, n, name.starts_with("pw"), None),
                _ => self.skip("malformed_args"),
            },
            "preadv" | "pwritev" | "preadv2" | "pwritev2" => {
                let write = name.starts_with("pw");
                let flags = if name.ends_with('2') { rw_flags(arg(4)) } else { Some(RwFlags::default()) };
                match (parse_int(arg(3)), flags) {
                    (Some(-1), Some(f)) if name.ends_with('2') => {
                        if f != RwFlags::default() {
                            self.counters.note("rwf_flags_dropped");
                        }
                        self.at_position(p, arg(0), n, write, Some(iov_lens(arg(1))))
                    }
                    (Some(off), Some(f)) if off >= 0 => {
                        self.at_offset(p, arg(0), off as u64, n, write, Some((iov_lens(arg(1)), f)))
                    }
                    (_, None) => self.skip("unsupported_flag"),
                    _ => self.skip("malformed_args"),
                }
            }
            "lseek" => self.lseek(p, arg(0), arg(1), arg(2), n),
            "fsync" | "fdatasync" => match self.use_fd(p, arg(0), false) {
                Ok((fd, _)) => {
                    self.main(if name == "fsync" { Op::Fsync { fd: Fd(fd) } } else { Op::Fdatasync { fd: Fd(fd) } })
                }
                Err(r) => self.skip(r),
            },
            "sync_file_range" => self.sync_file_range(p, arg(0), num(1), num(2), arg(3)),
            "sync_file_range2" | "arm_sync_file_range" => self.sync_file_range(p, arg(0), num(2), num(3), arg(1)),
            "sync" => self.main(Op::Sync),
            "syncfs" => {
                self.counters.note("syncfs_as_sync");
                self.main(Op::Sync)
            }
            "fadvise64" | "fadvise64_64" => self.fadvise(p, arg(0), num(1), num(2), arg(3)),
            "arm_fadvise64_64" => self.fadvise(p, arg(0), num(2), num(3), arg(1)),
            "readahead" => match (self.use_fd(p, arg(0), false), num(1), num(2)) {
                (Ok((fd, _)), Some(off), Some(len)) => self.main(Op::Readahead { fd: Fd(fd), off, len }),
                (Err(r), ..) => self.skip(r),
                _ => self.skip("malformed_args"),
            },
            "fallocate" => self.fallocate(p, arg(0), arg(1), num(2), num(3)),
            "ftruncate" | "ftruncate64" => match (self.use_fd(p, arg(0), false), num(1)) {
                (Ok(_), Some(len)) if len > super::MAX_FILE_END => self.skip("offset_out_of_range"),
                (Ok((fd, ofd)), Some(len)) => {
                    let file = self.table.ofd(ofd).file;
                    self.grow(file, len);
                    self.wrote(file);
                    self.main(Op::Ftruncate { fd: Fd(fd), len })
                }
                (Err(r), _) => self.skip(r),
                _ => self.skip("malformed_args"),
            },
            "mmap" | "mmap2" => self.mmap(p, &a, res, name == "mmap2"),
            "munmap" => match (num(0), num(1)) {
                (Some(addr), Some(len)) => match self.table.unmap(p, addr, len) {
                    Ok(map) => self.main(Op::Munmap { map }),
                    Err(r) => self.skip(r),
                },
                _ => self.skip("malformed_args"),
            },
            "madvise" => self.madvise(p, num(0), num(1), arg(2)),
            "msync" => self.msync(p, num(0), num(1), arg(2)),
            "sendfile" | "sendfile64" => self.copy(p, arg(1), arg(2), arg(0), "NULL", n),
            "copy_file_range" | "splice" => self.copy(p, arg(0), arg(1), arg(2), arg(3), n),
            "execve" | "execveat" => {
                self.table.exec(p, &mut self.scratch);
                self.flush_scratch(false);
                let path = unquote(if name == "execve" { arg(0) } else { arg(1) }).unwrap_or_default();
                let base = path.rsplit('/').next().unwrap_or("");
                if !base.is_empty() {
                    let comm: String = base.chars().take(15).collect();
                    self.processes[p as usize].name = Some(comm.clone());
                    for t in self.threads.iter_mut().filter(|t| t.process == p) {
                        t.name = Some(comm.clone());
                    }
                }
                self.counters.note("execve")
            }
            "fstat" | "fstat64" | "newfstatat" | "fstatat64" | "statx" => {
                self.stat_size(p, name, &a);
                self.skip("non_io_syscall")
            }
            "pipe" | "pipe2" | "socketpair" => {
                let list = if name == "socketpair" { arg(3) } else { arg(0) };
                let inner = list.trim().trim_start_matches('[').trim_end_matches(']');
                for fd in inner.split(',').filter_map(parse_fd).filter_map(|x| u32::try_from(x.0).ok()) {
                    self.table.install(p, fd, Slot::Other { cloexec: arg(1).contains("O_CLOEXEC") }, &mut self.scratch);
                    self.flush_scratch(false);
                }
                self.skip("non_io_syscall")
            }
            "socket" | "accept" | "accept4" | "eventfd" | "eventfd2" | "epoll_create" | "epoll_create1"
            | "signalfd" | "signalfd4" | "timerfd_create" | "inotify_init" | "inotify_init1" | "memfd_create"
            | "memfd_secret" | "pidfd_open" | "pidfd_getfd" | "userfaultfd" | "fanotify_init" | "perf_event_open"
            | "io_uring_setup" | "open_tree" | "fsopen" | "fsmount" | "bpf" => {
                if let Ok(fd) = u32::try_from(ret) {
                    self.table.install(p, fd, Slot::Other { cloexec: args.contains("CLOEXEC") }, &mut self.scratch);
                    self.flush_scratch(false);
                }
                self.skip("non_io_syscall")
            }
            "unlink" | "unlinkat" => self.skip("unlink"),
            "rename" | "renameat" | "renameat2" => self.skip("rename"),
            "truncate" | "truncate64" => self.skip("truncate_by_path"),
            "io_uring_enter" | "io_submit" | "io_getevents" | "io_pgetevents" => self.skip("async_io"),
            "mremap" => self.skip("mremap"),
            _ => self.skip("non_io_syscall"),
        }
    }
}
