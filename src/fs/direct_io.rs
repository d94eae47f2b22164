//! O_DIRECT writes (fs/iomap/direct-io.c `iomap_dio_rw` for ext4, mm/filemap.c `kiocb_invalidate_pages`,
//! `kiocb_invalidate_post_direct_write`, mm/truncate.c `invalidate_inode_pages2_range`): 512-byte alignment or
//! EINVAL; the cached range is written back and waited for, then dropped; the bios go straight to the device
//! (REQ_SYNC: rwbs WS) and the task waits; the range is invalidated again after the write; i_size grows.
//!
//! Simplifications, each marked DIVERGENCE at its line: no FUA for O_DSYNC (ext4 falls back to a journal commit +
//! flush when the write allocates, which the model does not write either); unwritten-extent conversion is not
//! modelled; an invalidation that fails (-EBUSY) does not fall back to a buffered write; an O_DIRECT read does not
//! write back the range's dirty pages first.

use crate::block::{build_requests, MAX_SEGMENT_SECTORS};
use crate::kernel::{Kernel, Poll};
use crate::trace::event::Name;
use crate::units::Nanos;

/// An O_DIRECT read or write between its sleeps.
#[derive(Clone, Debug)]
pub struct DioCont {
    file: u32,
    pos: u64,
    len: u64,
    write: bool,
    /// What the call returns once its bios completed.
    result: i64,
    stage: DioStage,
}

/// Where an O_DIRECT call stands.
#[derive(Clone, Debug)]
enum DioStage {
    /// A write: kiocb_write_and_wait (write the range back, the writepages call once started, then wait for it).
    Flush(Option<crate::kernel::writeback::WritepagesCont>),
    FlushWait,
    /// Submit the bios.
    Submit,
    /// Waiting for the bios (until the time), then the write's invalidation and i_size.
    Wait(Nanos),
}

impl DioCont {
    /// The file it reads or writes.
    pub fn file(&self) -> u32 {
        self.file
    }
}

impl Kernel {
    /// iomap_dio_rw for a read (fs/iomap/direct-io.c): 512-byte alignment or EINVAL; straight to the device, up to
    /// the end of the file (rounded up to a sector). `Err(r)`: the call returns `r` at once.
    pub fn iomap_dio_read_start(&mut self, file: u32, pos: u64, len: u64) -> Result<DioCont, i64> {
        if pos % 512 != 0 || len % 512 != 0 {
            return Err(-(libc::EINVAL as i64));
        }
        let size = self.inodes[file as usize].size;
        if pos >= size {
            return Err(0);
        }
        let n = len.min(size.div_ceil(512) * 512 - pos);
        // DIVERGENCE: no kiocb_write_and_wait first: the kernel writes back and waits for the range's dirty pages
        // before reading around them.
        Ok(DioCont { file, pos, len: n, write: false, result: n.min(size - pos) as i64, stage: DioStage::Submit })
    }

    /// iomap_dio_rw for a write of `len` bytes at `pos` of `file`: EINVAL unless 512-byte aligned. `Err(r)`: the
    /// call returns `r` at once.
    pub fn direct_write_start(&mut self, file: u32, pos: u64, len: u64) -> Result<DioCont, i64> {
        if pos % 512 != 0 || len % 512 != 0 {
            return Err(-(libc::EINVAL as i64));
        }
        if len == 0 {
            return Err(0);
        }
        Ok(DioCont { file, pos, len, write: true, result: len as i64, stage: DioStage::Flush(None) })
    }

    /// iomap_dio_rw: a write first writes the cached range back and waits for it, then drops it from the page cache
    /// (kiocb_invalidate_pages); the bios go straight to the device and the task sleeps until they complete; a write
    /// then invalidates the range again (kiocb_invalidate_post_direct_write) and grows i_size. Runs until it returns
    /// (the bytes read or written) or sleeps.
    pub fn dio_run(&mut self, c: &mut DioCont) -> Poll {
        let end = c.pos + c.len - 1;
        loop {
            match &mut c.stage {
                DioStage::Flush(wp) => {
                    if let Err(crate::kernel::Blocked(t)) = self.filemap_fdatawrite_range(wp, c.file, c.pos, end, true)
                    {
                        return Poll::Sleep(t);
                    }
                    c.stage = DioStage::FlushWait;
                }
                DioStage::FlushWait => {
                    if let Some(t) = self.filemap_fdatawait_until(c.file, c.pos, end) {
                        return Poll::Sleep(t);
                    }
                    // kiocb_invalidate_pages; -EBUSY (a folio dirtied again meanwhile) would fall back to a buffered
                    // write. DIVERGENCE: the result is ignored: the write goes direct whatever the invalidation left.
                    let _ = self.invalidate_inode_pages2_range(c.file, c.pos >> 12, end >> 12);
                    c.stage = DioStage::Submit;
                }
                DioStage::Submit => {
                    // DIVERGENCE: no REQ_FUA for O_DSYNC and no unwritten-extent conversion at completion (ext4's end_io).
                    let done = if c.write {
                        self.dio_bio_write(c.file, c.pos, c.len)
                    } else {
                        self.dio_bio_read(c.file, c.pos, c.len)
                    };
                    c.stage = DioStage::Wait(done);
                }
                DioStage::Wait(t) => {
                    if *t > self.now {
                        return Poll::Sleep(*t);
                    }
                    break;
                }
            }
        }
        if c.write {
            // kiocb_invalidate_post_direct_write.
            let _ = self.invalidate_inode_pages2_range(c.file, c.pos >> 12, end >> 12);
            let ino = &mut self.inodes[c.file as usize];
            ino.size = ino.size.max(c.pos + c.len);
            ino.allocated = ino.allocated.max(c.pos + c.len);
        }
        Poll::Done(c.result)
    }
}

impl Kernel {
    /// iomap_dio_bio_iter for an O_DIRECT read of `len` bytes at `pos`: bios straight from the extent map
    /// (REQ_OP_READ); the task waits for them.
    pub fn dio_bio_read(&mut self, file: u32, pos: u64, len: u64) -> Nanos {
        let rwbs = self.rwbs_r.clone();
        self.direct_io(file, pos, len, &rwbs)
    }
    /// iomap_dio_bio_iter for an O_DIRECT write of `len` bytes at `pos` (REQ_OP_WRITE | REQ_SYNC | REQ_IDLE: rwbs
    /// WS); the task waits for the bios.
    pub fn dio_bio_write(&mut self, file: u32, pos: u64, len: u64) -> Nanos {
        let rwbs = self.rwbs_ws.clone();
        self.direct_io(file, pos, len, &rwbs)
    }
    /// iomap_dio_bio_iter: the bios of an O_DIRECT read or write, straight from the extent map; the task waits for
    /// them. A write's bio
    /// holds the user buffer's pages, physically scattered: one 4 KiB segment each, so a request carries at most
    /// 128 of them (512 KiB; traces/write/direct_over_cached: 1 MiB writes became 512 + 512 KiB requests).
    fn direct_io(&mut self, file: u32, pos: u64, len: u64, rwbs: &Name) -> Nanos {
        let seg = if rwbs.starts_with('W') { 8 } else { MAX_SEGMENT_SECTORS };
        let dev = self.inodes[file as usize].device;
        self.scratch_runs.clear();
        let mut at = pos;
        while at < pos + len {
            let ext = &self.inodes[file as usize].extents;
            let in_page = at & 4095;
            // iomap maps a hole or an unwritten extent to zeros: no bio.
            let hole = ext.hole_left(at >> 12);
            if hole > 0 {
                at = (at - in_page).saturating_add(hole.saturating_mul(4096)).min(pos + len);
                continue;
            }
            let (sector, left) = ext.map(at >> 12);
            let left = left.min(ext.data_left(at >> 12));
            let n = (left.saturating_mul(4096) - in_page).min(pos + len - at);
            self.scratch_runs.push((sector + in_page / 512, n / 512, seg));
            at += n;
        }
        let max_sectors = self.devices[dev].max_sectors;
        self.scratch_reqs.clear();
        build_requests(&self.scratch_runs, max_sectors, &mut self.scratch_reqs);
        let done_at = self.issue_requests(dev, rwbs, true);
        self.vm.sync_misses += 1;
        done_at.iter().map(|d| d.2).max().unwrap_or(self.now).max(self.now)
    }
}
