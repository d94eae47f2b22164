//! O_DIRECT writes (fs/iomap/direct-io.c `iomap_dio_rw` for ext4, mm/filemap.c `kiocb_invalidate_pages`,
//! `kiocb_invalidate_post_direct_write`, mm/truncate.c `invalidate_inode_pages2_range`): 512-byte alignment or
//! EINVAL; the cached range is written back and waited for, then dropped; the bios go straight to the device
//! (REQ_SYNC: rwbs WS) and the task waits; the range is invalidated again after the write; i_size grows.
//!
//! Simplifications (DIVERGENCE): no FUA for O_DSYNC (ext4 falls back to a journal commit + flush when the write
//! allocates, which the model does not write either); unwritten-extent conversion is not modelled.

use crate::mm::folio::{PG_DIRTY, PG_WRITEBACK};
use crate::sim::kernel::Kernel;

/// invalidate_inode_pages2_range: every folio overlapping pages [first, last] is unmapped and removed (no shadow
/// entry); a folio still dirty or under writeback stays (the kernel returns -EBUSY for it).
pub fn invalidate_inode_pages2_range(k: &mut Kernel, file: u32, first: u64, last: u64) {
    let start = first.saturating_sub(511) & !511;
    let ids: Vec<_> = k.inodes[file as usize].mapping.range(start, last + 1).collect();
    for id in ids {
        let f = *k.folios.get(id);
        if f.next_index() <= first || f.index() > last || f.test(PG_DIRTY) || f.test(PG_WRITEBACK) {
            continue;
        }
        if crate::mm::fault::folio_mapped(k, f.file(), f.index(), f.nr_pages()) {
            crate::mm::fault::try_to_unmap(k, f.file(), f.index(), f.nr_pages());
        }
        k.delete_from_page_cache(id);
    }
}

/// iomap_dio_rw for a write of `len` bytes at `pos` of `file`. Returns the bytes written or -EINVAL.
pub fn direct_write(k: &mut Kernel, file: u32, pos: u64, len: u64) -> i64 {
    if pos % 512 != 0 || len % 512 != 0 {
        return -(libc::EINVAL as i64);
    }
    if len == 0 {
        return 0;
    }
    let end = pos + len - 1;
    crate::fs::sync::filemap_fdatawrite_range(k, file, pos, end, true);
    crate::fs::sync::filemap_fdatawait_range(k, file, pos, end);
    invalidate_inode_pages2_range(k, file, pos >> 12, end >> 12);
    k.direct_write(file, pos, len);
    invalidate_inode_pages2_range(k, file, pos >> 12, end >> 12);
    let ino = &mut k.inodes[file as usize];
    ino.size = ino.size.max(pos + len);
    ino.allocated = ino.allocated.max(pos + len);
    len as i64
}
