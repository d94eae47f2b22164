//! include/linux/writeback.h: `struct writeback_control` (Wbc), and the state of writeback calls in progress across
//! their sleeps: a do_writepages call (fs/writepages.rs), its submission (fs/page_io.rs) and a flusher's wb_writeback
//! iteration (fs/fs_writeback.rs).

use crate::mm::folio::FolioId;
use crate::trace::event::Name;
use crate::units::Nanos;

/// writeback_control: what one writepages call may do.
#[derive(Clone, Copy, Debug)]
pub struct Wbc {
    /// WB_SYNC_ALL (data integrity: tagged, waits) or WB_SYNC_NONE.
    pub sync_all: bool,
    pub nr_to_write: i64,
    pub range_cyclic: bool,
    /// Byte range for non-cyclic writeback (fsync, sync_file_range).
    pub range_start: u64,
    pub range_end: u64,
}

/// A do_writepages call between its sleeps: the walk's position, the folios it took, then their submission.
#[derive(Clone, Debug)]
pub struct WritepagesCont {
    pub(crate) file: u32,
    /// The writeback_control, its nr_to_write counting down as folios are taken.
    pub wbc: Wbc,
    /// The walk's range [first, last] and, when cyclic, whether it has wrapped to [0, first).
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) wrapped: bool,
    /// The next index the walk looks at.
    pub(crate) pos: u64,
    /// The index after the last folio taken (the next writeback_index).
    pub(crate) next_index: u64,
    pub(crate) folios: Vec<FolioId>,
    pub(crate) written: u64,
    pub(crate) submit: Option<Box<SubmitCont>>,
}

/// The submission of the folios one writepages call took, between its sleeps.
#[derive(Clone, Debug)]
pub struct SubmitCont {
    /// Its entry in the blocked submissions while it sleeps.
    pub(crate) id: u64,
    pub(crate) file: u32,
    pub(crate) dev: usize,
    pub(crate) rwbs: Name,
    pub(crate) background: bool,
    /// The bios: (sector, sectors, segment size).
    pub(crate) runs: Vec<(u64, u64, u64)>,
    /// Each folio with its first sector, in submission order.
    pub(crate) owners: Vec<(u64, FolioId)>,
    pub(crate) next_owner: usize,
    /// The bio being submitted, its requests, the next of them, and when blk-throttle releases it.
    pub(crate) run: usize,
    pub(crate) reqs: Vec<crate::block::Request>,
    pub(crate) req: usize,
    pub(crate) released: Nanos,
    pub(crate) last: Nanos,
}

/// One wb_writeback iteration between the flusher's sleeps (in blk-wbt, for a tag, or on a folio under writeback).
#[derive(Clone, Debug)]
pub struct IterCont {
    /// queue_io ran in this iteration.
    pub(crate) queued: bool,
    /// writeback_sb_inodes' start and the pages it wrote so far.
    pub(crate) start: Nanos,
    pub(crate) total: i64,
    /// The inode being written.
    pub(crate) inode: Option<InodeCont>,
}

/// __writeback_single_inode in progress.
#[derive(Clone, Debug)]
pub struct InodeCont {
    pub(crate) file: u32,
    pub(crate) chunk: i64,
    pub(crate) index: u64,
    pub(crate) dirtied: Nanos,
    pub(crate) wp: WritepagesCont,
}
