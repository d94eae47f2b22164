//! Memory management: folios, the page cache of each file, readahead and the read path (mirroring mm/).

pub mod address_space;
pub mod fadvise;
pub mod fault;
pub mod fault_write;
pub mod filemap;
pub mod filemap_write;
pub mod folio;
pub mod kswapd;
pub mod madvise;
pub mod memcontrol;
pub mod memory;
pub mod mmap;
pub mod page_alloc;
pub mod page_writeback;
pub mod pgtable;
pub mod prefetch;
pub mod readahead;
pub mod rmap;
pub mod shadow_map;
pub mod swap;
pub mod truncate;
pub mod vmscan;
pub mod workingset;
pub mod xa_cursor;
pub mod xarray;
