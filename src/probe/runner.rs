//! Executes tasks' `Op` streams with real system calls, one thread per task, timing each op.
//!
//! Each thread is named after its task (so the kernel's trace shows the task name), joins the workload's memory
//! cgroup if there is one, waits for the common start, sleeps until its own start time, then runs its ops. Between
//! ops it checks for an interrupt. A failing call is data (its negative errno is recorded), not a probe error.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::guard;
use super::ProbeError;
use crate::scenario::Scenario;
use crate::trace::op::{DropWhat, MsyncMode, Op, Whence, MAX_RW_COUNT};

/// CLOCK_MONOTONIC in nanoseconds (the tracefs instance's `mono` clock).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What one task did.
#[derive(Clone, Debug, Default)]
pub struct TaskOutcome {
    pub task: String,
    pub ops: u64,
    pub failed_ops: u64,
    pub bytes: u64,
    pub interrupted: bool,
}

/// A page-aligned anonymous buffer.
struct Buf {
    ptr: *mut u8,
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf { ptr: std::ptr::null_mut(), len: 0 }
    }

    fn ensure(&mut self, len: usize) -> Result<(), ProbeError> {
        // The kernel moves at most MAX_RW_COUNT bytes per call; callers cap lengths to it too.
        let len = len.min(MAX_RW_COUNT as usize);
        if len <= self.len {
            return Ok(());
        }
        let want = len.next_power_of_two().max(1 << 16);
        // SAFETY: anonymous private mapping; the old one is unmapped only after the new one exists.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                want,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return Err(ProbeError::Host(format!("allocating a {want}-byte I/O buffer: {}", super::host::errno())));
            }
            std::ptr::write_bytes(p as *mut u8, 0x5a, want);
            if !self.ptr.is_null() {
                libc::munmap(self.ptr as *mut _, self.len);
            }
            self.ptr = p as *mut u8;
            self.len = want;
        }
        Ok(())
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: our own mapping.
            unsafe { libc::munmap(self.ptr as *mut _, self.len) };
        }
    }
}

struct Mapping {
    ptr: *mut u8,
    len: usize,
    /// A duplicate of the mapped file's descriptor (to check its size) and the mapping's file offset.
    fd: RawFd,
    file_off: u64,
}

/// One task's descriptor and mapping tables.
struct TaskState<'a> {
    files: &'a [PathBuf],
    fds: Vec<Option<OwnedFd>>,
    /// The scenario file open in each descriptor slot.
    fd_files: Vec<Option<u32>>,
    /// The counts of the last successful cachestat op, with its file.
    cachestat: Option<(u32, [u64; 5])>,
    maps: Vec<Option<Mapping>>,
    buf: Buf,
    null: Option<File>,
}

fn ret(r: isize) -> i64 {
    if r < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) as i64)
    } else {
        r as i64
    }
}

impl TaskState<'_> {
    fn fd(&self, fd: crate::trace::op::Fd) -> RawFd {
        self.fds.get(fd.0 as usize).and_then(|f| f.as_ref()).map(|f| f.as_raw_fd()).unwrap_or(-1)
    }

    fn iov(&mut self, lens: &[u64]) -> Result<Vec<libc::iovec>, ProbeError> {
        let total: u64 = lens.iter().sum();
        self.buf.ensure(total as usize)?;
        let mut at = 0usize;
        Ok(lens
            .iter()
            .map(|&l| {
                // SAFETY: within the buffer ensured above.
                let v = libc::iovec { iov_base: unsafe { self.buf.ptr.add(at) } as *mut _, iov_len: l as usize };
                at += l as usize;
                v
            })
            .collect())
    }

    /// Executes one op; returns the syscall's result (bytes or 0) or its negative errno.
    fn exec(&mut self, op: &Op) -> Result<i64, ProbeError> {
        // SAFETY (whole function): each call gets descriptors from our table (or -1, which fails with EBADF),
        // buffers we own and sized above, and mappings we created.
        unsafe {
            Ok(match op {
                Op::Open { fd, file, flags } => {
                    let path = &self.files[file.0 as usize];
                    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
                    let r = libc::open(c.as_ptr(), flags.to_linux() | libc::O_CLOEXEC, 0o644);
                    if r >= 0 {
                        let slot = fd.0 as usize;
                        if self.fds.len() <= slot {
                            self.fds.resize_with(slot + 1, || None);
                            self.fd_files.resize(slot + 1, None);
                        }
                        self.fds[slot] = Some(OwnedFd::from_raw_fd(r));
                        self.fd_files[slot] = Some(file.0);
                    }
                    ret(r as isize)
                }
                Op::Close { fd } => {
                    let slot = fd.0 as usize;
                    match self.fds.get_mut(slot).and_then(|f| f.take()) {
                        Some(f) => {
                            drop(f);
                            0
                        }
                        None => -(libc::EBADF as i64),
                    }
                }
                Op::Read { fd, len } => {
                    let len = (*len).min(MAX_RW_COUNT) as usize;
                    self.buf.ensure(len)?;
                    ret(libc::read(self.fd(*fd), self.buf.ptr as *mut _, len))
                }
                Op::Pread { fd, off, len } => {
                    let len = (*len).min(MAX_RW_COUNT) as usize;
                    self.buf.ensure(len)?;
                    ret(libc::pread(self.fd(*fd), self.buf.ptr as *mut _, len, *off as i64))
                }
                Op::Readv { fd, lens } => {
                    let iov = self.iov(lens)?;
                    ret(libc::readv(self.fd(*fd), iov.as_ptr(), iov.len() as i32))
                }
                Op::Preadv { fd, off, lens, flags } => {
                    let iov = self.iov(lens)?;
                    ret(libc::preadv2(self.fd(*fd), iov.as_ptr(), iov.len() as i32, *off as i64, flags.to_linux()))
                }
                Op::Write { fd, len } => {
                    let len = (*len).min(MAX_RW_COUNT) as usize;
                    self.buf.ensure(len)?;
                    ret(libc::write(self.fd(*fd), self.buf.ptr as *const _, len))
                }
                Op::Pwrite { fd, off, len } => {
                    let len = (*len).min(MAX_RW_COUNT) as usize;
                    self.buf.ensure(len)?;
                    ret(libc::pwrite(self.fd(*fd), self.buf.ptr as *const _, len, *off as i64))
                }
                Op::Writev { fd, lens } => {
                    let iov = self.iov(lens)?;
                    ret(libc::writev(self.fd(*fd), iov.as_ptr(), iov.len() as i32))
                }
                Op::Pwritev { fd, off, lens, flags } => {
                    let iov = self.iov(lens)?;
                    ret(libc::pwritev2(self.fd(*fd), iov.as_ptr(), iov.len() as i32, *off as i64, flags.to_linux()))
                }
                Op::Lseek { fd, off, whence } => {
                    let w = match whence {
                        Whence::Set => libc::SEEK_SET,
                        Whence::Cur => libc::SEEK_CUR,
                        Whence::End => libc::SEEK_END,
                        Whence::Data => libc::SEEK_DATA,
                        Whence::Hole => libc::SEEK_HOLE,
                    };
                    ret(libc::lseek(self.fd(*fd), *off, w) as isize)
                }
                Op::Mmap { fd, map, off, len, write, shared } => {
                    let prot = libc::PROT_READ | if *write { libc::PROT_WRITE } else { 0 };
                    let flags = if *shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
                    let p = libc::mmap(std::ptr::null_mut(), *len as usize, prot, flags, self.fd(*fd), *off as i64);
                    if p == libc::MAP_FAILED {
                        ret(-1)
                    } else {
                        let slot = map.0 as usize;
                        if self.maps.len() <= slot {
                            self.maps.resize_with(slot + 1, || None);
                        }
                        if let Some(old) = self.maps[slot].take() {
                            libc::munmap(old.ptr as *mut _, old.len);
                            libc::close(old.fd);
                        }
                        let dup = libc::dup(self.fd(*fd));
                        self.maps[slot] =
                            Some(Mapping { ptr: p as *mut u8, len: *len as usize, fd: dup, file_off: *off });
                        0
                    }
                }
                Op::Munmap { map } => match self.maps.get_mut(map.0 as usize).and_then(|m| m.take()) {
                    Some(m) => {
                        libc::close(m.fd);
                        ret(libc::munmap(m.ptr as *mut _, m.len) as isize)
                    }
                    None => -(libc::EINVAL as i64),
                },
                Op::Touch { map, off, len, write } => {
                    let Some(m) = self.maps.get(map.0 as usize).and_then(|m| m.as_ref()) else {
                        return Ok(-(libc::EFAULT as i64));
                    };
                    let end = (off + len.max(&1)).min(m.len as u64);
                    if *off >= end {
                        return Ok(-(libc::EFAULT as i64));
                    }
                    // A page past the end of the file would raise SIGBUS and kill the probe before it could
                    // restore the host: stop there with EFAULT, as the model does.
                    let mut st: libc::stat = std::mem::zeroed();
                    let file_end =
                        if libc::fstat(m.fd, &mut st) == 0 { (st.st_size as u64).div_ceil(4096) * 4096 } else { 0 };
                    let mut at = off & !4095;
                    let mut sum = 0u8;
                    while at < end {
                        if m.file_off + at >= file_end {
                            return Ok(-(libc::EFAULT as i64));
                        }
                        let p = m.ptr.add(at as usize);
                        if *write {
                            std::ptr::write_volatile(p, 0xa5);
                        } else {
                            sum = sum.wrapping_add(std::ptr::read_volatile(p));
                        }
                        at += 4096;
                    }
                    std::hint::black_box(sum);
                    (end - off) as i64
                }
                Op::Madvise { map, off, len, advice } => {
                    let Some(m) = self.maps.get(map.0 as usize).and_then(|m| m.as_ref()) else {
                        return Ok(-(libc::EINVAL as i64));
                    };
                    let l = if *len == 0 { m.len as u64 - off.min(&(m.len as u64)) } else { *len };
                    ret(libc::madvise(m.ptr.add(*off as usize) as *mut _, l as usize, advice.to_linux()) as isize)
                }
                Op::Msync { map, off, len, mode } => {
                    let Some(m) = self.maps.get(map.0 as usize).and_then(|m| m.as_ref()) else {
                        return Ok(-(libc::EINVAL as i64));
                    };
                    let l = if *len == 0 { m.len as u64 - off.min(&(m.len as u64)) } else { *len };
                    let f = match mode {
                        MsyncMode::Async => libc::MS_ASYNC,
                        MsyncMode::Sync => libc::MS_SYNC,
                        MsyncMode::Invalidate => libc::MS_INVALIDATE,
                    };
                    ret(libc::msync(m.ptr.add(*off as usize) as *mut _, l as usize, f) as isize)
                }
                Op::Fsync { fd } => ret(libc::fsync(self.fd(*fd)) as isize),
                Op::Fdatasync { fd } => ret(libc::fdatasync(self.fd(*fd)) as isize),
                Op::SyncFileRange { fd, off, len, flags } => {
                    ret(libc::sync_file_range(self.fd(*fd), *off as i64, *len as i64, flags.to_linux()) as isize)
                }
                Op::Fadvise { fd, off, len, advice } => {
                    let r = libc::posix_fadvise(self.fd(*fd), *off as i64, *len as i64, advice.to_linux());
                    -(r as i64)
                }
                Op::Readahead { fd, off, len } => ret(libc::readahead(self.fd(*fd), *off as i64, *len as usize)),
                Op::Fallocate { fd, mode, off, len } => {
                    ret(libc::fallocate(self.fd(*fd), mode.to_linux(), *off as i64, *len as i64) as isize)
                }
                Op::Ftruncate { fd, len } => ret(libc::ftruncate(self.fd(*fd), *len as i64) as isize),
                Op::Sendfile { fd, off, len } => {
                    if self.null.is_none() {
                        self.null = Some(
                            File::options()
                                .write(true)
                                .open("/dev/null")
                                .map_err(|e| ProbeError::Host(format!("opening /dev/null: {e}")))?,
                        );
                    }
                    let out = self.null.as_ref().unwrap().as_raw_fd();
                    let mut o = *off as i64;
                    let mut done = 0i64;
                    while (done as u64) < *len {
                        let r = libc::sendfile(out, self.fd(*fd), &mut o, (*len - done as u64) as usize);
                        if r < 0 {
                            return Ok(if done > 0 { done } else { ret(r) });
                        }
                        if r == 0 {
                            break;
                        }
                        done += r as i64;
                    }
                    done
                }
                Op::Cachestat { fd, off, len } => {
                    let mut cs = [0u64; 5];
                    let r = super::collect::cachestat_range(self.fd(*fd), *off, *len, &mut cs);
                    if r == 0 {
                        let file = self.fd_files.get(fd.0 as usize).copied().flatten();
                        self.cachestat = file.map(|f| (f, cs));
                    }
                    r
                }
                Op::Sleep { ns } => {
                    sleep_interruptible(*ns);
                    0
                }
                Op::DropCaches { what } => {
                    let v = match what {
                        DropWhat::PageCache => "1",
                        DropWhat::Slab => "2",
                        DropWhat::All => "3",
                    };
                    match std::fs::write("/proc/sys/vm/drop_caches", v) {
                        Ok(()) => 0,
                        Err(e) => -(e.raw_os_error().unwrap_or(libc::EIO) as i64),
                    }
                }
                Op::Sync => {
                    libc::sync();
                    0
                }
            })
        }
    }
}

impl Drop for TaskState<'_> {
    fn drop(&mut self) {
        for m in self.maps.drain(..).flatten() {
            // SAFETY: our own mapping and descriptor.
            unsafe {
                libc::munmap(m.ptr as *mut _, m.len);
                libc::close(m.fd);
            }
        }
    }
}

/// Sleeps in short slices so an interrupt is seen within 50 ms.
pub fn sleep_interruptible(ns: u64) {
    let end = mono_ns().saturating_add(ns);
    loop {
        let now = mono_ns();
        if now >= end || guard::interrupted() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_nanos((end - now).min(50_000_000)));
    }
}

fn set_thread_name(name: &str) {
    let c = std::ffi::CString::new(name).unwrap_or_default();
    // SAFETY: PR_SET_NAME copies up to 16 bytes from a valid C string.
    unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// Runs one task to completion; writes its per-op table to `out`.
fn run_task(sc: &Scenario, task: usize, files: &[PathBuf], t0: u64, out: &Path) -> Result<TaskOutcome, ProbeError> {
    let spec = &sc.tasks[task];
    set_thread_name(&spec.name);
    let mut w =
        BufWriter::new(File::create(out).map_err(|e| ProbeError::Host(format!("creating {}: {e}", out.display())))?);
    let werr = |e: std::io::Error| ProbeError::Host(format!("writing {}: {e}", out.display()));
    writeln!(w, "# task={} columns: seq op start_ns dur_ns result", spec.name).map_err(werr)?;
    let now = mono_ns();
    let start = t0 + spec.start.0;
    if start > now {
        sleep_interruptible(start - now);
    }
    let mut st = TaskState {
        files,
        fds: Vec::new(),
        fd_files: Vec::new(),
        cachestat: None,
        maps: Vec::new(),
        buf: Buf::new(),
        null: None,
    };
    let mut outcome = TaskOutcome { task: spec.name.clone(), ..Default::default() };
    // cachestat results, in `cachestat.txt`'s format (`probe::collect_cachestat` merges the tasks' files).
    let mut cs_lines = String::new();
    for (seq, op) in sc.ops(task).enumerate() {
        if guard::interrupted() {
            outcome.interrupted = true;
            break;
        }
        let a = mono_ns();
        let r = st.exec(&op)?;
        let b = mono_ns();
        outcome.ops += 1;
        if r < 0 {
            outcome.failed_ops += 1;
        } else if op.io_bytes() > 0 {
            outcome.bytes += r as u64;
        }
        writeln!(w, "{seq} {} {} {} {r}", op.name(), a.saturating_sub(t0), b - a).map_err(werr)?;
        if let (Op::Cachestat { off, len, .. }, Some((file, cs))) = (&op, st.cachestat.take()) {
            let rec = crate::trace::cachestat::Record {
                time_ns: a.saturating_sub(t0),
                task: spec.name.clone(),
                file: sc.files[file as usize].name.clone(),
                off: *off,
                len: *len,
                counts: cs,
            };
            cs_lines.push_str(&rec.line());
            cs_lines.push('\n');
        }
    }
    w.flush().map_err(werr)?;
    if !cs_lines.is_empty() {
        let p = out.with_extension("cachestat");
        std::fs::write(&p, cs_lines).map_err(|e| ProbeError::Host(format!("writing {}: {e}", p.display())))?;
    }
    Ok(outcome)
}

/// Runs every task on its own thread, all starting at `t0` (CLOCK_MONOTONIC ns; now if `None`). Returns the start
/// time used and the outcomes. `files[i]` is the path of scenario file i; per-op tables go to `ops_dir/<task>.ops`.
pub fn run_all(
    sc: &Scenario,
    files: &[PathBuf],
    ops_dir: &Path,
    t0: Option<u64>,
) -> Result<(u64, Vec<TaskOutcome>), ProbeError> {
    let n = sc.tasks.len();
    // The start gate: `Some(t0)` opens it; `None` after `aborted` tells started threads to leave (a later thread
    // could not be spawned), so no thread waits forever.
    let gate = Arc::new((std::sync::Mutex::new(Gate::Closed), std::sync::Condvar::new()));
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        let mut spawn_error = None;
        for t in 0..n {
            let g = gate.clone();
            let out = ops_dir.join(format!("{}.ops", sc.tasks[t].name));
            // Named after the task from its first instruction: ftrace's saved cmdlines may keep the first name a
            // thread had when it fired an event, so a placeholder name could show up in the trace.
            let h = std::thread::Builder::new().name(sc.tasks[t].name.clone()).spawn_scoped(s, move || {
                let (lock, cv) = &*g;
                let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
                while *state == Gate::Closed {
                    state = cv.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                match *state {
                    Gate::Open(t0) => {
                        drop(state);
                        run_task(sc, t, files, t0, &out)
                    }
                    _ => Err(ProbeError::Host("task not started: another task thread could not be created".into())),
                }
            });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => {
                    spawn_error = Some(ProbeError::Host(format!("creating task thread {t}: {e}")));
                    break;
                }
            }
        }
        let t0 = t0.unwrap_or_else(mono_ns);
        {
            let (lock, cv) = &*gate;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) =
                if spawn_error.is_some() { Gate::Aborted } else { Gate::Open(t0) };
            cv.notify_all();
        }
        let mut outcomes = Vec::new();
        let mut first_err = spawn_error;
        for h in handles {
            match h.join() {
                Ok(Ok(o)) => outcomes.push(o),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(ProbeError::Host("a task thread panicked".into()));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok((t0, outcomes)),
        }
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Closed,
    Open(u64),
    Aborted,
}

/// Formats outcomes for the worker's report line protocol: `task ops failed_ops bytes interrupted`.
pub fn format_outcome(o: &TaskOutcome) -> String {
    format!("outcome {} {} {} {} {}", o.task, o.ops, o.failed_ops, o.bytes, o.interrupted as u8)
}

/// Parses a line written by `format_outcome`.
pub fn parse_outcome(line: &str) -> Option<TaskOutcome> {
    let mut it = line.strip_prefix("outcome ")?.split_ascii_whitespace();
    Some(TaskOutcome {
        task: it.next()?.to_string(),
        ops: it.next()?.parse().ok()?,
        failed_ops: it.next()?.parse().ok()?,
        bytes: it.next()?.parse().ok()?,
        interrupted: it.next()? == "1",
    })
}
