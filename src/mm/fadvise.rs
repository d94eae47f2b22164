//! mm/fadvise.c `generic_fadvise` and mm/readahead.c `ksys_readahead` (readahead(2) is fadvise WILLNEED).
//!
//! DONTNEED invalidates clean, unmapped folios wholly inside the page range (`mapping_try_invalidate`,
//! mm/truncate.c) and retries once when some could not be evicted (the kernel drains every CPU's LRU batches first,
//! which the model does not have).
//!
//! Simplifications, each marked DIVERGENCE at its line: DONTNEED starts no writeback of the range's dirty pages
//! first (the kernel's `__filemap_fdatawrite_range(WB_SYNC_NONE)`): its dirty folios stay dirty until the flusher or
//! a sync writes them.

use super::readahead::ReadaheadControl;
use crate::fs::file::Files;
use crate::fs::file::OpenFile;
use crate::kernel::Kernel;
use crate::trace::op::Fadvice;
use crate::trace::op::Fd;

impl Kernel {
    /// generic_fadvise: posix_fadvise(2)'s advice on an open file; `ra_pages` is the bdi's window (read_ahead_kb /
    /// 4). Returns 0 or a negative errno.
    pub fn generic_fadvise(&mut self, of: &mut OpenFile, ra_pages: u64, offset: u64, len: u64, advice: Fadvice) -> i64 {
        // offset and len are loff_t: "negative" ones are EINVAL.
        if offset > i64::MAX as u64 || len > i64::MAX as u64 {
            return -(libc::EINVAL as i64);
        }
        let endbyte = if len == 0 || offset.checked_add(len).is_none_or(|e| e > i64::MAX as u64) {
            i64::MAX as u64
        } else {
            offset + len - 1
        };
        match advice {
            Fadvice::Normal => {
                of.ra.ra_pages = ra_pages;
                of.random = false;
                of.noreuse = false;
            }
            Fadvice::Random => of.random = true,
            Fadvice::Sequential => {
                of.ra.ra_pages = ra_pages * 2;
                of.random = false;
            }
            Fadvice::WillNeed => {
                let start = offset >> 12;
                let end = endbyte >> 12;
                let nr = (end - start).wrapping_add(1);
                let nr = if nr == 0 { u64::MAX } else { nr };
                let mut ractl = ReadaheadControl::new(of.file, start, of.random);
                let ra = of.ra;
                self.force_page_cache_ra(&mut ractl, &ra, nr);
            }
            Fadvice::NoReuse => of.noreuse = true,
            Fadvice::DontNeed => {
                // DIVERGENCE: no __filemap_fdatawrite_range(mapping, offset, endbyte, WB_SYNC_NONE) first: the range's
                // dirty folios are not sent to writeback.
                let start = (offset + 4095) >> 12;
                let mut end = endbyte >> 12;
                // A partial last page is kept, unless it is the file's last byte.
                let isize = self.inodes[of.file as usize].size;
                if endbyte & 4095 != 4095 && Some(endbyte) != isize.checked_sub(1) {
                    if end == 0 {
                        return 0;
                    }
                    end -= 1;
                }
                if end >= start {
                    // lru_add_drain, then mapping_try_invalidate; failures (dirty, writeback or mapped folios here) make
                    // the kernel drain all CPUs' LRU batches and invalidate again.
                    let r = self.mapping_try_invalidate(of.file, start, end);
                    if r.nr_failed > 0 {
                        self.invalidate_mapping_pages(of.file, start, end);
                    }
                }
            }
        }
        0
    }
}

impl Kernel {
    /// ksys_fadvise64_64: posix_fadvise(2) on a descriptor (generic_fadvise).
    pub fn ksys_fadvise64_64(&mut self, files: &mut Files, fd: Fd, off: u64, len: u64, advice: Fadvice) -> i64 {
        let Some(d) = files.fget(fd) else { return -(libc::EBADF as i64) };
        let ra_pages = self.ra_pages[self.inodes[d.of.file as usize].device];
        self.generic_fadvise(&mut d.of, ra_pages, off, len, advice)
    }
}
