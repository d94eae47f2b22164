//! fs/ext4/inode.c and fs/ext4/extents.c (6.18): `ext4_setattr` for a size change, `ext4_fallocate` with
//! `ext4_punch_hole` and `ext4_zero_range`, as far as the page cache sees them: i_size, the page cache of the range
//! (through mm/truncate.rs), and which pages read as zeros without I/O (the extent map's holes).
//!
//! Simplifications, each marked DIVERGENCE at its line: a truncate, hole or zeroed range with an edge inside a
//! filesystem block is refused (ext4 zeroes the rest of that block through the page cache and dirties it); no block
//! allocation or extent tree: the extent map's layout stands, and holes have page granularity (block/mod.rs).

use crate::kernel::Kernel;
use crate::trace::op::FallocMode;

/// Why an op cannot be simulated: it would dirty page cache (the write side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

impl From<Unsupported> for crate::kernel::SyscallError {
    fn from(u: Unsupported) -> Self {
        crate::kernel::SyscallError::Refused(u.0)
    }
}

/// ext4_max_size: sb->s_maxbytes of ext4 with extents, 2^32 - 1 blocks.
pub fn s_maxbytes(blocksize: u64) -> u64 {
    ((1u64 << 32) - 1) * blocksize
}

impl Kernel {
    /// ext4_setattr for a new i_size: i_size_write, truncate_pagecache (from the new size: whole folios, then the
    /// partial folio split), and ext4_truncate freeing the blocks past the new end (holes from there on). Growing only
    /// extends i_size (pagecache_isize_extended changes no cache state) and leaves a hole.
    pub fn ext4_setattr_size(&mut self, file: u32, newsize: u64) -> Result<i64, Unsupported> {
        let (oldsize, bs) = (self.inodes[file as usize].size, self.fs_block_size(file));
        // ext4_truncate -> ext4_block_truncate_page (shrinking or same size), or the tail zeroing of the old EOF block
        // when growing.
        // DIVERGENCE: refused: the partial block is not zeroed and dirtied through the page cache.
        if (newsize <= oldsize && newsize % bs != 0) || (newsize > oldsize && oldsize % bs != 0) {
            return Err(Unsupported(
            "ftruncate to (or from) a size inside a filesystem block: ext4 zeroes the block's tail in the page cache \
             and dirties it, which needs the write side",
        ));
        }
        self.inodes[file as usize].size = newsize;
        self.truncate_pagecache(file, newsize);
        let ino = &mut self.inodes[file as usize];
        ino.extents.punch(oldsize.min(newsize).div_ceil(4096), u64::MAX);
        // ext4_truncate frees the blocks past the new end.
        ino.allocated = ino.allocated.min(newsize.div_ceil(bs) * bs);
        Ok(0)
    }

    /// ext4_fallocate: plain allocation (and KEEP_SIZE) allocates unwritten extents, which read as zeros, and may extend
    /// i_size; `ext4_punch_hole` and `ext4_zero_range` drop the page cache of their block-aligned range
    /// (ext4_truncate_page_cache_block_range -> truncate_pagecache_range) and leave holes or unwritten extents there;
    /// ZERO_RANGE without KEEP_SIZE extends i_size.
    pub fn ext4_fallocate(&mut self, file: u32, mode: FallocMode, offset: u64, len: u64) -> Result<i64, Unsupported> {
        let (size, bs) = (self.inodes[file as usize].size, self.fs_block_size(file));
        let mut end = offset + len;
        match mode {
            // DIVERGENCE: no block allocation is modelled: the range reads as zeros where it was a hole (its pages
            // already are holes) and the layout stays the extent map's.
            FallocMode::Allocate | FallocMode::KeepSize => {
                if mode == FallocMode::Allocate && end > size {
                    self.inodes[file as usize].size = end;
                    self.inodes[file as usize].extents.punch(size.div_ceil(4096), u64::MAX);
                }
            }
            FallocMode::PunchHole => {
                // ext4_punch_hole: nothing past i_size; a hole running past it ends at the page holding i_size.
                if offset >= size {
                    return Ok(0);
                }
                if end > size {
                    end = size.div_ceil(4096) * 4096;
                }
                // DIVERGENCE: refused when an edge is inside a block (ext4 zeroes and dirties the partial blocks).
                if offset % bs != 0 || end % bs != 0 {
                    return Err(Unsupported(
                    "a hole punched inside a filesystem block: ext4 zeroes the partial block in the page cache and \
                     dirties it, which needs the write side",
                ));
                }
                self.truncate_pagecache_range(file, offset, end - 1);
                self.inodes[file as usize].extents.punch(offset.div_ceil(4096), end / 4096);
            }
            FallocMode::ZeroRange => {
                // DIVERGENCE: refused when an edge is inside a block, as for a punched hole.
                if offset % bs != 0 || end % bs != 0 {
                    return Err(Unsupported(
                        "ZERO_RANGE with an edge inside a filesystem block: ext4 zeroes the partial block in the page \
                     cache and dirties it, which needs the write side",
                    ));
                }
                self.truncate_pagecache_range(file, offset, end - 1);
                let ext = &mut self.inodes[file as usize].extents;
                ext.punch(offset.div_ceil(4096), end / 4096);
                if end > size {
                    ext.punch(size.div_ceil(4096), u64::MAX);
                    self.inodes[file as usize].size = end;
                }
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::ExtentMap;
    use crate::kernel::Inode;
    use crate::mm::folio::Folio;
    use crate::units::Nanos;

    fn kernel(size: u64, blocksize: u64, pages: u64) -> Kernel {
        let ino = Inode::new("f", 0, size, ExtentMap::contiguous(0, size.div_ceil(4096)));
        let mut k = Kernel::new(vec![ino], Vec::new(), vec![256], false);
        k.fs_block = vec![blocksize];
        k.zone = crate::kernel::mmzone::Zone::new(1 << 30, 0, 4096, 10);
        for i in 0..pages {
            let id = k.add_to_page_cache(Folio::new(i, 0, 0, 0));
            k.folios.set_ready_at(id, Nanos(0));
        }
        k
    }

    #[test]
    fn truncate_shrinks_grows_and_leaves_holes() {
        let mut k = kernel(64 << 10, 1024, 16);
        assert_eq!(k.ext4_setattr_size(0, (20 << 10) + 3072), Ok(0));
        assert_eq!((k.inodes[0].size, k.inodes[0].mapping.nrpages), ((20 << 10) + 3072, 6));
        assert_eq!(k.inodes[0].extents.holes, vec![(6, u64::MAX)]);
        assert_eq!(k.ext4_setattr_size(0, 1 << 20), Ok(0));
        assert_eq!(k.inodes[0].size, 1 << 20);
        // 4 KiB blocks: a size inside a block is refused.
        let mut k = kernel(64 << 10, 4096, 16);
        assert!(k.ext4_setattr_size(0, 3072).is_err());
        assert_eq!(k.inodes[0].mapping.nrpages, 16, "nothing changed");
    }

    #[test]
    fn fallocate_modes() {
        let mut k = kernel(64 << 10, 1024, 16);
        assert_eq!(k.ext4_fallocate(0, FallocMode::PunchHole, 8192, 16384), Ok(0));
        assert_eq!(k.inodes[0].mapping.nrpages, 12);
        assert_eq!(k.inodes[0].extents.holes, vec![(2, 6)]);
        // Past EOF: nothing.
        assert_eq!(k.ext4_fallocate(0, FallocMode::PunchHole, 1 << 20, 4096), Ok(0));
        assert_eq!(k.ext4_fallocate(0, FallocMode::KeepSize, 1 << 20, 4096), Ok(0));
        assert_eq!(k.inodes[0].size, 64 << 10);
        assert_eq!(k.ext4_fallocate(0, FallocMode::ZeroRange, 40 << 10, 32 << 10), Ok(0));
        assert_eq!((k.inodes[0].size, k.inodes[0].mapping.nrpages), (72 << 10, 6));
        assert_eq!(k.ext4_fallocate(0, FallocMode::Allocate, 0, 1 << 20), Ok(0));
        assert_eq!(k.inodes[0].size, 1 << 20);
        assert_eq!(k.inodes[0].extents.holes, vec![(2, 6), (10, u64::MAX)]);
        assert!(k.ext4_fallocate(0, FallocMode::PunchHole, 512, 1024).is_err());
    }
}
