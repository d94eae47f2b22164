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
use super::page_writeback::throttle::BdpCall;

use crate::kernel::cpu::CpuStalls;
use crate::kernel::{Blocked, Kernel, Poll};
use crate::trace::event::EventKind;
use crate::units::Nanos;

/// MAX_PAGECACHE_ORDER on x86-64 (PMD order): the largest folio, and generic_perform_write's chunk.
pub const MAX_PAGECACHE_ORDER: u8 = 9;

/// A buffered write between its sleeps: where it is in the file, what is left, and where in a chunk it stopped.
#[derive(Clone, Copy, Debug)]
pub struct WriteCont {
    pub file: u32,
    pub pos: u64,
    pub left: u64,
    /// The bytes the call writes in all.
    pub count: u64,
    stage: WriteStage,
}

/// Where a chunk of a buffered write stands.
#[derive(Clone, Copy, Debug)]
enum WriteStage {
    /// balance_dirty_pages_ratelimited comes next.
    Chunk,
    /// Asleep in balance_dirty_pages with a rate of 0: another pass of that call follows.
    Bdp(BdpCall),
    /// write_begin comes next (after a pause, or again after sleeping on the folio).
    Begin,
}

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
    /// generic_write_checks + file_modified for a buffered write of `count` bytes at `pos`: EINVAL past loff_t, the
    /// count capped at MAX_RW_COUNT, file_update_time; then the write's state for `generic_perform_write`.
    /// `Err(r)`: the call returns `r` at once (an error, or 0 for an empty write).
    pub fn generic_write_begin(&mut self, file: u32, pos: u64, count: u64) -> Result<WriteCont, i64> {
        if pos > i64::MAX as u64 || pos.checked_add(count).is_none_or(|e| e > i64::MAX as u64) {
            return Err(-(libc::EINVAL as i64));
        }
        let count = count.min(crate::trace::op::MAX_RW_COUNT);
        if count == 0 {
            return Err(0);
        }
        // file_modified -> file_update_time -> __mark_inode_dirty(I_DIRTY_SYNC) when the coarse clock moved.
        self.file_update_time(file);
        Ok(WriteCont { file, pos, left: count, count, stage: WriteStage::Chunk })
    }

    /// generic_perform_write: copies the write into the page cache chunk by chunk (the largest folio, 2 MiB),
    /// calling balance_dirty_pages_ratelimited before each chunk, dirtying folios and growing i_size; the copy's CPU
    /// time is charged per chunk (`cpu`). Sleeps in balance_dirty_pages, on a folio under read I/O and on the
    /// reads of partially written blocks, resuming where it stopped. Done: the bytes written.
    pub fn generic_perform_write(&mut self, w: &mut WriteCont, cpu: &mut CpuStalls) -> Poll {
        let chunk = 4096u64 << MAX_PAGECACHE_ORDER;
        while w.left > 0 {
            let offset = w.pos & (chunk - 1);
            let mut bytes = (chunk - offset).min(w.left);
            let pass = match w.stage {
                // cond_resched between chunks: others due meanwhile run first.
                WriteStage::Chunk if self.need_resched() => return Poll::Sleep(self.now),
                WriteStage::Chunk => self.balance_dirty_pages_ratelimited(w.file, None),
                WriteStage::Bdp(call) => self.balance_dirty_pages_ratelimited(w.file, Some(call)),
                WriteStage::Begin => None,
            };
            if let Some((pause, again)) = pass {
                // io_schedule_timeout(pause): another pass after the sleep when the rate was 0.
                w.stage = again.map_or(WriteStage::Begin, WriteStage::Bdp);
                return Poll::Sleep(Nanos(self.now.0 + pause));
            }
            w.stage = WriteStage::Begin;
            let id = match self.write_begin(w.file, w.pos, bytes) {
                Ok(id) => id,
                Err(Blocked(until)) => return Poll::Sleep(until),
            };
            let f = *self.folios.get(id);
            let in_folio = w.pos - f.index() * 4096;
            bytes = bytes.min(f.nr_pages() * 4096 - in_folio);
            self.write_end(w.file, id, w.pos, bytes);
            w.pos += bytes;
            w.left -= bytes;
            w.stage = WriteStage::Chunk;
            self.now = Nanos(self.now.0 + cpu.write_ns(bytes.div_ceil(4096)));
        }
        Poll::Done(w.count as i64)
    }

    /// ext4_da_write_begin: finds or creates the folio for [pos, pos + len) (__filemap_get_folio with FGP_WRITEBEGIN
    /// and fgf_set_order(len): the order falls to the index's alignment, then one step at a time while the range
    /// overlaps cached pages), waits for a read in flight, and prepares the blocks the write touches.
    fn write_begin(&mut self, file: u32, pos: u64, len: u64) -> Result<FolioId, Blocked> {
        let index = pos >> 12;
        if let Some(id) = self.inodes[file as usize].mapping.lookup(&self.folios, index) {
            // folio_lock: sleep while a read is in flight, then look the folio up again.
            let ready = self.folios.wake_at(id, self.cur_task);
            if ready > self.now {
                return Err(Blocked(ready));
            }
            if let Some(valid) = self.folios.partial_blocks(id).cloned() {
                self.block_write_begin(file, id, pos, len, valid)?;
            }
            return Ok(id);
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
        self.block_write_begin(file, id, pos, len, vec![0; nr_blocks.div_ceil(64) as usize])?;
        Ok(id)
    }

    /// __block_write_begin_int: of the blocks [pos, pos + len) touches, those it covers only in part and that are
    /// not valid yet are read when they are allocated on disk (one request each, bh_read_nowait, and the task sleeps
    /// until they complete, the folio locked meanwhile) or zeroed otherwise; then every touched block is valid. The
    /// folio is uptodate when all its blocks are.
    fn block_write_begin(
        &mut self,
        file: u32,
        id: FolioId,
        pos: u64,
        len: u64,
        mut valid: Vec<u64>,
    ) -> Result<(), Blocked> {
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
        self.folios.set_partial(id, valid, (end - start) / bs);
        if !reads.is_empty() {
            let done = self.read_blocks(file, &reads, bs);
            if done > self.now {
                // wait_on_buffer: write_begin runs again after the wake and finds the blocks valid.
                self.folios.lock_until(id, done);
                return Err(Blocked(done));
            }
        }
        Ok(())
    }

    /// block_read_full_folio (ext4_read_folio on a folio with buffers): a partially uptodate folio met by a read gets
    /// its missing blocks read when they are allocated (one request each) or zeroed; the folio stays locked until the
    /// reads complete, which it returns (the caller sleeps on it).
    pub fn block_read_full_folio(&mut self, file: u32, id: FolioId) -> Nanos {
        let Some(valid) = self.folios.partial_blocks(id).cloned() else { return self.now };
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
        self.folios.set_partial(id, vec![u64::MAX; nr_blocks.div_ceil(64) as usize], nr_blocks);
        if !reads.is_empty() {
            let done = self.read_blocks(file, &reads, bs);
            if done > self.now {
                self.folios.lock_until(id, done);
                return done;
            }
        }
        self.now
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
        self.inodes[file as usize].mapping.tag_dirty(index, true);
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
