//! The simulated kernel's shared state: folios, inodes with their page cache, block devices, the event sink and
//! vm counters. Every model function takes `&mut Kernel`; `now` and `task` are the running task's clock and name.

use std::sync::Arc;

use crate::block::BlockDevice;
use crate::kernel::memcontrol::Memcg;
use crate::kernel::mmzone::Kswapd;
use crate::kernel::mmzone::LruvecStats;
use crate::kernel::mmzone::Zone;
use crate::mm::folio::{FolioId, FolioSlab};
use crate::mm::swap::Lruvec;
use crate::mm::workingset::Workingset;
use crate::trace::event::{Event, EventKind, Name};
use crate::units::Nanos;

pub mod backing_dev;
pub mod cpu;
mod fs;
pub mod jbd2;
pub mod memcontrol;
pub mod mmzone;
pub mod syscall;
mod vmstat;
pub mod writeback;

pub use fs::Inode;
pub use vmstat::VmStat;

/// The CPU time of entering and leaving a system call (a copy to or from the user is charged per page with the
/// host's stalls: kernel/cpu.rs).
// DIVERGENCE: a constant, not measured per host.
pub const SYSCALL_NS: u64 = 250;

/// Where a call stands after running as far as it could: returned, with its result (bytes or 0, or -errno), or
/// asleep until a time (the task's state to resume from is in its `Current`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    Done(i64),
    Sleep(Nanos),
}

/// A sleep met inside a call: the task sleeps until this time (a folio's read, a write batch's end, a pause), and
/// the call resumes from the state it saved when the engine runs the task again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked(pub Nanos);

/// Why a system call cannot be run by the model: an op it does not model yet, or one it refuses (the message says
/// what); the engine turns either into a `SimError` naming the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallError {
    NotModelled(&'static str),
    Refused(&'static str),
}

/// Where events go. Off means no event is built at all.
#[derive(Clone, Debug, Default)]
pub struct EventSink {
    pub enabled: bool,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug)]
pub struct Kernel {
    pub now: Nanos,
    pub task: Name,
    pub folios: FolioSlab,
    pub inodes: Vec<Inode>,
    pub devices: Vec<BlockDevice>,
    /// Per device: bdi->io_pages (max_sectors_kb / 4).
    pub io_pages: Vec<u64>,
    /// Per device: bdi->ra_pages (read_ahead_kb / 4), a new open file's readahead window.
    pub ra_pages: Vec<u64>,
    pub sink: EventSink,
    pub vm: VmStat,
    /// The file LRU of the (single) memory domain.
    pub lru: Lruvec,
    /// The workload's memory cgroup, when the scenario limits it.
    pub memcg: Option<Memcg>,
    /// Shadow-entry clock and refault counters.
    pub ws: Workingset,
    /// The statistics reclaim reads of the lruvec (as of the last flush).
    pub lru_stats: LruvecStats,
    /// The machine's one zone: sizes, watermarks.
    pub zone: Zone,
    /// The node's kswapd thread.
    pub kswapd: Kswapd,
    /// Folios a reader holds a reference to while it may allocate (reclaim keeps them).
    pub pinned: Vec<FolioId>,
    /// Page tables of every file mapping (the rmap's view: reclaim checks and clears them).
    pub ptes: Vec<crate::mm::pgtable::Ptes>,
    pub(crate) rwbs_ra: Name,
    pub(crate) rwbs_r: Name,
    pub(crate) rwbs_w: Name,
    pub(crate) rwbs_ws: Name,
    pub(crate) scratch_runs: Vec<(u64, u64, u64)>,
    pub(crate) scratch_reqs: Vec<crate::block::Request>,
    /// The read path's folio batch, reused across calls.
    pub read_batch: Vec<FolioId>,
    /// Per task: the batch its buffered read holds while it sleeps (filemap_read).
    pub read_parked: Vec<Vec<FolioId>>,
    /// Pages cached before the run (the scenario's initial state).
    pub initial_pages: u64,
    /// The most pages cached at once.
    pub peak_cached_pages: u64,
    /// Per device: the filesystem's block size.
    pub fs_block: Vec<u64>,
    /// Each device's ext4 journal (fs/jbd2.rs).
    pub journals: Vec<crate::kernel::jbd2::Journal>,
    /// Dirty throttling and writeback: the wb_domain, per-task state, one flusher per device, I/O in flight.
    pub wb: crate::kernel::backing_dev::Writeback,
    /// Index of the running task (for per-task state such as current->nr_dirtied).
    pub cur_task: usize,
    /// When the next thing queued elsewhere runs (another task, kswapd, a flusher): a running task yields at its next
    /// preemption point once its clock passes it (`need_resched`).
    pub preempt_at: Nanos,
    /// Set by model code that met something the model cannot run yet; the op fails with SimError::Unsupported.
    pub unsupported: Option<&'static str>,
    /// The result of every cachestat op, in the order they ran.
    pub cachestat_log: Vec<crate::trace::cachestat::Record>,
}

impl Kernel {
    /// Model: a machine of `inodes` on `devices` (each with its bdi->io_pages), events recorded or not; the
    /// composition root (sim/build.rs) sets the rest.
    pub fn new(inodes: Vec<Inode>, devices: Vec<BlockDevice>, io_pages: Vec<u64>, events: bool) -> Self {
        Kernel {
            now: Nanos(0),
            task: Arc::from("init"),
            folios: FolioSlab::default(),
            inodes,
            devices,
            io_pages,
            ra_pages: Vec::new(),
            sink: EventSink { enabled: events, events: Vec::new() },
            vm: VmStat::default(),
            lru: Lruvec::default(),
            memcg: None,
            ws: Workingset::default(),
            lru_stats: LruvecStats::default(),
            zone: Zone::default(),
            kswapd: Kswapd::default(),
            pinned: Vec::new(),
            ptes: Vec::new(),
            rwbs_ra: Arc::from("RA"),
            rwbs_r: Arc::from("R"),
            rwbs_w: Arc::from("W"),
            rwbs_ws: Arc::from("WS"),
            scratch_runs: Vec::new(),
            scratch_reqs: Vec::new(),
            read_batch: Vec::with_capacity(crate::mm::folio::FOLIO_BATCH),
            read_parked: Vec::new(),
            initial_pages: 0,
            peak_cached_pages: 0,
            fs_block: Vec::new(),
            journals: Vec::new(),
            wb: Default::default(),
            cur_task: 0,
            preempt_at: Nanos(u64::MAX),
            unsupported: None,
            cachestat_log: Vec::new(),
        }
    }

    /// Model: whether events are recorded (when not, no event is even built).
    #[inline]
    pub fn events_on(&self) -> bool {
        self.sink.enabled
    }

    /// Model: records an event at the running task's clock (where the kernel fires a tracepoint).
    pub fn emit(&mut self, kind: EventKind) {
        self.emit_at(self.now, kind);
    }

    /// Model: records an event at `time`.
    pub fn emit_at(&mut self, time: Nanos, kind: EventKind) {
        if self.sink.enabled {
            self.sink.events.push(Event { time, task: self.task.clone(), kind });
        }
    }

    /// need_resched at a preemption point of the running task (cond_resched in a long call): its clock has passed
    /// the next run queued elsewhere, or a run it scheduled (a flusher woken, kswapd woken) is due before it.
    pub fn need_resched(&self) -> bool {
        if self.now > self.preempt_at {
            return true;
        }
        let due = |t: Nanos| t < self.now;
        self.wb.wbs.iter().any(|w| w.pending.is_some_and(|(t, _)| due(t))) || self.kswapd.pending_at().is_some_and(due)
    }

    /// Model: the scenario's name of `file`, which events show where the kernel prints an inode number.
    pub fn file_name(&self, file: u32) -> Name {
        self.inodes[file as usize].name.clone()
    }

    /// i_blocksize: the block size of the filesystem holding `file` (4096 unless set per device).
    pub fn fs_block_size(&self, file: u32) -> u64 {
        self.fs_block.get(self.inodes[file as usize].device).copied().unwrap_or(4096)
    }

    /// inode_to_bdi: the file's device's bdi->io_pages, its largest I/O in pages (max_sectors_kb / 4).
    pub fn io_pages(&self, file: u32) -> u64 {
        self.io_pages[self.inodes[file as usize].device]
    }

    /// Model: checks the page cache's invariants: every cached folio is on exactly one LRU list, the lists' links and
    /// counts hold, the cached pages add up, and the dirty pages agree with the counters and the dirty tags.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.lru.check(&self.folios)?;
        let cached: u64 = self.inodes.iter().map(|i| i.mapping.nrpages).sum();
        let on_lru = self.lru.nr_pages[0] + self.lru.nr_pages[1];
        if cached != on_lru {
            return Err(format!("invariant: {cached} pages cached but {on_lru} on the LRU"));
        }
        if self.vm.nr_added + self.initial_pages - self.vm.nr_deleted != cached {
            return Err("invariant: pages added - deleted != pages cached".into());
        }
        let mut dirty_total = 0;
        for ino in &self.inodes {
            let dirty: u64 = ino
                .mapping
                .iter()
                .map(|id| self.folios.get(id))
                .filter(|f| f.test(crate::mm::folio::PG_DIRTY))
                .map(|f| f.nr_pages())
                .sum();
            if dirty != ino.nr_dirty {
                return Err(format!("invariant: {}: {dirty} pages dirty, {} counted", ino.name, ino.nr_dirty));
            }
            dirty_total += dirty;
        }
        if dirty_total != self.vm.nr_dirty {
            return Err(format!("invariant: {dirty_total} pages dirty, NR_FILE_DIRTY {}", self.vm.nr_dirty));
        }
        let mut listed = 0;
        for ino in &self.inodes {
            listed += ino.mapping.check_nodes(&self.folios).map_err(|e| format!("{}: {e}", ino.name))?;
            ino.mapping.check_dirty_tags(&self.folios).map_err(|e| format!("{}: {e}", ino.name))?;
        }
        if listed != self.ws.shadow_nodes.len() {
            return Err(format!("invariant: {listed} shadow-only nodes, {} listed", self.ws.shadow_nodes.len()));
        }
        if self.zone.overcommitted == 0 && cached + self.zone.used > self.zone.managed {
            return Err(format!(
                "invariant: {cached} pages cached beyond the zone's {} managed pages",
                self.zone.managed
            ));
        }
        Ok(())
    }
}
