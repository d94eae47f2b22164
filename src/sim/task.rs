//! A simulated task: its op stream, descriptor table and statistics, and the system calls it issues
//! (fs/read_write.c, mm/fadvise.c, mm/readahead.c entry points).

use std::sync::Arc;

use super::stats::Histogram;
use crate::kernel::Kernel;

use crate::mm::fault::Vma;
use crate::mm::filemap::{OpenFile, ReadFlags};
use crate::mm::readahead::FileRaState;
use crate::scenario::OpStream;
use crate::trace::event::Name;
use crate::trace::op::{DropWhat, Fadvice, Madvice, Op, Whence};
use crate::units::Nanos;

/// Rough CPU cost of a system call and of copying one page (DIVERGENCE: a constant model, not measured per host).
pub const SYSCALL_NS: u64 = 250;
pub const COPY_PAGE_NS: u64 = 150;
// A buffered write's time per page is drawn per write by cpu.rs (CpuStalls::write_ns).

/// Why a scenario cannot be simulated (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("task `{task}`: op `{op}` is not modelled yet (the model covers every op but this variant)")]
    Unsupported { task: String, op: &'static str },
    #[error("task `{task}`: {why}")]
    Refused { task: String, why: &'static str },
    #[error("file `{file}` starts with dirty pages, which the read-side model does not handle yet")]
    DirtyInitialState { file: String },
    #[error("{0}")]
    BadExtents(String),
    #[error("machine.memcg_limit with files cached before the run: the probe charges those to another cgroup, which the model does not represent yet; start the files cold")]
    MemcgUnsupported,
    #[error("the files start with {cached} bytes cached but the machine has {memory} bytes of memory for the page cache (its managed memory less machine.used)")]
    TooMuchCached { cached: u64, memory: u64 },
}

/// The bytes of an iovec array (rw_copy_check_uvector); `None` on overflow (EINVAL).
fn iov_total(lens: &[u64]) -> Option<u64> {
    lens.iter().try_fold(0u64, |a, &l| a.checked_add(l))
}

/// An open file description with its position.
#[derive(Clone, Debug)]
struct Fdesc {
    of: OpenFile,
    pos: u64,
    direct: bool,
    readable: bool,
    writable: bool,
    append: bool,
    /// O_SYNC or O_DSYNC.
    sync: bool,
}

/// Per-task results.
#[derive(Clone, Debug, Default)]
pub struct TaskStats {
    pub name: String,
    pub ops: u64,
    pub failed_ops: u64,
    pub bytes: u64,
    pub read_ops: u64,
    /// Read ops that waited for I/O or started synchronous readahead.
    pub read_misses: u64,
    pub latency: Histogram,
    pub end: Nanos,
}

pub struct Task {
    pub name: Name,
    ops: OpStream,
    /// Open file descriptions (struct file), shared by descriptors and mappings.
    files: Vec<Fdesc>,
    /// Descriptor slot -> open file description.
    fds: Vec<Option<usize>>,
    maps: Vec<Option<Vma>>,
    pub stats: TaskStats,
    /// A buffered write sleeping in balance_dirty_pages before its first chunk: the op, when it started, when
    /// balance_dirty_pages was entered (jiffies) and whether another pass follows the sleep.
    pending: Option<(Op, Nanos, u64, bool)>,
    /// The stalls its CPU time meets (cpu.rs).
    cpu: super::cpu::CpuStalls,
}

impl Task {
    pub fn new(name: &str, ops: OpStream, cpu: super::cpu::CpuStalls) -> Self {
        Task {
            name: Arc::from(name),
            ops,
            files: Vec::new(),
            fds: Vec::new(),
            maps: Vec::new(),
            stats: TaskStats { name: name.to_string(), ..Default::default() },
            pending: None,
            cpu,
        }
    }

    /// The file of a buffered write op on a writable descriptor (the ops that call balance_dirty_pages_ratelimited).
    fn buffered_write_file(&self, op: &Op) -> Option<u32> {
        let fd = match op {
            Op::Write { fd, .. } | Op::Pwrite { fd, .. } | Op::Writev { fd, .. } | Op::Pwritev { fd, .. } => fd,
            _ => return None,
        };
        let d = &self.files[(*self.fds.get(fd.0 as usize)?)?];
        (d.writable && !d.direct).then_some(d.of.file)
    }

    /// Runs the next op at `k.now`; `Ok(false)` when the stream is done.
    pub fn step(&mut self, k: &mut Kernel) -> Result<bool, SimError> {
        k.complete_writeback(k.now);
        let (op, start, resumed) = match self.pending.take() {
            Some((op, start, bdp_start, again)) => (op, start, Some((bdp_start, again))),
            None => {
                let Some(op) = self.ops.next() else {
                    self.stats.end = k.now;
                    return Ok(false);
                };
                let start = k.now;
                k.now = Nanos(k.now.0 + SYSCALL_NS);
                (op, start, None)
            }
        };
        // generic_perform_write's first balance_dirty_pages_ratelimited: a pause ends the step, so other tasks and
        // the flusher run while this task sleeps.
        let buffered_write = self.buffered_write_file(&op);
        if let Some(file) = buffered_write {
            if resumed.is_none_or(|(_, again)| again) {
                let bdp_start = resumed.map(|(s, _)| s);
                let entered = bdp_start.unwrap_or(crate::mm::page_writeback::jiffies_at(k.now.0));
                if let Some((pause, again)) = k.balance_dirty_pages_ratelimited(file, bdp_start) {
                    k.now = Nanos(k.now.0 + pause);
                    self.pending = Some((op, start, entered, again));
                    return Ok(true);
                }
            }
        }
        let misses_before = k.vm.sync_misses;
        let r = self.exec(k, &op)?;
        if let Some(what) = k.unsupported.take() {
            return Err(SimError::Unsupported { task: self.name.to_string(), op: what });
        }
        self.stats.ops += 1;
        if r < 0 {
            self.stats.failed_ops += 1;
        } else if op.io_bytes() > 0 {
            self.stats.bytes += r as u64;
            let pages = (r as u64).div_ceil(4096);
            let ns = if buffered_write.is_some() { self.cpu.write_ns(pages) } else { pages * COPY_PAGE_NS };
            k.now = Nanos(k.now.0 + ns);
        }
        if matches!(op, Op::Read { .. } | Op::Pread { .. } | Op::Readv { .. } | Op::Preadv { .. } | Op::Sendfile { .. })
        {
            self.stats.read_ops += 1;
            if k.vm.sync_misses != misses_before {
                self.stats.read_misses += 1;
            }
        }
        if !matches!(op, Op::Sleep { .. }) {
            self.stats.latency.record(k.now.0 - start.0);
        }
        Ok(true)
    }

    fn unsupported(&self, u: crate::fs::ext4::Unsupported) -> SimError {
        SimError::Refused { task: self.name.to_string(), why: u.0 }
    }

    fn fd(&mut self, fd: crate::trace::op::Fd) -> Option<&mut Fdesc> {
        let i = (*self.fds.get(fd.0 as usize)?)?;
        Some(&mut self.files[i])
    }

    /// A read (or write) access to each page of [off, off+len) of a mapping.
    fn touch(&mut self, k: &mut Kernel, map: usize, off: u64, len: u64, write: bool) -> i64 {
        let Some(vma) = self.maps.get_mut(map).and_then(|m| m.as_mut()) else { return -(libc::EFAULT as i64) };
        if write && !vma.shared_write {
            // A write to a read-only mapping: SIGSEGV.
            return -(libc::EFAULT as i64);
        }
        let end = (off + len.max(1)).min(vma.pages * 4096);
        if off >= end {
            return -(libc::EFAULT as i64);
        }
        let of = &mut self.files[vma.of].of;
        let mut page = off >> 12;
        while page * 4096 < end {
            let ok = if write {
                k.handle_write_access(of, vma, vma.pgoff + page)
            } else {
                k.handle_read_access(of, vma, vma.pgoff + page)
            };
            if !ok {
                // SIGBUS: beyond the end of the file.
                return -(libc::EFAULT as i64);
            }
            page += 1;
        }
        (end - off) as i64
    }

    /// vfs_read on a regular file: O_DIRECT to the device, else the page cache (filemap_read).
    fn read(k: &mut Kernel, d: &mut Fdesc, pos: u64, len: u64, flags: ReadFlags) -> i64 {
        if !d.readable {
            return -(libc::EBADF as i64);
        }
        if d.direct {
            return Self::direct_read(k, d, pos, len);
        }
        k.filemap_read(&mut d.of, pos, len, flags)
    }

    /// vfs_write on a regular file: the buffered write path (generic_perform_write) at `pos`, or at the end of the
    /// file for O_APPEND / a write at the file position (`None`: the caller advances it), then for O_SYNC/O_DSYNC
    /// the range's fsync; O_DIRECT writes go to the device (fs/direct_io.rs).
    fn write(k: &mut Kernel, d: &mut Fdesc, pos: Option<u64>, len: u64) -> Result<i64, SimError> {
        if !d.writable {
            return Ok(-(libc::EBADF as i64));
        }
        if d.direct {
            let at = match pos {
                Some(p) => p,
                None if d.append => k.inodes[d.of.file as usize].size,
                None => d.pos,
            };
            let r = k.direct_write(d.of.file, at, len);
            if r > 0 && pos.is_none() && d.append {
                d.pos = at;
            }
            return Ok(r);
        }
        let at = match pos {
            Some(p) => p,
            None if d.append => {
                d.pos = k.inodes[d.of.file as usize].size;
                d.pos
            }
            None => d.pos,
        };
        let r = k.generic_perform_write(d.of.file, at, len, true);
        if r > 0 && d.sync {
            // O_SYNC / O_DSYNC: generic_write_sync -> vfs_fsync_range on the written range.
            k.vfs_fsync_range(d.of.file, at, at + r as u64 - 1);
        }
        Ok(r)
    }

    /// iomap_dio_rw for a read (fs/iomap/direct-io.c): 512-byte alignment or EINVAL; straight to the device.
    fn direct_read(k: &mut Kernel, d: &mut Fdesc, pos: u64, len: u64) -> i64 {
        if pos % 512 != 0 || len % 512 != 0 {
            return -(libc::EINVAL as i64);
        }
        let size = k.inodes[d.of.file as usize].size;
        if pos >= size {
            return 0;
        }
        let n = len.min(size.div_ceil(512) * 512 - pos);
        k.dio_bio_read(d.of.file, pos, n);
        n.min(size - pos) as i64
    }

    fn exec(&mut self, k: &mut Kernel, op: &Op) -> Result<i64, SimError> {
        let ebadf = -(libc::EBADF as i64);
        Ok(match op {
            Op::Open { fd, file, flags } => {
                let dev = k.inodes[file.0 as usize].device;
                let of =
                    OpenFile { file: file.0, ra: FileRaState::new(k.ra_pages[dev]), random: false, noreuse: false };
                let slot = fd.0 as usize;
                if self.fds.len() <= slot {
                    self.fds.resize_with(slot + 1, || None);
                }
                if flags.trunc {
                    // do_open -> handle_truncate -> do_truncate(0), whatever the access mode.
                    k.ext4_setattr_size(file.0, 0).map_err(|u| self.unsupported(u))?;
                }
                self.files.push(Fdesc {
                    of,
                    pos: 0,
                    direct: flags.direct,
                    readable: flags.can_read(),
                    writable: flags.access != crate::trace::op::Access::ReadOnly,
                    append: flags.append,
                    sync: flags.sync || flags.dsync,
                });
                self.fds[slot] = Some(self.files.len() - 1);
                0
            }
            Op::Mmap { fd, map, off, len, write, shared } => {
                let Some(i) = self.fds.get(fd.0 as usize).copied().flatten() else { return Ok(ebadf) };
                if *write && !*shared {
                    return Err(SimError::Unsupported { task: self.name.to_string(), op: "mmap (private, writable)" });
                }
                if off % 4096 != 0 || *len == 0 {
                    return Ok(-(libc::EINVAL as i64));
                }
                // do_mmap: a shared writable mapping needs a descriptor open for writing too.
                if !self.files[i].readable || (*write && !self.files[i].writable) {
                    return Ok(-(libc::EACCES as i64));
                }
                let slot = map.0 as usize;
                if self.maps.len() <= slot {
                    self.maps.resize_with(slot + 1, || None);
                }
                if let Some(old) = self.maps[slot].take() {
                    k.ptes[old.pte] = Default::default();
                }
                let file = self.files[i].of.file;
                let mut vma = Vma::new(k, i, file, off >> 12, len.div_ceil(4096));
                vma.shared_write = *write && *shared;
                self.maps[slot] = Some(vma);
                // generic_file_mmap -> file_accessed.
                k.touch_atime(file);
                0
            }
            Op::Munmap { map } => match self.maps.get_mut(map.0 as usize).and_then(|m| m.take()) {
                Some(vma) => {
                    k.ptes[vma.pte] = Default::default();
                    0
                }
                None => -(libc::EINVAL as i64),
            },
            Op::Touch { map, off, len, write } => self.touch(k, map.0 as usize, *off, *len, *write),
            Op::Msync { map, off, len, mode } => {
                let Some(vma) = self.maps.get(map.0 as usize).and_then(|m| m.as_ref()) else {
                    return Ok(-(libc::ENOMEM as i64));
                };
                if off % 4096 != 0 || off.saturating_add(*len) > vma.pages * 4096 {
                    return Ok(-(if off % 4096 != 0 { libc::EINVAL } else { libc::ENOMEM } as i64));
                }
                let (file, pgoff) = (self.files[vma.of].of.file, vma.pgoff);
                let sync = matches!(mode, crate::trace::op::MsyncMode::Sync);
                // len 0: to the end of the mapping (as the probe issues it).
                let len = if *len == 0 { vma.pages * 4096 - off } else { *len };
                k.msync(file, pgoff, *off, len, sync);
                0
            }
            Op::Madvise { map, off, len, advice } => {
                let Some(vma) = self.maps.get_mut(map.0 as usize).and_then(|m| m.as_mut()) else {
                    return Ok(-(libc::ENOMEM as i64));
                };
                let len = if *len == 0 { (vma.pages * 4096).saturating_sub(*off) } else { *len };
                match advice {
                    Madvice::Normal => (vma.seq, vma.rand) = (false, false),
                    Madvice::Sequential => (vma.seq, vma.rand) = (true, false),
                    Madvice::Random => (vma.seq, vma.rand) = (false, true),
                    Madvice::HugePage => vma.huge = true,
                    Madvice::NoHugePage => vma.huge = false,
                    Madvice::DontNeed => k.ptes[vma.pte].zap(off >> 12, len.div_ceil(4096)),
                    Madvice::WillNeed => {
                        // madvise_willneed: vfs_fadvise(WILLNEED) over the file range behind the mapping.
                        let file_off = (vma.pgoff << 12) + off;
                        let dev = k.inodes[self.files[vma.of].of.file as usize].device;
                        return Ok(k.generic_fadvise(
                            &mut self.files[vma.of].of,
                            k.ra_pages[dev],
                            file_off,
                            len,
                            Fadvice::WillNeed,
                        ));
                    }
                    Madvice::PopulateRead => return Ok(self.touch(k, map.0 as usize, *off, len, false).min(0)),
                    Madvice::Cold | Madvice::PageOut => {
                        return Err(SimError::Unsupported { task: self.name.to_string(), op: "madvise (cold/pageout)" })
                    }
                }
                0
            }
            Op::Close { fd } => match self.fds.get_mut(fd.0 as usize).and_then(|f| f.take()) {
                Some(_) => 0,
                None => ebadf,
            },
            Op::Read { fd, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let r = Self::read(k, d, d.pos, *len, ReadFlags::default());
                if r > 0 {
                    d.pos += r as u64;
                }
                r
            }
            Op::Pread { fd, off, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                Self::read(k, d, *off, *len, ReadFlags::default())
            }
            Op::Readv { fd, lens } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let Some(total) = iov_total(lens) else { return Ok(-(libc::EINVAL as i64)) };
                let r = Self::read(k, d, d.pos, total, ReadFlags::default());
                if r > 0 {
                    d.pos += r as u64;
                }
                r
            }
            Op::Preadv { fd, off, lens, flags } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let Some(total) = iov_total(lens) else { return Ok(-(libc::EINVAL as i64)) };
                Self::read(k, d, *off, total, ReadFlags { nowait: flags.nowait })
            }
            Op::Write { fd, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let r = Self::write(k, d, None, *len)?;
                if r > 0 {
                    d.pos += r as u64;
                }
                r
            }
            Op::Pwrite { fd, off, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                Self::write(k, d, Some(*off), *len)?
            }
            Op::Writev { fd, lens } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let Some(total) = iov_total(lens) else { return Ok(-(libc::EINVAL as i64)) };
                let r = Self::write(k, d, None, total)?;
                if r > 0 {
                    d.pos += r as u64;
                }
                r
            }
            Op::Pwritev { fd, off, lens, flags } => {
                if flags.nowait {
                    return Err(SimError::Unsupported { task: self.name.to_string(), op: "pwritev2 with RWF_NOWAIT" });
                }
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let Some(total) = iov_total(lens) else { return Ok(-(libc::EINVAL as i64)) };
                let r = Self::write(k, d, Some(*off), total)?;
                if r > 0 && (flags.dsync || flags.sync) && !d.sync {
                    // RWF_DSYNC / RWF_SYNC: generic_write_sync on the written range.
                    k.vfs_fsync_range(d.of.file, *off, *off + r as u64 - 1);
                }
                r
            }
            Op::Fsync { fd } | Op::Fdatasync { fd } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let file = d.of.file;
                k.vfs_fsync_range(file, 0, u64::MAX >> 1);
                0
            }
            Op::SyncFileRange { fd, off, len, flags } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let file = d.of.file;
                k.sync_file_range(file, *off, *len, *flags);
                0
            }
            Op::Sync => {
                k.ksys_sync();
                0
            }
            Op::Sendfile { fd, off, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                Self::read(k, d, *off, *len, ReadFlags::default())
            }
            Op::Lseek { fd, off, whence } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let size = k.inodes[d.of.file as usize].size as i64;
                let base = match whence {
                    Whence::Set => 0,
                    Whence::Cur => d.pos as i64,
                    Whence::End => size,
                    Whence::Data => {
                        if *off >= size {
                            return Ok(-(libc::ENXIO as i64));
                        }
                        0
                    }
                    Whence::Hole => {
                        if *off >= size {
                            return Ok(-(libc::ENXIO as i64));
                        }
                        return Ok({
                            d.pos = size as u64;
                            size
                        });
                    }
                };
                // generic_file_llseek_size: EINVAL for a negative or overflowing position.
                let Some(new) = base.checked_add(*off) else { return Ok(-(libc::EINVAL as i64)) };
                if new < 0 {
                    return Ok(-(libc::EINVAL as i64));
                }
                d.pos = new as u64;
                new
            }
            Op::Fadvise { fd, off, len, advice } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let dev = k.inodes[d.of.file as usize].device;
                k.generic_fadvise(&mut d.of, k.ra_pages[dev], *off, *len, *advice)
            }
            Op::Readahead { fd, off, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                if !d.readable {
                    return Ok(ebadf);
                }
                let dev = k.inodes[d.of.file as usize].device;
                k.generic_fadvise(&mut d.of, k.ra_pages[dev], *off, *len, Fadvice::WillNeed)
            }
            Op::Ftruncate { fd, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let (file, writable) = (d.of.file, d.writable);
                k.do_ftruncate(file, writable, *len).map_err(|u| self.unsupported(u))?
            }
            Op::Fallocate { fd, mode, off, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let (file, writable) = (d.of.file, d.writable);
                k.vfs_fallocate(file, writable, *mode, *off, *len).map_err(|u| self.unsupported(u))?
            }
            Op::Cachestat { fd, off, len } => {
                let Some(d) = self.fd(*fd) else { return Ok(ebadf) };
                let file = d.of.file;
                // SYSCALL_DEFINE4(cachestat): last page (off + len - 1) >> PAGE_SHIFT, or the end for len 0.
                let last = if *len == 0 { u64::MAX } else { off.wrapping_add(*len).wrapping_sub(1) >> 12 };
                let cs = k.filemap_cachestat(file, off >> 12, last);
                let rec = crate::trace::cachestat::Record {
                    time_ns: k.now.0 - SYSCALL_NS,
                    task: self.name.to_string(),
                    file: k.file_name(file).to_string(),
                    off: *off,
                    len: *len,
                    counts: cs.counts(),
                };
                k.cachestat_log.push(rec);
                0
            }
            Op::Sleep { ns } => {
                k.now = Nanos((k.now.0 - SYSCALL_NS).saturating_add(*ns));
                0
            }
            Op::DropCaches { what: DropWhat::PageCache | DropWhat::All } => {
                // drop_pagecache_sb -> invalidate_mapping_pages on every inode: clean, unlocked folios go, without
                // leaving shadow entries.
                for file in 0..k.inodes.len() as u32 {
                    k.invalidate_mapping_pages(file, 0, u64::MAX);
                }
                0
            }
            Op::DropCaches { what: DropWhat::Slab } => 0,
        })
    }
}
