//! `Event`: the one observation vocabulary, mirroring the host kernel's (6.18) tracepoints.
//!
//! Each variant is one tracepoint, named as in tracefs (`events/<system>/<name>`), with the tracepoint's own field
//! names, with these changes, applied the same way by the simulator and by the probe's normaliser:
//! - `dev`/`s_dev`/`ino` become `file=<scenario file name>` and `bdi`/`dev` become `device=<scenario device name>`;
//!   an inode that is not a scenario file prints as `file=ino:<decimal>`;
//! - filemap offsets (`ofs=` in the kernel's text, which is `index << 12`) are given as page `index` (the field the
//!   tracepoint actually records);
//! - host-only fields are dropped: pfn, pid, cgroup_ino, block `cmd`, ioprio, comm of block events;
//! - the task that fired the event is a column of its own (the thread name; kernel threads keep theirs, with the
//!   per-instance suffix of `kworker/u8:3` dropped).
//!
//! The one-line text form is `TIME_NS TASK NAME key=value ...` (see `trace::log`).

use std::fmt::{self, Write as _};
use std::sync::Arc;

use crate::units::Nanos;

/// A name (file, device, task, rwbs flags, reason): no whitespace, no `=`.
pub type Name = Arc<str>;

/// One observed or simulated tracepoint hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it fired, from the start of the run.
    pub time: Nanos,
    /// The task (thread) that fired it; kernel threads keep their names.
    pub task: Name,
    /// The tracepoint and its fields.
    pub kind: EventKind,
}

/// Which tracing subsystem (tracefs `events/<system>`) an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum System {
    /// readahead:*.
    Readahead,
    /// filemap:*.
    Filemap,
    /// writeback:*.
    Writeback,
    /// block:*.
    Block,
}

impl System {
    /// The tracing subsystem's name.
    pub fn name(self) -> &'static str {
        match self {
            System::Readahead => "readahead",
            System::Filemap => "filemap",
            System::Writeback => "writeback",
            System::Block => "block",
        }
    }
}

/// A field value as it appears in text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An unsigned integer.
    U(u64),
    /// A signed integer.
    I(i64),
    /// A name (file, device, rwbs...).
    S(Name),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::U(v) => write!(f, "{v}"),
            Value::I(v) => write!(f, "{v}"),
            Value::S(v) => f.write_str(v),
        }
    }
}

/// Why a field could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("unknown event `{0}`")]
    /// An event name the log format does not know.
    UnknownEvent(String),
    #[error("event `{event}` lacks field `{field}`")]
    /// A field the event needs is missing.
    Missing {
        /// The event.
        event: &'static str,
        /// The field.
        field: &'static str,
    },
    #[error("event `{event}` field `{field}`: `{text}` is not {expected}")]
    /// A field's value does not parse.
    Bad {
        /// The event.
        event: &'static str,
        /// The field.
        field: &'static str,
        /// The value as written.
        text: String,
        /// What was expected.
        expected: &'static str,
    },
    #[error("event `{event}` has unknown field `{field}`")]
    /// A field the event does not have.
    Unknown {
        /// The event.
        event: &'static str,
        /// The field.
        field: String,
    },
}

/// Field types the macro knows how to print and parse.
pub trait FieldType: Sized {
    /// What a value of this type looks like, for error messages.
    const EXPECTED: &'static str;
    /// Parses the type from a field's text.
    fn parse_field(s: &str) -> Option<Self>;
    /// The value, for generic formatting and comparison.
    fn to_value(&self) -> Value;
}

impl FieldType for u64 {
    const EXPECTED: &'static str = "an unsigned integer";
    fn parse_field(s: &str) -> Option<Self> {
        s.parse().ok()
    }
    fn to_value(&self) -> Value {
        Value::U(*self)
    }
}

impl FieldType for i64 {
    const EXPECTED: &'static str = "an integer";
    fn parse_field(s: &str) -> Option<Self> {
        s.parse().ok()
    }
    fn to_value(&self) -> Value {
        Value::I(*self)
    }
}

impl FieldType for Name {
    const EXPECTED: &'static str = "a name without spaces or '='";
    fn parse_field(s: &str) -> Option<Self> {
        (!s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '=')).then(|| Arc::from(s))
    }
    fn to_value(&self) -> Value {
        Value::S(self.clone())
    }
}

macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident = $sys:ident / $name:literal { $($field:ident : $ty:ty),* $(,)? } )*) => {
        /// The tracepoints, with their fields (see the module doc for the normalisation rules).
        ///
        /// The fields are the kernel tracepoint's, by the same names and in its order (its `format` file under
        /// tracefs), with `file` for the kernel's dev and ino and `device` for its bdi or block dev.
        #[allow(missing_docs)] // the fields: the tracepoint's, see above.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum EventKind {
            $( $(#[$doc])* $variant { $($field: $ty),* }, )*
        }

        impl EventKind {
            /// All tracepoint names, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The tracepoint's name.
            pub fn name(&self) -> &'static str {
                match self { $( EventKind::$variant { .. } => $name, )* }
            }

            /// The tracefs subsystem.
            pub fn system(&self) -> System {
                match self { $( EventKind::$variant { .. } => System::$sys, )* }
            }

            /// The subsystem of a tracepoint name.
            pub fn system_of(name: &str) -> Option<System> {
                match name { $( $name => Some(System::$sys), )* _ => None }
            }

            /// Field names and values in canonical order.
            pub fn fields(&self) -> Vec<(&'static str, Value)> {
                match self {
                    $( EventKind::$variant { $($field),* } => vec![$((stringify!($field), FieldType::to_value($field))),*], )*
                }
            }

            /// Writes ` key=value` for each field.
            pub fn write_fields(&self, out: &mut String) {
                match self {
                    $( EventKind::$variant { $($field),* } => {
                        $( let _ = write!(out, " {}={}", stringify!($field), FieldType::to_value($field)); )*
                    } )*
                }
            }

            /// Builds an event from its name and `key=value` pairs (any order; every field required, no extras).
            pub fn from_fields<'a>(name: &str, pairs: &[(&'a str, &'a str)]) -> Result<EventKind, FieldError> {
                match name {
                    $( $name => {
                        const FIELDS: &[&str] = &[$(stringify!($field)),*];
                        for (k, _) in pairs {
                            if !FIELDS.contains(k) {
                                return Err(FieldError::Unknown { event: $name, field: k.to_string() });
                            }
                        }
                        $(
                            let text = pairs.iter().find(|(k, _)| *k == stringify!($field)).map(|(_, v)| *v)
                                .ok_or(FieldError::Missing { event: $name, field: stringify!($field) })?;
                            let $field: $ty = <$ty as FieldType>::parse_field(text).ok_or_else(|| FieldError::Bad {
                                event: $name, field: stringify!($field), text: text.to_string(),
                                expected: <$ty as FieldType>::EXPECTED,
                            })?;
                        )*
                        Ok(EventKind::$variant { $($field),* })
                    } )*
                    other => Err(FieldError::UnknownEvent(other.to_string())),
                }
            }
        }
    };
}

events! {
    /// readahead:page_cache_sync_ra, at entry of page_cache_sync_ra: the file_ra_state before the decision.
    PageCacheSyncRa = Readahead / "page_cache_sync_ra" {
        file: Name, index: u64, req_count: u64, order: u64, size: u64, async_size: u64, ra_pages: u64,
        mmap_miss: u64, prev_pos: i64,
    }
    /// readahead:page_cache_async_ra, at entry of page_cache_async_ra (index = the marked folio).
    PageCacheAsyncRa = Readahead / "page_cache_async_ra" {
        file: Name, index: u64, req_count: u64, order: u64, size: u64, async_size: u64, ra_pages: u64,
        mmap_miss: u64, prev_pos: i64,
    }
    /// readahead:page_cache_ra_order: the window about to be read (index = ra->start).
    PageCacheRaOrder = Readahead / "page_cache_ra_order" {
        file: Name, index: u64, order: u64, size: u64, async_size: u64, ra_pages: u64,
    }
    /// readahead:page_cache_ra_unbounded: a forced, random or fallback read of nr_to_read pages.
    PageCacheRaUnbounded = Readahead / "page_cache_ra_unbounded" {
        file: Name, index: u64, nr_to_read: u64, lookahead_size: u64,
    }
    /// filemap:mm_filemap_add_to_page_cache: a folio of 2^order pages inserted at page `index`.
    MmFilemapAddToPageCache = Filemap / "mm_filemap_add_to_page_cache" { file: Name, index: u64, order: u64 }
    /// filemap:mm_filemap_delete_from_page_cache: a folio removed (reclaim, invalidation, truncation).
    MmFilemapDeleteFromPageCache = Filemap / "mm_filemap_delete_from_page_cache" { file: Name, index: u64, order: u64 }
    /// filemap:mm_filemap_fault: a page fault at page `index`.
    MmFilemapFault = Filemap / "mm_filemap_fault" { file: Name, index: u64 }
    /// filemap:mm_filemap_get_pages: one filemap_get_pages call for pages index..=last_index.
    MmFilemapGetPages = Filemap / "mm_filemap_get_pages" { file: Name, index: u64, last_index: u64 }
    /// filemap:mm_filemap_map_pages: fault-around mapped pages index..=last_index.
    MmFilemapMapPages = Filemap / "mm_filemap_map_pages" { file: Name, index: u64, last_index: u64 }
    /// writeback:writeback_dirty_folio: a folio became dirty.
    WritebackDirtyFolio = Writeback / "writeback_dirty_folio" { device: Name, file: Name, index: u64 }
    /// writeback:writeback_dirty_inode_enqueue: an inode went onto b_dirty (dirtied_when in host jiffies).
    WritebackDirtyInodeEnqueue = Writeback / "writeback_dirty_inode_enqueue" {
        device: Name, file: Name, dirtied_when: u64, state: Name,
    }
    /// writeback:global_dirty_state: global dirty counters and thresholds (pages).
    GlobalDirtyState = Writeback / "global_dirty_state" {
        nr_dirty: u64, nr_writeback: u64, bg_thresh: u64, thresh: u64, limit: u64, nr_dirtied: u64, nr_written: u64,
    }
    /// writeback:balance_dirty_pages: one throttling decision (ratelimits in KB/s, times in ms).
    BalanceDirtyPages = Writeback / "balance_dirty_pages" {
        device: Name, limit: u64, setpoint: u64, dirty: u64, wb_setpoint: u64, wb_dirty: u64, dirty_ratelimit: u64,
        task_ratelimit: u64, dirtied: u64, dirtied_pause: u64, paused: u64, pause: i64, period: u64, think: i64,
    }
    /// writeback:bdi_dirty_ratelimit: the bandwidth and ratelimit estimators (KB/s).
    BdiDirtyRatelimit = Writeback / "bdi_dirty_ratelimit" {
        device: Name, write_bw: u64, avg_write_bw: u64, dirty_rate: u64, dirty_ratelimit: u64, task_ratelimit: u64,
        balanced_dirty_ratelimit: u64,
    }
    /// writeback:writeback_queue: a work item queued for the flusher.
    WritebackQueue = Writeback / "writeback_queue" {
        device: Name, nr_pages: i64, sync_mode: u64, kupdate: u64, range_cyclic: u64, background: u64, reason: Name,
    }
    /// writeback:writeback_exec: the flusher picked up a work item.
    WritebackExec = Writeback / "writeback_exec" {
        device: Name, nr_pages: i64, sync_mode: u64, kupdate: u64, range_cyclic: u64, background: u64, reason: Name,
    }
    /// writeback:writeback_start: one wb_writeback pass begins.
    WritebackStart = Writeback / "writeback_start" {
        device: Name, nr_pages: i64, sync_mode: u64, kupdate: u64, range_cyclic: u64, background: u64, reason: Name,
    }
    /// writeback:writeback_written: one wb_writeback pass ends (nr_pages left of its budget).
    WritebackWritten = Writeback / "writeback_written" {
        device: Name, nr_pages: i64, sync_mode: u64, kupdate: u64, range_cyclic: u64, background: u64, reason: Name,
    }
    /// writeback:writeback_wait: a pass waits on an inode under I_SYNC.
    WritebackWait = Writeback / "writeback_wait" {
        device: Name, nr_pages: i64, sync_mode: u64, kupdate: u64, range_cyclic: u64, background: u64, reason: Name,
    }
    /// writeback:writeback_queue_io: expired inodes moved to b_io (older in host jiffies, age in ms).
    WritebackQueueIo = Writeback / "writeback_queue_io" { device: Name, older: u64, age: i64, enqueue: u64, reason: Name }
    /// writeback:writeback_single_inode: one inode written (dirtied_when in host jiffies).
    WritebackSingleInode = Writeback / "writeback_single_inode" {
        device: Name, file: Name, state: Name, dirtied_when: u64, index: u64, to_write: i64, wrote: u64,
    }
    /// writeback:writeback_pages_written: pages written by one wb_do_writeback round of the flusher (the kernel's
    /// event names no device: the probe attributes it to the device of the flusher thread's previous event).
    WritebackPagesWritten = Writeback / "writeback_pages_written" { device: Name, pages: i64 }
    /// writeback:writeback_wake_background: background writeback kicked.
    WritebackWakeBackground = Writeback / "writeback_wake_background" { device: Name }
    /// writeback:writeback_single_inode_start: writeback of one inode begins (dirtied_when in host jiffies).
    WritebackSingleInodeStart = Writeback / "writeback_single_inode_start" {
        device: Name, file: Name, state: Name, dirtied_when: u64, index: u64, to_write: i64, wrote: u64,
    }
    /// writeback:writeback_write_inode_start: ->write_inode (the inode's metadata) is about to be called.
    WritebackWriteInodeStart = Writeback / "writeback_write_inode_start" { device: Name, file: Name, sync_mode: u64 }
    /// writeback:writeback_write_inode: ->write_inode returned.
    WritebackWriteInode = Writeback / "writeback_write_inode" { device: Name, file: Name, sync_mode: u64 }
    /// writeback:writeback_sb_inodes_requeue: an inode put back on b_dirty during writeback_sb_inodes.
    WritebackSbInodesRequeue = Writeback / "writeback_sb_inodes_requeue" {
        device: Name, file: Name, state: Name, dirtied_when: u64,
    }
    /// writeback:writeback_dirty_inode_start: __mark_inode_dirty with inode (metadata) flags, before ->dirty_inode.
    WritebackDirtyInodeStart = Writeback / "writeback_dirty_inode_start" {
        device: Name, file: Name, state: Name, flags: Name,
    }
    /// writeback:writeback_dirty_inode: after ->dirty_inode.
    WritebackDirtyInode = Writeback / "writeback_dirty_inode" { device: Name, file: Name, state: Name, flags: Name }
    /// writeback:sb_mark_inode_writeback: the inode got its first folio under writeback (dirtied_when in jiffies).
    SbMarkInodeWriteback = Writeback / "sb_mark_inode_writeback" {
        device: Name, file: Name, dirtied_when: u64, state: Name,
    }
    /// writeback:sb_clear_inode_writeback: the inode's last folio under writeback completed.
    SbClearInodeWriteback = Writeback / "sb_clear_inode_writeback" {
        device: Name, file: Name, dirtied_when: u64, state: Name,
    }
    /// writeback:folio_wait_writeback: a task waits for a folio under writeback (fsync, sync_file_range, O_DIRECT).
    FolioWaitWriteback = Writeback / "folio_wait_writeback" { device: Name, file: Name, index: u64 }
    /// block:block_bio_queue (blktrace Q).
    BlockBioQueue = Block / "block_bio_queue" { device: Name, rwbs: Name, sector: u64, nr_sector: u64 }
    /// block:block_getrq (blktrace G).
    BlockGetrq = Block / "block_getrq" { device: Name, rwbs: Name, sector: u64, nr_sector: u64 }
    /// block:block_bio_backmerge (blktrace M).
    BlockBioBackmerge = Block / "block_bio_backmerge" { device: Name, rwbs: Name, sector: u64, nr_sector: u64 }
    /// block:block_bio_frontmerge (blktrace F).
    BlockBioFrontmerge = Block / "block_bio_frontmerge" { device: Name, rwbs: Name, sector: u64, nr_sector: u64 }
    /// block:block_rq_insert (blktrace I).
    BlockRqInsert = Block / "block_rq_insert" { device: Name, rwbs: Name, bytes: u64, sector: u64, nr_sector: u64 }
    /// block:block_rq_issue (blktrace D).
    BlockRqIssue = Block / "block_rq_issue" { device: Name, rwbs: Name, bytes: u64, sector: u64, nr_sector: u64 }
    /// block:block_rq_complete (blktrace C).
    BlockRqComplete = Block / "block_rq_complete" { device: Name, rwbs: Name, sector: u64, nr_sector: u64, error: i64 }
    /// block:block_rq_merge: a request merged into another (blktrace M on requests).
    BlockRqMerge = Block / "block_rq_merge" { device: Name, rwbs: Name, bytes: u64, sector: u64, nr_sector: u64 }
    /// block:block_rq_requeue (blktrace R).
    BlockRqRequeue = Block / "block_rq_requeue" { device: Name, rwbs: Name, sector: u64, nr_sector: u64 }
    /// block:block_rq_error: a request completed with an error.
    BlockRqError = Block / "block_rq_error" { device: Name, rwbs: Name, sector: u64, nr_sector: u64, error: i64 }
    /// block:block_io_start: I/O accounting of a request starts.
    BlockIoStart = Block / "block_io_start" { device: Name, rwbs: Name, bytes: u64, sector: u64, nr_sector: u64 }
    /// block:block_io_done: I/O accounting of a request ends.
    BlockIoDone = Block / "block_io_done" { device: Name, rwbs: Name, bytes: u64, sector: u64, nr_sector: u64 }
    /// block:block_bio_complete: a bio completed.
    BlockBioComplete = Block / "block_bio_complete" { device: Name, rwbs: Name, sector: u64, nr_sector: u64, error: i64 }
    /// block:block_split (blktrace X): a bio split at new_sector.
    BlockSplit = Block / "block_split" { device: Name, rwbs: Name, sector: u64, new_sector: u64 }
}

impl EventKind {
    /// The scenario file this event concerns, if any.
    pub fn file(&self) -> Option<&Name> {
        match self {
            EventKind::PageCacheSyncRa { file, .. }
            | EventKind::PageCacheAsyncRa { file, .. }
            | EventKind::PageCacheRaOrder { file, .. }
            | EventKind::PageCacheRaUnbounded { file, .. }
            | EventKind::MmFilemapAddToPageCache { file, .. }
            | EventKind::MmFilemapDeleteFromPageCache { file, .. }
            | EventKind::MmFilemapFault { file, .. }
            | EventKind::MmFilemapGetPages { file, .. }
            | EventKind::MmFilemapMapPages { file, .. }
            | EventKind::WritebackDirtyFolio { file, .. }
            | EventKind::WritebackDirtyInodeEnqueue { file, .. }
            | EventKind::WritebackSingleInode { file, .. }
            | EventKind::WritebackSingleInodeStart { file, .. }
            | EventKind::WritebackWriteInodeStart { file, .. }
            | EventKind::WritebackWriteInode { file, .. }
            | EventKind::WritebackSbInodesRequeue { file, .. }
            | EventKind::WritebackDirtyInodeStart { file, .. }
            | EventKind::WritebackDirtyInode { file, .. }
            | EventKind::SbMarkInodeWriteback { file, .. }
            | EventKind::SbClearInodeWriteback { file, .. }
            | EventKind::FolioWaitWriteback { file, .. } => Some(file),
            _ => None,
        }
    }
}

/// Kernel threads that evict pages on their own account (reclaim, DAMON, khugepaged): their deletions in a probe
/// log are not the workload's.
pub fn is_foreign(task: &str) -> bool {
    task.starts_with("kswapd") || task.starts_with("kdamond") || task.starts_with("khugepaged")
}
