//! mm/readahead.c as on the host kernel (6.18): the readahead state machine and the folio allocation of a window.
//!
//! ```text
//!                        |<----- async_size ---------|
//!     |------------------- size -------------------->|
//!     |==================#===========================|
//!     ^start             ^folio marked PG_readahead
//! ```
//! 6.18 differs from the 6.12 source in what the host's traces show (6.12's `file_ra_state` has no `order`, its
//! `page_cache_ra_order` starts large folios at order 2, and it has no readahead tracepoints): `file_ra_state.order`
//! starts at 0 for sync readahead and read-around, grows by 2 per async window, is clamped in `page_cache_ra_order`
//! and stored back; an async window's end is trimmed to a multiple of 2^min(order, ffs(max)-1); the tracepoints fire
//! at function entry. From the 6.18 source rather than the traces: the fallback after a failed large-folio
//! allocation reads only the remainder of the window, `page_cache_ra_unbounded` marks a folio only when
//! lookahead_size <= nr_to_read, and `read_pages` no longer shrinks the window for folios the filesystem left unread.
//!
//! Folios are allocated with `readahead_gfp_mask` (__GFP_NORETRY): when the page allocator fails one
//! (page_alloc.rs), `page_cache_ra_unbounded` stops the window there and `page_cache_ra_order` falls back to it for
//! the rest, so a window under memory pressure ends short instead of failing.
//!
//! Simplifications, each marked DIVERGENCE at its line: no blk-cgroup congestion (`blk_cgroup_congested` never
//! forces or stops readahead); minimum folio order 0 (ext4, xfs with 4 KiB blocks); the cached-page test comes before
//! the allocation in `page_cache_ra_order` too (the kernel allocates first, then finds -EEXIST); after a failed
//! allocation `force_page_cache_ra` goes on at the next 2 MiB chunk, not right after the folio that failed. Read
//! errors (`shrink_readahead_size_eio`) are not modelled: reads never fail (filemap.rs).

use super::folio::{Folio, FolioId, PG_READAHEAD};
use crate::fs::file::{FileRaState, Files};
use crate::kernel::mmzone::Gfp;
use crate::kernel::Kernel;
use crate::trace::event::EventKind;
use crate::trace::op::{Fadvice, Fd};
use crate::units::Nanos;

/// MAX_PAGECACHE_ORDER on the host (min(11, PMD order 9)).
pub const MAX_PAGECACHE_ORDER: u32 = 9;

/// struct readahead_control: the file (scenario file id), the next index to read, and the batch being built.
#[derive(Debug)]
pub struct ReadaheadControl {
    pub file: u32,
    /// readahead_index(): the first page of the batch not yet submitted.
    pub index: u64,
    /// Folios added and not yet submitted (`_nr_pages` of them, contiguous from `index`).
    batch: Vec<FolioId>,
    /// FMODE_RANDOM on the file.
    pub random: bool,
}

impl ReadaheadControl {
    pub fn new(file: u32, index: u64, random: bool) -> Self {
        ReadaheadControl { file, index, batch: Vec::new(), random }
    }
}

/// roundup_pow_of_two (include/linux/log2.h).
fn roundup_pow_of_two(n: u64) -> u64 {
    n.max(1).next_power_of_two()
}

/// ilog2 (include/linux/log2.h).
fn ilog2(n: u64) -> u32 {
    63 - n.max(1).leading_zeros()
}

/// get_init_ra_size: the first window for a request of `size` pages.
pub fn get_init_ra_size(size: u64, max: u64) -> u64 {
    let newsize = roundup_pow_of_two(size);
    if newsize <= max / 32 {
        newsize * 4
    } else if newsize <= max / 4 {
        newsize * 2
    } else {
        max
    }
}

/// get_next_ra_size: ramp the window up, 4x while small, 2x while below max/2, then max.
pub fn get_next_ra_size(cur: u64, max: u64) -> u64 {
    if cur < max / 16 {
        4 * cur
    } else if cur <= max / 2 {
        2 * cur
    } else {
        max
    }
}

/// ractl_max_pages: the window limit, raised up to the device's io_pages for requests larger than ra_pages.
pub fn ractl_max_pages(ra: &FileRaState, io_pages: u64, req_size: u64) -> u64 {
    let mut max_pages = ra.ra_pages;
    if req_size > max_pages && io_pages > max_pages {
        max_pages = req_size.min(io_pages);
    }
    max_pages
}

impl Kernel {
    /// trace_page_cache_sync_ra / trace_page_cache_async_ra: the ra state at entry.
    fn emit_ra(&mut self, file: u32, index: u64, ra: &FileRaState, req_count: u64, sync: bool) {
        if !self.events_on() {
            return;
        }
        let f = self.file_name(file);
        let (index, req_count, order, size, async_size, ra_pages, mmap_miss, prev_pos) =
            (index, req_count, ra.order as u64, ra.size, ra.async_size, ra.ra_pages, ra.mmap_miss, ra.prev_pos);
        self.emit(if sync {
            EventKind::PageCacheSyncRa {
                file: f,
                index,
                req_count,
                order,
                size,
                async_size,
                ra_pages,
                mmap_miss,
                prev_pos,
            }
        } else {
            EventKind::PageCacheAsyncRa {
                file: f,
                index,
                req_count,
                order,
                size,
                async_size,
                ra_pages,
                mmap_miss,
                prev_pos,
            }
        });
    }

    /// read_pages: submits the batch's folios as reads (the filesystem's ->readahead), REQ_RAHEAD.
    fn read_pages(&mut self, ractl: &mut ReadaheadControl) {
        if ractl.batch.is_empty() {
            return;
        }
        let n: u64 = ractl.batch.iter().map(|&id| self.folios.get(id).nr_pages()).sum();
        let batch = std::mem::take(&mut ractl.batch);
        self.submit_folio_reads(ractl.file, &batch, true);
        ractl.batch = batch;
        ractl.batch.clear();
        ractl.index += n;
    }
}

/// Why a readahead folio was not added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddError {
    /// -EEXIST: a page of it is cached.
    Exists,
    /// -ENOMEM: the __GFP_NORETRY allocation failed.
    NoMem,
}

impl Kernel {
    /// ra_alloc_folio: filemap_alloc_folio(readahead_gfp_mask) + filemap_add_folio for a new folio of `order` at
    /// `index`.
    fn ra_alloc_folio(&mut self, file: u32, index: u64, order: u32, readahead: bool) -> Result<FolioId, AddError> {
        // DIVERGENCE: the cached-page test comes first, so a page already cached costs no allocation (and no reclaim);
        // the kernel allocates the folio, then filemap_add_folio finds -EEXIST.
        if self.inodes[file as usize].mapping.any_in(&self.folios, index, 1 << order) {
            return Err(AddError::Exists);
        }
        let flags = if readahead { PG_READAHEAD } else { 0 };
        let f = Folio::new(index, order as u8, file, flags);
        let id = self.filemap_add_folio(f, Gfp::NoRetry).ok_or(AddError::NoMem)?;
        // The CPU time of allocating and inserting it and adding it to the bio, before the plug submits.
        self.now = Nanos(self.now.0 + RA_FOLIO_NS + RA_PAGE_NS * (1 << order));
        Ok(id)
    }

    /// page_cache_ra_unbounded: reads `nr_to_read` pages from the ractl's index whatever the file size, skipping
    /// cached pages, marking the page `nr_to_read - lookahead_size` from the start, stopping at a failed allocation.
    pub fn page_cache_ra_unbounded(&mut self, ractl: &mut ReadaheadControl, nr_to_read: u64, lookahead_size: u64) {
        let index = ractl.index;
        if self.events_on() {
            let file = self.file_name(ractl.file);
            self.emit(EventKind::PageCacheRaUnbounded { file, index, nr_to_read, lookahead_size });
        }
        // mark = round_up(index + nr - lookahead, 1) - index: out of reach when lookahead is 0 or above nr.
        let mark = (index + nr_to_read).wrapping_sub(lookahead_size).wrapping_sub(index);
        let mut i = 0u64;
        while i < nr_to_read {
            let at = index + i;
            // DIVERGENCE: order 0 where the kernel allocates mapping_min_folio_order() folios: the same for ext4 and
            // xfs with 4 KiB blocks, the only filesystems modelled.
            match self.ra_alloc_folio(ractl.file, at, 0, i == mark) {
                Ok(id) => {
                    ractl.batch.push(id);
                    i += 1;
                }
                // Out of memory: read what was allocated and stop.
                Err(AddError::NoMem) => break,
                Err(AddError::Exists) => {
                    // Already cached: submit what we have and continue after it.
                    self.read_pages(ractl);
                    ractl.index += 1;
                    i = ractl.index - index;
                }
            }
        }
        self.read_pages(ractl);
    }

    /// do_page_cache_ra: clips the read to the page holding the last byte of the file.
    pub fn do_page_cache_ra(&mut self, ractl: &mut ReadaheadControl, mut nr_to_read: u64, lookahead_size: u64) {
        let isize = self.inodes[ractl.file as usize].size;
        if isize == 0 {
            return;
        }
        let end_index = (isize - 1) >> 12;
        if ractl.index > end_index {
            return;
        }
        if nr_to_read > end_index - ractl.index {
            nr_to_read = end_index - ractl.index + 1;
        }
        self.page_cache_ra_unbounded(ractl, nr_to_read, lookahead_size);
    }

    /// force_page_cache_ra: fadvise(WILLNEED), readahead(2), FMODE_RANDOM reads: up to max(io_pages, ra_pages) pages in
    /// 2 MiB chunks, no marker.
    pub fn force_page_cache_ra(&mut self, ractl: &mut ReadaheadControl, ra: &FileRaState, nr_to_read: u64) {
        let io_pages = self.io_pages(ractl.file);
        let max_pages = io_pages.max(ra.ra_pages);
        let mut nr = nr_to_read.min(max_pages);
        while nr > 0 {
            let chunk = nr.min(512);
            let before = ractl.index;
            self.do_page_cache_ra(ractl, chunk, 0);
            // The next chunk starts where this one ended, whether or not it read anything.
            // DIVERGENCE: after an -ENOMEM break the kernel goes on from where read_pages left ractl's index (just
            // after the last folio added); the model skips to the next chunk. The two agree unless an allocation
            // failed.
            ractl.index = before + chunk;
            nr -= chunk;
        }
    }

    /// page_cache_ra_order: allocates the window [ra.start, ra.start + ra.size) as folios of up to `ra.order`, marking
    /// the folio at start + size - async_size; on a cached page or a failed allocation, reads the rest with
    /// `do_page_cache_ra`.
    pub fn page_cache_ra_order(&mut self, ractl: &mut ReadaheadControl, ra: &mut FileRaState) {
        let start = ractl.index;
        let mut index = start;
        if self.events_on() {
            let file = self.file_name(ractl.file);
            let (order, size, async_size, ra_pages) = (ra.order as u64, ra.size, ra.async_size, ra.ra_pages);
            self.emit(EventKind::PageCacheRaOrder { file, index, order, size, async_size, ra_pages });
        }
        let isize = self.inodes[ractl.file as usize].size;
        let mut limit = isize.saturating_sub(1) >> 12;
        // pgoff_t arithmetic (unsigned, wrapping) as the kernel's.
        let mark = (index + ra.size).wrapping_sub(ra.async_size);
        // An empty window (a folio left with PG_readahead, which is PG_reclaim, by a deactivation of a dirty folio
        // whose writeback has ended, met by a file's first read: size 0 grows to 0) allocates nothing.
        limit = limit.min((index + ra.size).wrapping_sub(1));
        let mut new_order = ra.order.min(MAX_PAGECACHE_ORDER).min(ilog2(ra.size));
        if ra.size == 0 {
            new_order = 0;
        }
        ra.order = new_order;
        let mut failed = false;
        if isize > 0 && ra.size > 0 {
            while index <= limit {
                let mut order = new_order;
                if index & ((1 << order) - 1) != 0 {
                    order = index.trailing_zeros();
                }
                while order > 0 && index + (1 << order) - 1 > limit {
                    order -= 1;
                }
                let m = mark & !((1u64 << order) - 1);
                match self.ra_alloc_folio(ractl.file, index, order, index == m) {
                    Ok(id) => {
                        ractl.batch.push(id);
                        index += 1 << order;
                    }
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
        }
        self.read_pages(ractl);
        if !failed {
            return;
        }
        // Fallback: the regular path for what is left of the window.
        if ra.size > index - start {
            ractl.index = index;
            self.do_page_cache_ra(ractl, ra.size - (index - start), ra.async_size);
        }
    }

    /// page_cache_sync_ra: a cache miss at `ractl.index` for a read of `req_count` pages.
    pub fn page_cache_sync_ra(&mut self, ractl: &mut ReadaheadControl, ra: &mut FileRaState, mut req_count: u64) {
        let index = ractl.index;
        self.emit_ra(ractl.file, index, ra, req_count, true);
        let mut forced = ractl.random;
        // DIVERGENCE: no blk_cgroup_congested() test (no blk-cgroup throttling of readahead in the model).
        if ra.ra_pages == 0 {
            req_count = 1;
            forced = true;
        }
        if forced {
            self.force_page_cache_ra(ractl, ra, req_count);
            return;
        }
        let max_pages = ractl_max_pages(ra, self.io_pages(ractl.file), req_count);
        let prev_index = (ra.prev_pos as u64) >> 12;
        if index == 0 || req_count > max_pages || index.wrapping_sub(prev_index) <= 1 {
            // Start of file, oversized read, or sequential miss.
            ra.start = index;
            ra.size = get_init_ra_size(req_count, max_pages);
            ra.async_size = if ra.size > req_count { ra.size - req_count } else { ra.size >> 1 };
        } else {
            // Look for the history a sequential stream leaves behind.
            let miss = self.inodes[ractl.file as usize].mapping.prev_miss(&self.folios, index - 1, max_pages);
            let mut contig = index.wrapping_sub(miss).wrapping_sub(1);
            if contig <= req_count {
                // A standalone small random read: read it as is, leave the state alone.
                self.do_page_cache_ra(ractl, req_count, 0);
                return;
            }
            if miss == u64::MAX {
                contig *= 2;
            }
            ra.start = index;
            ra.size = (contig + req_count).min(max_pages);
            ra.async_size = 1;
        }
        ra.order = 0;
        ractl.index = ra.start;
        self.page_cache_ra_order(ractl, ra);
    }

    /// page_cache_async_ra: the reader reached the marked folio `folio`; push the window forward.
    pub fn page_cache_async_ra(
        &mut self,
        ractl: &mut ReadaheadControl,
        ra: &mut FileRaState,
        folio: FolioId,
        req_count: u64,
    ) {
        if ra.ra_pages == 0 {
            return;
        }
        let f = *self.folios.get(folio);
        if f.test(super::folio::PG_WRITEBACK) {
            return;
        }
        let index = ractl.index;
        self.emit_ra(ractl.file, index, ra, req_count, false);
        self.folios.get_mut(folio).flags &= !PG_READAHEAD;
        // DIVERGENCE: no blk_cgroup_congested() test here either (the kernel returns when the blkcg is congested).
        let max_pages = ractl_max_pages(ra, self.io_pages(ractl.file), req_count);
        let expected = (ra.start + ra.size - ra.async_size) & !(f.nr_pages() - 1);
        if index == expected {
            ra.start += ra.size;
            ra.size = ra.size.max(get_next_ra_size(ra.size, max_pages));
        } else {
            // A marked folio without matching state (interleaved streams): size from the cached run after it.
            let start = self.inodes[ractl.file as usize].mapping.next_miss(&self.folios, index + 1, max_pages);
            if start == 0 || start - index > max_pages {
                return;
            }
            ra.start = start;
            ra.size = start - index + req_count;
            ra.size = get_next_ra_size(ra.size, max_pages);
        }
        ra.order += 2;
        let ffs = if max_pages == 0 { 0 } else { max_pages.trailing_zeros() };
        let align = 1u64 << ra.order.min(ffs);
        let end = ra.start + ra.size;
        let aligned_end = end & !(align - 1);
        if aligned_end > ra.start {
            ra.size -= end - aligned_end;
        }
        ra.async_size = ra.size;
        ractl.index = ra.start;
        self.page_cache_ra_order(ractl, ra);
    }
}

impl Kernel {
    /// ksys_readahead (mm/readahead.c): EBADF unless open for reading, then vfs_fadvise(POSIX_FADV_WILLNEED).
    pub fn ksys_readahead(&mut self, files: &mut Files, fd: Fd, off: u64, len: u64) -> i64 {
        let Some(d) = files.fget(fd) else { return -(libc::EBADF as i64) };
        if !d.readable {
            return -(libc::EBADF as i64);
        }
        let ra_pages = self.ra_pages[self.inodes[d.of.file as usize].device];
        self.generic_fadvise(&mut d.of, ra_pages, off, len, Fadvice::WillNeed)
    }
}

/// The CPU time readahead spends per folio it adds (allocation, filemap_add_folio, the LRU, the bio), and per page
/// of it: on this host consecutive mm_filemap_add_to_page_cache of one readahead come 0.96 us apart for order-0
/// folios, 1.3 us for order 2 and 1.8 us for order 4 (traces/write/readers_and_writer run 1: 14364, 657, 91 gaps;
/// the same in traces/kernel/seq_read_1m), tracing on.
pub const RA_FOLIO_NS: u64 = 900;
pub const RA_PAGE_NS: u64 = 55;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_and_next_sizes() {
        // The kernel comment for a 128 KiB window (32 pages): 1-2 pages -> 16k, 3-4 -> 32k, 5-8 -> 64k, more -> 128k.
        assert_eq!(get_init_ra_size(1, 32), 4);
        assert_eq!(get_init_ra_size(3, 32), 8);
        assert_eq!(get_init_ra_size(5, 32), 16);
        assert_eq!(get_init_ra_size(16, 32), 32);
        // Host §1.8: 8 MiB window (2048 pages), 64 KiB reads start at 64, 1 MiB reads at 512.
        assert_eq!(get_init_ra_size(16, 2048), 64);
        assert_eq!(get_init_ra_size(256, 2048), 512);
        // seq_read_4k fixture with 32 pages: 4 -> 8 -> 16 -> 32; ra_kb_2048 (512 pages): 4 -> 16 -> 64.
        assert_eq!(get_next_ra_size(4, 32), 8);
        assert_eq!(get_next_ra_size(8, 32), 16);
        assert_eq!(get_next_ra_size(4, 512), 16);
        assert_eq!(get_next_ra_size(16, 512), 64);
        assert_eq!(get_next_ra_size(16, 32), 32);
        assert_eq!(get_next_ra_size(60, 512), 120);
        assert_eq!(get_next_ra_size(300, 512), 512);
    }

    #[test]
    fn max_pages_rises_to_io_pages_for_large_requests() {
        let ra = FileRaState::new(32);
        assert_eq!(ractl_max_pages(&ra, 320, 1), 32);
        assert_eq!(ractl_max_pages(&ra, 320, 256), 256);
        assert_eq!(ractl_max_pages(&ra, 320, 4096), 320);
        assert_eq!(ractl_max_pages(&ra, 16, 4096), 32);
    }
}
