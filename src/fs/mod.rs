//! Filesystem-side writeback (mirroring fs/): the per-device flusher and its inode lists (`fs_writeback`), and
//! writing a file's dirty folios to its device (`writepages`: ext4_writepages and folio writeback state).

pub mod direct_io;
pub mod fs_writeback;
pub mod sync;
pub mod writepages;
