//! Filesystem code (mirroring fs/): writeback, the per-device flusher and its inode lists (`fs_writeback`, `writepages`),
//! syncs (`sync`), O_DIRECT writes (`direct_io`), and the entry points of ftruncate(2) and fallocate(2) (`open`, fs/open.c)
//! with what ext4 does with them (`ext4`).

pub mod buffer;
pub mod direct_io;
pub mod drop_caches;
pub mod ext4;
pub mod file;
pub mod fs_writeback;
pub mod inode;
pub mod jbd2;
pub mod open;
pub mod page_io;
pub mod read_write;
pub mod readpage;
pub mod sync;
pub mod writepages;
