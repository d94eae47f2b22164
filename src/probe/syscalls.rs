//! The real system calls a probe task makes for its ops: the task's descriptor and mapping tables, its I/O buffer,
//! and one method per op that needs more than the call itself.

use std::fs::File;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use super::clock::sleep_interruptible;
use super::ProbeError;
use crate::trace::op::{DropWhat, Fd, MapId, MsyncMode, Op, Whence, MAX_RW_COUNT};

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
pub(crate) struct TaskState<'a> {
    files: &'a [PathBuf],
    fds: Vec<Option<OwnedFd>>,
    /// The scenario file open in each descriptor slot.
    fd_files: Vec<Option<u32>>,
    /// The counts of the last successful cachestat op, with its file.
    pub(crate) cachestat: Option<(u32, [u64; 5])>,
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

impl<'a> TaskState<'a> {
    /// A task with no descriptors or mappings yet, on the scenario files at `files`.
    pub(crate) fn new(files: &'a [PathBuf]) -> Self {
        TaskState {
            files,
            fds: Vec::new(),
            fd_files: Vec::new(),
            cachestat: None,
            maps: Vec::new(),
            buf: Buf::new(),
            null: None,
        }
    }

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
    pub(crate) fn exec(&mut self, op: &Op) -> Result<i64, ProbeError> {
        // SAFETY (the calls below): each gets descriptors from our table (or -1, which fails with EBADF), buffers we
        // own and sized before the call, and mappings we created.
        Ok(match op {
            Op::Open { fd, file, flags } => self.open(*fd, file.0, flags.to_linux()),
            Op::Close { fd } => self.close(*fd),
            Op::Read { fd, len } => {
                let len = self.rw_len(*len)?;
                ret(unsafe { libc::read(self.fd(*fd), self.buf.ptr as *mut _, len) })
            }
            Op::Pread { fd, off, len } => {
                let len = self.rw_len(*len)?;
                ret(unsafe { libc::pread(self.fd(*fd), self.buf.ptr as *mut _, len, *off as i64) })
            }
            Op::Readv { fd, lens } => {
                let iov = self.iov(lens)?;
                ret(unsafe { libc::readv(self.fd(*fd), iov.as_ptr(), iov.len() as i32) })
            }
            Op::Preadv { fd, off, lens, flags } => {
                let iov = self.iov(lens)?;
                let (f, n) = (self.fd(*fd), iov.len() as i32);
                ret(unsafe { libc::preadv2(f, iov.as_ptr(), n, *off as i64, flags.to_linux()) })
            }
            Op::Write { fd, len } => {
                let len = self.rw_len(*len)?;
                ret(unsafe { libc::write(self.fd(*fd), self.buf.ptr as *const _, len) })
            }
            Op::Pwrite { fd, off, len } => {
                let len = self.rw_len(*len)?;
                ret(unsafe { libc::pwrite(self.fd(*fd), self.buf.ptr as *const _, len, *off as i64) })
            }
            Op::Writev { fd, lens } => {
                let iov = self.iov(lens)?;
                ret(unsafe { libc::writev(self.fd(*fd), iov.as_ptr(), iov.len() as i32) })
            }
            Op::Pwritev { fd, off, lens, flags } => {
                let iov = self.iov(lens)?;
                let (f, n) = (self.fd(*fd), iov.len() as i32);
                ret(unsafe { libc::pwritev2(f, iov.as_ptr(), n, *off as i64, flags.to_linux()) })
            }
            Op::Lseek { fd, off, whence } => {
                ret(unsafe { libc::lseek(self.fd(*fd), *off, seek_whence(*whence)) } as isize)
            }
            Op::Mmap { fd, map, off, len, write, shared } => self.mmap(*fd, *map, *off, *len, *write, *shared),
            Op::Munmap { map } => self.munmap(*map),
            Op::Touch { map, off, len, write } => self.touch(*map, *off, *len, *write),
            Op::Madvise { map, off, len, advice } => {
                let Some((p, l)) = self.map_range(*map, *off, *len) else { return Ok(-(libc::EINVAL as i64)) };
                ret(unsafe { libc::madvise(p, l, advice.to_linux()) } as isize)
            }
            Op::Msync { map, off, len, mode } => {
                let Some((p, l)) = self.map_range(*map, *off, *len) else { return Ok(-(libc::EINVAL as i64)) };
                ret(unsafe { libc::msync(p, l, msync_flags(*mode)) } as isize)
            }
            Op::Fsync { fd } => ret(unsafe { libc::fsync(self.fd(*fd)) } as isize),
            Op::Fdatasync { fd } => ret(unsafe { libc::fdatasync(self.fd(*fd)) } as isize),
            Op::SyncFileRange { fd, off, len, flags } => {
                ret(unsafe { libc::sync_file_range(self.fd(*fd), *off as i64, *len as i64, flags.to_linux()) } as isize)
            }
            Op::Fadvise { fd, off, len, advice } => {
                -(unsafe { libc::posix_fadvise(self.fd(*fd), *off as i64, *len as i64, advice.to_linux()) } as i64)
            }
            Op::Readahead { fd, off, len } => ret(unsafe { libc::readahead(self.fd(*fd), *off as i64, *len as usize) }),
            Op::Fallocate { fd, mode, off, len } => {
                ret(unsafe { libc::fallocate(self.fd(*fd), mode.to_linux(), *off as i64, *len as i64) } as isize)
            }
            Op::Ftruncate { fd, len } => ret(unsafe { libc::ftruncate(self.fd(*fd), *len as i64) } as isize),
            Op::Sendfile { fd, off, len } => self.sendfile(*fd, *off, *len)?,
            Op::Cachestat { fd, off, len } => self.cachestat(*fd, *off, *len),
            Op::Sleep { ns } => {
                sleep_interruptible(*ns);
                0
            }
            Op::DropCaches { what } => drop_caches(*what),
            Op::Sync => {
                unsafe { libc::sync() };
                0
            }
        })
    }

    /// A read or write's length, capped at MAX_RW_COUNT as the kernel caps it, with the buffer grown to hold it.
    fn rw_len(&mut self, len: u64) -> Result<usize, ProbeError> {
        let len = len.min(MAX_RW_COUNT) as usize;
        self.buf.ensure(len)?;
        Ok(len)
    }

    /// open(2) of scenario file `file` into descriptor slot `fd`.
    fn open(&mut self, fd: Fd, file: u32, flags: i32) -> i64 {
        let path = &self.files[file as usize];
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap_or_default();
        // SAFETY: a valid C string.
        let r = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
        if r >= 0 {
            let slot = fd.0 as usize;
            if self.fds.len() <= slot {
                self.fds.resize_with(slot + 1, || None);
                self.fd_files.resize(slot + 1, None);
            }
            // SAFETY: a descriptor open(2) just returned, owned from here on.
            self.fds[slot] = Some(unsafe { OwnedFd::from_raw_fd(r) });
            self.fd_files[slot] = Some(file);
        }
        ret(r as isize)
    }

    /// close(2) of descriptor slot `fd`.
    fn close(&mut self, fd: Fd) -> i64 {
        match self.fds.get_mut(fd.0 as usize).and_then(|f| f.take()) {
            Some(f) => {
                drop(f);
                0
            }
            None => -(libc::EBADF as i64),
        }
    }

    /// mmap(2) into mapping slot `map` (a mapping already there is unmapped first).
    fn mmap(&mut self, fd: Fd, map: MapId, off: u64, len: u64, write: bool, shared: bool) -> i64 {
        let prot = libc::PROT_READ | if write { libc::PROT_WRITE } else { 0 };
        let flags = if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
        // SAFETY: a new mapping of our descriptor; the old one in the slot is ours to unmap.
        unsafe {
            let p = libc::mmap(std::ptr::null_mut(), len as usize, prot, flags, self.fd(fd), off as i64);
            if p == libc::MAP_FAILED {
                return ret(-1);
            }
            let slot = map.0 as usize;
            if self.maps.len() <= slot {
                self.maps.resize_with(slot + 1, || None);
            }
            if let Some(old) = self.maps[slot].take() {
                libc::munmap(old.ptr as *mut _, old.len);
                libc::close(old.fd);
            }
            let dup = libc::dup(self.fd(fd));
            self.maps[slot] = Some(Mapping { ptr: p as *mut u8, len: len as usize, fd: dup, file_off: off });
        }
        0
    }

    /// munmap(2) of the whole mapping in slot `map`.
    fn munmap(&mut self, map: MapId) -> i64 {
        match self.maps.get_mut(map.0 as usize).and_then(|m| m.take()) {
            // SAFETY: our own mapping and descriptor.
            Some(m) => unsafe {
                libc::close(m.fd);
                ret(libc::munmap(m.ptr as *mut _, m.len) as isize)
            },
            None => -(libc::EINVAL as i64),
        }
    }

    /// The address and length of [off, off+len) of mapping `map` (len 0: to its end), for madvise and msync.
    fn map_range(&self, map: MapId, off: u64, len: u64) -> Option<(*mut libc::c_void, usize)> {
        let m = self.maps.get(map.0 as usize).and_then(|m| m.as_ref())?;
        let l = if len == 0 { m.len as u64 - off.min(m.len as u64) } else { len };
        // SAFETY: an address computed inside (or one past) our mapping; the kernel checks the range.
        Some((unsafe { m.ptr.add(off as usize) } as *mut _, l as usize))
    }

    /// One read or write access to each page of [off, off+len) of mapping `map`; EFAULT for no such mapping, or
    /// at a page past the end of the file, which would raise SIGBUS and kill the probe before it could restore the
    /// host (the model answers EFAULT there too).
    fn touch(&mut self, map: MapId, off: u64, len: u64, write: bool) -> i64 {
        let Some(m) = self.maps.get(map.0 as usize).and_then(|m| m.as_ref()) else { return -(libc::EFAULT as i64) };
        let end = (off + len.max(1)).min(m.len as u64);
        if off >= end {
            return -(libc::EFAULT as i64);
        }
        // SAFETY: fstat on our descriptor; accesses inside our mapping, below the file's end.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            let file_end = if libc::fstat(m.fd, &mut st) == 0 { (st.st_size as u64).div_ceil(4096) * 4096 } else { 0 };
            let mut at = off & !4095;
            let mut sum = 0u8;
            while at < end {
                if m.file_off + at >= file_end {
                    return -(libc::EFAULT as i64);
                }
                let p = m.ptr.add(at as usize);
                if write {
                    std::ptr::write_volatile(p, 0xa5);
                } else {
                    sum = sum.wrapping_add(std::ptr::read_volatile(p));
                }
                at += 4096;
            }
            std::hint::black_box(sum);
        }
        (end - off) as i64
    }

    /// sendfile(2) of [off, off+len) of `fd` to /dev/null, looping over short transfers.
    fn sendfile(&mut self, fd: Fd, off: u64, len: u64) -> Result<i64, ProbeError> {
        if self.null.is_none() {
            let null = File::options().write(true).open("/dev/null");
            self.null = Some(null.map_err(|e| ProbeError::Host(format!("opening /dev/null: {e}")))?);
        }
        let out = self.null.as_ref().map_or(-1, |f| f.as_raw_fd());
        let mut o = off as i64;
        let mut done = 0i64;
        while (done as u64) < len {
            // SAFETY: our descriptors and a valid offset pointer.
            let r = unsafe { libc::sendfile(out, self.fd(fd), &mut o, (len - done as u64) as usize) };
            if r < 0 {
                return Ok(if done > 0 { done } else { ret(r) });
            }
            if r == 0 {
                break;
            }
            done += r as i64;
        }
        Ok(done)
    }

    /// cachestat(2) of [off, off+len) of `fd`; a success keeps the counts for the task's cachestat file.
    fn cachestat(&mut self, fd: Fd, off: u64, len: u64) -> i64 {
        let mut cs = [0u64; 5];
        let r = super::collect::cachestat_range(self.fd(fd), off, len, &mut cs);
        if r == 0 {
            let file = self.fd_files.get(fd.0 as usize).copied().flatten();
            self.cachestat = file.map(|f| (f, cs));
        }
        r
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

/// lseek(2)'s whence.
fn seek_whence(w: Whence) -> i32 {
    match w {
        Whence::Set => libc::SEEK_SET,
        Whence::Cur => libc::SEEK_CUR,
        Whence::End => libc::SEEK_END,
        Whence::Data => libc::SEEK_DATA,
        Whence::Hole => libc::SEEK_HOLE,
    }
}

/// msync(2)'s flags.
fn msync_flags(mode: MsyncMode) -> i32 {
    match mode {
        MsyncMode::Async => libc::MS_ASYNC,
        MsyncMode::Sync => libc::MS_SYNC,
        MsyncMode::Invalidate => libc::MS_INVALIDATE,
    }
}

/// `echo N > /proc/sys/vm/drop_caches`; the write's errno on failure.
fn drop_caches(what: DropWhat) -> i64 {
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
