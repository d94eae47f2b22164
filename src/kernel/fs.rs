//! struct inode (include/linux/fs.h), for the scenario's regular files: size, page cache, extent map, dirty state
//! and times.

use std::sync::Arc;

use crate::block::ExtentMap;
use crate::mm::address_space::AddressSpace;
use crate::trace::event::Name;
use crate::units::Nanos;

/// struct inode, for a regular file of the scenario.
#[derive(Clone, Debug)]
pub struct Inode {
    pub name: Name,
    pub device: usize,
    /// i_size in bytes.
    pub size: u64,
    pub mapping: AddressSpace,
    pub extents: ExtentMap,
    /// Bytes from 0 that are allocated on disk (the initial size in whole blocks; grows with writeback).
    pub allocated: u64,
    /// inode->dirtied_when while the inode is dirty (on its bdi's b_dirty list).
    pub dirtied_when: Option<Nanos>,
    /// Dirty pages of the file (the DIRTY tag of its mapping).
    pub nr_dirty: u64,
    /// Pages of the file under writeback (the WRITEBACK tag of its mapping).
    pub nr_writeback: u64,
    /// mapping->writeback_index: where cyclic writeback resumes.
    pub writeback_index: u64,
    /// i_state's I_DIRTY_SYNC and I_DIRTY_PAGES.
    pub dirty_sync: bool,
    pub dirty_pages: bool,
    /// The jiffy mtime was last set in during the run (None: before the run).
    pub mtime_tick: Option<u64>,
    /// atime is not after mtime: the next read updates it (relatime).
    pub atime_stale: bool,
    /// The inode changed in the journal's running transaction (ext4_mark_inode_dirty): an fsync must commit it.
    pub journal_pending: bool,
}

impl Inode {
    /// A clean file of `size` bytes laid out by `extents`, all of it allocated.
    pub fn new(name: &str, device: usize, size: u64, extents: ExtentMap) -> Inode {
        Inode {
            name: Arc::from(name),
            device,
            size,
            mapping: AddressSpace::default(),
            extents,
            allocated: size,
            dirtied_when: None,
            nr_dirty: 0,
            nr_writeback: 0,
            writeback_index: 0,
            dirty_sync: false,
            dirty_pages: false,
            mtime_tick: None,
            atime_stale: false,
            journal_pending: false,
        }
    }
}
