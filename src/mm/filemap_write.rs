//! The buffered write path, 6.18: mm/filemap.c's `generic_perform_write` with ext4's delalloc
//! `ext4_da_write_begin` / `ext4_da_write_end` (fs/ext4/inode.c, fs/buffer.c's `__block_write_begin_int` and
//! `block_write_end`), and the dirtying of folios and inodes (mm/page-writeback.c `__folio_mark_dirty`,
//! `folio_account_dirtied`; fs/fs-writeback.c `__mark_inode_dirty`).
//!
//! What the host showed (a probe run of 128 KiB, 1 MiB, 100-byte and 5000-byte pwrite()s to a new and an existing
//! ext4 file): write_begin asks `__filemap_get_folio` for a folio of order ilog2(bytes) - 12, lowered to the index's
//! alignment (order 1 included), in chunks of the largest folio (2 MiB): 1 MiB at 256 KiB became folios of order
//! 6, 7 and 6. A partially written block that is allocated on disk and not cached is read first, one request per
//! filesystem block (1 KiB blocks on the probe's small filesystems: a 100-byte write at 1000 read blocks 0 and 1);
//! blocks past EOF or in holes are zeroed (delalloc), fully overwritten ones are not read. Each folio that becomes
//! dirty emits writeback_dirty_folio; the first dirtying of a clean inode (the mtime update before the copy)
//! emits writeback_dirty_inode_enqueue with state I_DIRTY_SYNC.
//!
//! A folio whose write left blocks neither written nor read stays !uptodate (mincore does not count it) until a
//! read fills the missing blocks (block_read_full_folio) or writes cover them.
//!
//! Simplifications, each marked DIVERGENCE at its line: on-disk allocation is known as "below the highest byte ever
//! allocated" (initial size, then written-back ranges, cut back by a shrinking truncate) less the pages that are
//! holes or unwritten (`ExtentMap::holes`: punched holes, ZERO_RANGE, fallocate), at page granularity; a new folio
//! is allocated with the mapping's retrying gfp at the order the cached pages leave room for (the kernel tries the
//! order with __GFP_NORETRY and falls back one order at a time on -ENOMEM or -EEXIST); mtime has one-jiffy
//! granularity (fs/inode.rs).

use super::folio::{Folio, FolioId, PG_DIRTY};

use crate::kernel::Kernel;
use crate::trace::event::EventKind;

/// MAX_PAGECACHE_ORDER on x86-64 (PMD order): the largest folio, and generic_perform_write's chunk.
pub const MAX_PAGECACHE_ORDER: u8 = 9;

/// fgf_set_order: the folio order a write of `len` bytes asks for.
pub fn fgf_order(len: u64) -> u8 {
    let shift = 63 - len.max(1).leading_zeros();
    if shift <= 12 {
        0
    } else {
        (shift - 12).min(MAX_PAGECACHE_ORDER as u32) as u8
    }
}

impl Kernel {
    /// generic_perform_write (after file_update_time): copies `count` bytes at `pos` into the page cache chunk by
    /// chunk, dirtying folios and growing i_size. Returns the bytes written.
    ///
    /// `checked`: the caller already ran balance_dirty_pages_ratelimited for the first chunk (the task yields for
    /// its pauses there); later chunks check inline.
    pub fn generic_perform_write(&mut self, file: u32, pos: u64, count: u64, checked: bool) -> i64 {
        if pos > i64::MAX as u64 || pos.checked_add(count).is_none_or(|e| e > i64::MAX as u64) {
            return -(libc::EINVAL as i64);
        }
        let count = count.min(crate::trace::op::MAX_RW_COUNT);
        if count == 0 {
            return 0;
        }
        // file_modified -> file_update_time -> __mark_inode_dirty(I_DIRTY_SYNC) when the coarse clock moved.
        self.file_update_time(file);
        let chunk = 4096u64 << MAX_PAGECACHE_ORDER;
        let mut pos = pos;
        let mut left = count;
        let mut first = true;
        while left > 0 {
            let offset = pos & (chunk - 1);
            let mut bytes = (chunk - offset).min(left);
            if !(first && checked) {
                self.balance_dirty_pages_inline(file);
            }
            first = false;
            let id = self.write_begin(file, pos, bytes);
            let f = *self.folios.get(id);
            let in_folio = pos - f.index() * 4096;
            bytes = bytes.min(f.nr_pages() * 4096 - in_folio);
            self.write_end(file, id, pos, bytes);
            pos += bytes;
            left -= bytes;
        }
        count as i64
    }

    /// ext4_da_write_begin: finds or creates the folio for [pos, pos + len) (__filemap_get_folio with FGP_WRITEBEGIN
    /// and fgf_set_order(len): the order falls to the index's alignment, then one step at a time while the range
    /// overlaps cached pages), waits for a read in flight, and prepares the blocks the write touches.
    fn write_begin(&mut self, file: u32, pos: u64, len: u64) -> FolioId {
        let index = pos >> 12;
        if let Some(id) = self.inodes[file as usize].mapping.lookup(&self.folios, index) {
            // folio_lock: wait for a read in flight.
            self.now = self.now.max(self.folios.ready_at(id));
            if let Some(valid) = self.folios.partial_blocks(id).cloned() {
                self.block_write_begin(file, id, pos, len, valid);
            }
            return id;
        }
        let mut order = fgf_order(len);
        if index & ((1u64 << order) - 1) != 0 {
            order = index.trailing_zeros() as u8;
        }
        while order > 0 && self.inodes[file as usize].mapping.any_in(&self.folios, index, 1u64 << order) {
            order -= 1;
        }
        // DIVERGENCE: __filemap_get_folio allocates an order above the minimum with __GFP_NORETRY and falls back one
        // order at a time when the allocation fails or the range is partly cached (-EEXIST); the model tests the cache
        // first and allocates with the mapping's gfp, which reclaims until it succeeds.
        let id = self.add_to_page_cache(Folio::new(index, order, file, 0));
        // The new folio has no read in flight: its blocks are prepared below and it is uptodate once all are valid.
        self.folios.set_uptodate_now(id);
        let nr_blocks = (4096u64 << order) / self.fs_block_size(file);
        self.block_write_begin(file, id, pos, len, vec![0; nr_blocks.div_ceil(64) as usize]);
        id
    }

    /// __block_write_begin_int: of the blocks [pos, pos + len) touches, those it covers only in part and that are
    /// not valid yet are read when they are allocated on disk (one request each, bh_read_nowait, and the task waits)
    /// or zeroed otherwise; then every touched block is valid. The folio is uptodate when all its blocks are.
    fn block_write_begin(&mut self, file: u32, id: FolioId, pos: u64, len: u64, mut valid: Vec<u64>) {
        let f = *self.folios.get(id);
        let start = f.index() * 4096;
        let end = start + f.nr_pages() * 4096;
        let (from, to) = (pos.max(start), (pos + len).min(end));
        let bs = self.fs_block_size(file);
        let allocated = self.inodes[file as usize].allocated;
        let ext = &self.inodes[file as usize].extents;
        let mut reads = Vec::new();
        let mut b = from / bs * bs;
        while b < to {
            let n = ((b - start) / bs) as usize;
            let is_valid = valid[n / 64] & (1 << (n % 64)) != 0;
            // DIVERGENCE: "allocated on disk" is "below the highest byte ever allocated and not in a hole", at page
            // granularity (ext4 asks its extent status tree, block by block).
            if !is_valid && (b < from || b + bs > to) && b < allocated && ext.hole_left(b >> 12) == 0 {
                reads.push(b);
            }
            valid[n / 64] |= 1 << (n % 64);
            b += bs;
        }
        if !reads.is_empty() {
            let done = self.read_blocks(file, &reads, bs);
            self.now = self.now.max(done);
        }
        self.folios.set_partial(id, valid, (end - start) / bs);
    }

    /// block_read_full_folio (ext4_read_folio on a folio with buffers): a partially uptodate folio met by a read gets
    /// its missing blocks read when they are allocated (one request each) or zeroed; the reader waits.
    pub fn block_read_full_folio(&mut self, file: u32, id: FolioId) {
        let Some(valid) = self.folios.partial_blocks(id).cloned() else { return };
        let f = *self.folios.get(id);
        let start = f.index() * 4096;
        let bs = self.fs_block_size(file);
        let nr_blocks = f.nr_pages() * 4096 / bs;
        let allocated = self.inodes[file as usize].allocated;
        let reads: Vec<u64> = (0..nr_blocks)
            .filter(|&n| valid[(n / 64) as usize] & (1 << (n % 64)) == 0)
            .map(|n| start + n * bs)
            .filter(|&b| b < allocated && self.inodes[file as usize].extents.hole_left(b >> 12) == 0)
            .collect();
        if !reads.is_empty() {
            let done = self.read_blocks(file, &reads, bs);
            self.now = self.now.max(done);
        }
        self.folios.set_partial(id, vec![u64::MAX; nr_blocks.div_ceil(64) as usize], nr_blocks);
    }

    /// ext4_da_write_end / block_write_end: the folio is marked dirty and i_size grows to cover the write.
    fn write_end(&mut self, file: u32, id: FolioId, pos: u64, copied: u64) {
        self.folio_mark_dirty(file, id);
        let ino = &mut self.inodes[file as usize];
        if pos + copied > ino.size {
            ino.size = pos + copied;
        }
    }

    /// folio_mark_dirty -> __folio_mark_dirty: a clean folio becomes dirty, is accounted (folio_account_dirtied:
    /// NR_FILE_DIRTY, NR_DIRTIED, the task's nr_dirtied) and its inode gets I_DIRTY_PAGES.
    pub fn folio_mark_dirty(&mut self, file: u32, id: FolioId) {
        let f = self.folios.get_mut(id);
        if f.test(PG_DIRTY) {
            return;
        }
        f.flags |= PG_DIRTY;
        let (index, nr) = (f.index(), f.nr_pages());
        self.vm.nr_dirty += nr;
        self.vm.nr_dirtied += nr;
        let dev = self.inodes[file as usize].device;
        self.inodes[file as usize].nr_dirty += nr;
        let w = &mut self.wb.wbs[dev];
        w.wb_dirtied += nr;
        w.wb_reclaimable += nr;
        let cpu = self.task_cpu();
        let t = self.cur_task;
        crate::mm::page_writeback::account_page_dirtied(&mut self.wb.tasks[t], &mut self.wb.rl, cpu, nr);
        if self.events_on() {
            let device = self.devices[self.inodes[file as usize].device].name.clone();
            let name = self.file_name(file);
            self.emit(EventKind::WritebackDirtyFolio { device, file: name, index });
        }
        self.mark_inode_dirty(file, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_orders_follow_the_length() {
        // The host: 128 KiB -> order 5, 1 MiB -> 8 (then lowered by alignment), 100 and 5000 bytes -> 0,
        // 10000 bytes -> 1.
        assert_eq!(fgf_order(128 << 10), 5);
        assert_eq!(fgf_order(1 << 20), 8);
        assert_eq!(fgf_order(768 << 10), 7);
        assert_eq!(fgf_order(100), 0);
        assert_eq!(fgf_order(5000), 0);
        assert_eq!(fgf_order(10000), 1);
        assert_eq!(fgf_order(64 << 20), MAX_PAGECACHE_ORDER);
    }
}
