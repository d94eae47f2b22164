//! # pcsim: the Linux page cache, offline
//!
//! pcsim answers "what will the page cache do with this workload?" without running it on a real machine. It is a
//! deterministic user-space model of the Linux 6.18 page cache and writeback, driven by a *scenario*: a machine,
//! its block devices, the vm sysctls, files and tasks issuing system calls (written in RON, see
//! `docs/SCENARIO.md`). A run produces the same event log the kernel's own tracepoints would
//! (`page_cache_sync_ra`, `mm_filemap_add_to_page_cache`, `balance_dirty_pages`, `block_rq_issue`, ...), so the
//! model can be diffed against a capture of the real kernel (the `pcsim probe` command) and scored
//! ([`compare()`]).
//!
//! The same scenario and seed always give byte-identical results: virtual time, one seeded ChaCha stream per
//! purpose, no hash-map order reaching any output.
//!
//! ## Simulating a workload
//!
//! ```
//! let text = r#"Scenario(
//!     name: "reader",
//!     machine: (memory: "1g"),
//!     devices: [(name: "disk0", read_ahead_kb: 128)],
//!     files: [(name: "data", size: "16m")],
//!     tasks: [(name: "reader", ops: [
//!         Open(file: "data"),
//!         Generate(fd: "data", pattern: Sequential, block: "64k", count: 256),
//!     ])],
//! )"#;
//! let scenario = pcsim::Scenario::parse(text, "reader.ron")?;
//! let run = pcsim::simulate(&scenario, &pcsim::SimOptions { events: true, ..Default::default() })?;
//!
//! // The readahead state machine's decisions, as the kernel's tracepoints would show them.
//! let windows: Vec<&pcsim::Event> =
//!     run.events.iter().filter(|e| e.kind.name() == "page_cache_async_ra").collect();
//! assert!(!windows.is_empty());
//! // Every page of the file was read once, through readahead.
//! assert_eq!(run.files[0].nr_cache, 4096);
//! println!("{}", run.summary());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`SimResult::snapshot`] condenses a run for an [insta](https://insta.rs) snapshot test: the summary, the
//! digest of the event log and the model's decisions by kind (`docs/SNAPSHOTS.md` shows how to pin "what
//! readahead does for my access pattern" in one's own CI).
//!
//! ## What the model covers
//!
//! - Folios (large folios included) in each file's page cache, the xarray's lookups and shadow entries.
//! - The readahead state machine (`page_cache_sync_ra`, `page_cache_async_ra`, `page_cache_ra_order`), the
//!   buffered read path, mmap faults with fault-around, fadvise, madvise, readahead(2), O_DIRECT reads.
//! - The file LRU (two lists), workingset refault detection, reclaim by a memory cgroup limit, kswapd and direct
//!   reclaim against the zone's watermarks, the shadow-node shrinker.
//! - Buffered writes, writes through shared mappings, dirty limits and `balance_dirty_pages` throttling, the
//!   per-device flusher (kupdate and background writeback), fsync/fdatasync with ext4's journal commit,
//!   sync_file_range, sync, O_SYNC and O_DIRECT writes, truncation, hole punching, fallocate.
//! - The block layer as the kernel issues it: bios, plug merging, splits at max_sectors_kb, blk-wbt, blk-throttle,
//!   and a device that serves reads and write batches as this project's reference host does.
//!
//! ## Limitations
//!
//! - One node with one zone; no anonymous memory or swap (non-file memory is a constant), no compaction or
//!   fragmentation, no MGLRU (the classic two-list LRU, as the reference host runs).
//! - A system call runs to its end before another task moves (the kernel's calls sleep and interleave); CPU time
//!   is a constant per call and per page copied, a buffered writer's stalls drawn from the reference host.
//! - ext4 (and xfs for reads) as the probe creates them; files are laid out contiguously unless a probe's extent
//!   map is given; metadata I/O beyond the journal commit of an fsync is not modelled.
//! - The model refuses, with an error, what it cannot run: private writable mappings, dirty folios met by reclaim,
//!   a truncate or hole edge inside a filesystem block, files starting dirty, a memory cgroup with files cached
//!   before the run, MADV_COLD/PAGEOUT, RWF_NOWAIT writes.
//! - No io_uring or AIO, no device errors, one kernel version (6.18, the reference host's).
//!
//! The model's files mirror the kernel's (`mm/readahead.rs` is mm/readahead.c); `docs/KERNEL_MAP.md` maps each
//! kernel function to its model, and every departure is marked `DIVERGENCE` where it happens.
//!
//! ## The library's surface
//!
//! The items re-exported here are the library's interface. [`replay`] reads blktrace, blkparse, fio iolog and
//! strace traces into `Op`s and writes block events in blktrace's formats (`sim::simulate_replay` streams a
//! trace through the model; docs/REPLAY.md). The other modules below are the command-line tool's and the tests'
//! (hidden from this documentation, not a stable interface): the model (`kernel`, `mm`, `fs`, `block`), the
//! engine (`sim`), scenarios, the probe, comparison and reports.

#![warn(missing_docs)]

pub use compare::{compare, Report as Comparison};
pub use scenario::{Scenario, ScenarioError};
pub use sim::{simulate, SimError, SimOptions, SimResult, Summary, TaskStats};
pub use trace::event::{Event, EventKind};
pub use trace::log::{read_log_file, Log};
pub use trace::op::Op;

#[doc(hidden)]
pub mod bench;
#[doc(hidden)]
pub mod block;
#[doc(hidden)]
pub mod cli;
pub mod compare;
#[doc(hidden)]
pub mod files;
#[doc(hidden)]
pub mod fs;
#[doc(hidden)]
pub mod kernel;
#[doc(hidden)]
pub mod mm;
#[doc(hidden)]
pub mod probe;
pub mod replay;
#[doc(hidden)]
pub mod report;
#[doc(hidden)]
pub mod rng;
pub mod scenario;
pub mod sim;
#[doc(hidden)]
pub mod sweep;
pub mod trace;
pub mod units;
