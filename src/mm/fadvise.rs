//! mm/fadvise.c `generic_fadvise` and mm/readahead.c `ksys_readahead` (readahead(2) is fadvise WILLNEED).
//!
//! DONTNEED invalidates clean, unlocked, unmapped folios wholly inside the page range (`mapping_try_invalidate`);
//! the writeback it starts first (`__filemap_fdatawrite_range`) and the LRU drain and retry come with the write side
//! and issue 4.

use super::filemap::OpenFile;
use super::folio::{PG_DIRTY, PG_WRITEBACK};
use super::readahead::{force_page_cache_ra, Ractl};
use crate::sim::kernel::Kernel;
use crate::trace::op::Fadvice;

/// generic_fadvise. `ra_pages` is the bdi's window (read_ahead_kb / 4). Returns 0 or a negative errno.
pub fn generic_fadvise(
    k: &mut Kernel,
    of: &mut OpenFile,
    ra_pages: u64,
    offset: u64,
    len: u64,
    advice: Fadvice,
) -> i64 {
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
            let mut ractl = Ractl::new(of.file, start, of.random);
            let ra = of.ra;
            force_page_cache_ra(k, &mut ractl, &ra, nr);
        }
        Fadvice::NoReuse => of.noreuse = true,
        Fadvice::DontNeed => {
            let start = (offset + 4095) >> 12;
            let mut end = endbyte >> 12;
            if endbyte & 4095 != 4095 {
                if end == 0 {
                    return 0;
                }
                end -= 1;
            }
            if end >= start {
                mapping_try_invalidate(k, of.file, start, end);
            }
        }
    }
    0
}

/// mapping_try_invalidate: drops clean, unlocked folios lying wholly in [start, end]; returns how many pages.
pub fn mapping_try_invalidate(k: &mut Kernel, file: u32, start: u64, end: u64) -> u64 {
    let ids: Vec<_> = k.inodes[file as usize].mapping.range(start, end.saturating_add(1)).collect();
    let mut dropped = 0;
    for id in ids {
        let f = *k.folios.get(id);
        if f.next_index() - 1 > end || !k.folios.uptodate(id, k.now) || f.test(PG_DIRTY) || f.test(PG_WRITEBACK) {
            continue;
        }
        // mapping_evict_folio refuses mapped folios.
        if crate::mm::fault::folio_mapped(k, file, f.index(), f.nr_pages()) {
            continue;
        }
        k.delete_from_page_cache(id);
        dropped += f.nr_pages();
    }
    dropped
}
