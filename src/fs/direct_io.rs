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
use crate::kernel::Kernel;
use crate::trace::event::Name;

impl Kernel {
    /// iomap_dio_rw for a read (fs/iomap/direct-io.c): 512-byte alignment or EINVAL; straight to the device, up to
    /// the end of the file (rounded up to a sector).
    pub fn iomap_dio_read(&mut self, file: u32, pos: u64, len: u64) -> i64 {
        if pos % 512 != 0 || len % 512 != 0 {
            return -(libc::EINVAL as i64);
        }
        let size = self.inodes[file as usize].size;
        if pos >= size {
            return 0;
        }
        let n = len.min(size.div_ceil(512) * 512 - pos);
        // DIVERGENCE: no kiocb_write_and_wait first: the kernel writes back and waits for the range's dirty pages
        // before reading around them.
        self.dio_bio_read(file, pos, n);
        n.min(size - pos) as i64
    }

    /// iomap_dio_rw for a write of `len` bytes at `pos` of `file`. Returns the bytes written or -EINVAL.
    pub fn direct_write(&mut self, file: u32, pos: u64, len: u64) -> i64 {
        if pos % 512 != 0 || len % 512 != 0 {
            return -(libc::EINVAL as i64);
        }
        if len == 0 {
            return 0;
        }
        let end = pos + len - 1;
        self.filemap_fdatawrite_range(file, pos, end, true);
        self.filemap_fdatawait_range(file, pos, end);
        // kiocb_invalidate_pages; -EBUSY (a folio dirtied again meanwhile) would fall back to a buffered write.
        // DIVERGENCE: the result is ignored: the write goes direct whatever the invalidation left.
        let _ = self.invalidate_inode_pages2_range(file, pos >> 12, end >> 12);
        // DIVERGENCE: no REQ_FUA for O_DSYNC and no unwritten-extent conversion at completion (ext4's end_io).
        self.dio_bio_write(file, pos, len);
        // kiocb_invalidate_post_direct_write.
        let _ = self.invalidate_inode_pages2_range(file, pos >> 12, end >> 12);
        let ino = &mut self.inodes[file as usize];
        ino.size = ino.size.max(pos + len);
        ino.allocated = ino.allocated.max(pos + len);
        len as i64
    }
}

impl Kernel {
    /// iomap_dio_bio_iter for an O_DIRECT read of `len` bytes at `pos`: bios straight from the extent map
    /// (REQ_OP_READ); the task waits for them.
    pub fn dio_bio_read(&mut self, file: u32, pos: u64, len: u64) {
        let rwbs = self.rwbs_r.clone();
        self.direct_io(file, pos, len, &rwbs);
    }
    /// iomap_dio_bio_iter for an O_DIRECT write of `len` bytes at `pos` (REQ_OP_WRITE | REQ_SYNC | REQ_IDLE: rwbs
    /// WS); the task waits for the bios.
    pub fn dio_bio_write(&mut self, file: u32, pos: u64, len: u64) {
        let rwbs = self.rwbs_ws.clone();
        self.direct_io(file, pos, len, &rwbs);
    }
    /// iomap_dio_bio_iter: the bios of an O_DIRECT read or write, straight from the extent map; the task waits for
    /// them. A write's bio
    /// holds the user buffer's pages, physically scattered: one 4 KiB segment each, so a request carries at most
    /// 128 of them (512 KiB; traces/write/direct_over_cached: 1 MiB writes became 512 + 512 KiB requests).
    fn direct_io(&mut self, file: u32, pos: u64, len: u64, rwbs: &Name) {
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
        self.now = done_at.iter().map(|d| d.2).max().unwrap_or(self.now).max(self.now);
    }
}
