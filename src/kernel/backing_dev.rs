//! include/linux/backing-dev-defs.h and writeback.h: each device's struct bdi_writeback (its flusher's inode
//! lists, work items and counters) and the machine's writeback state (the global wb_domain, vm.dirty_* settings,
//! per-task ratelimits, writeback completions in flight). The code is fs/fs_writeback.rs, fs/writepages.rs and
//! mm/page_writeback/ (throttle.rs: balance_dirty_pages_ratelimited on this state).

use std::collections::{BTreeMap, VecDeque};

use crate::mm::folio::FolioId;
use crate::mm::page_writeback::{jiffies_at, BackingDevInfo, BdiWriteback, BdpRatelimits, DirtyableMemory};
use crate::mm::page_writeback::{TaskDirty, VmDirtySysctls, WbDomain};
use crate::units::Nanos;

/// struct wb_writeback_work.
#[derive(Clone, Debug)]
pub struct WbWork {
    pub nr_pages: i64,
    pub sync_all: bool,
    pub for_kupdate: bool,
    pub for_background: bool,
    pub range_cyclic: bool,
    pub reason: &'static str,
    /// Pages written so far (traced as writeback_pages_written when the work is done).
    pub written: i64,
}

/// struct bdi_writeback: the lists and work of one device's flusher, its bandwidth state (page_writeback's
/// BdiWriteback) and its counters (WB_RECLAIMABLE, WB_WRITEBACK, WB_DIRTIED, WB_WRITTEN, in pages).
#[derive(Clone, Debug)]
pub struct Wb {
    /// wb->bdi->last_bdp_sleep (6.8+; wb->dirty_sleep before): when a task last slept in balance_dirty_pages on this wb (blk-wbt's wb_recent_wait).
    pub last_bdp_sleep: Option<Nanos>,
    /// Newest at the front; move_expired_inodes takes from the back (oldest).
    pub b_dirty: VecDeque<u32>,
    /// The next inode to write is at the back.
    pub b_io: VecDeque<u32>,
    pub b_more_io: VecDeque<u32>,
    pub work_list: VecDeque<WbWork>,
    /// The work wb_writeback is executing across steps.
    pub cur: Option<WbWork>,
    /// The wb_writeback iteration the flusher sleeps in, if it does.
    pub iter: Option<super::writeback::IterCont>,
    /// wb->last_old_flush (jiffies).
    pub last_old_flush: u64,
    pub pg: BdiWriteback,
    pub bdi: BackingDevInfo,
    pub wb_reclaimable: u64,
    pub wb_writeback: u64,
    pub wb_dirtied: u64,
    pub wb_written: u64,
    /// The flusher's next run (a delayed work or a wake-up), with a generation to drop stale queue entries.
    pub next_run: Option<Nanos>,
    pub generation: u64,
    pub(crate) pending: Option<(Nanos, u64)>,
    /// WB_writeback_running: a work item is being executed.
    pub running: bool,
    /// wb->writeback_inodes: inodes with folios under writeback (the WRITEBACK tag of their mapping).
    pub writeback_inodes: u64,
    /// wb->bw_dwork: when the delayed bandwidth update queued by wb_inode_writeback_end runs, if queued.
    pub bw_dwork: Option<Nanos>,
}

impl Wb {
    pub(crate) fn new(now_jiffies: u64) -> Self {
        Wb {
            last_bdp_sleep: None,
            b_dirty: VecDeque::new(),
            b_io: VecDeque::new(),
            b_more_io: VecDeque::new(),
            work_list: VecDeque::new(),
            cur: None,
            iter: None,
            last_old_flush: now_jiffies,
            pg: BdiWriteback::new(now_jiffies),
            bdi: BackingDevInfo::default(),
            wb_reclaimable: 0,
            wb_writeback: 0,
            wb_dirtied: 0,
            wb_written: 0,
            next_run: None,
            generation: 0,
            pending: None,
            running: false,
            writeback_inodes: 0,
            bw_dwork: None,
        }
    }

    /// wb_has_dirty_io: inodes on any of the lists.
    pub fn has_dirty_io(&self) -> bool {
        !(self.b_dirty.is_empty() && self.b_io.is_empty() && self.b_more_io.is_empty())
    }

    /// Schedules the flusher at `at` unless it already runs sooner (mod_delayed_work with `sooner`) or later.
    pub(crate) fn wake_at(&mut self, at: Nanos, sooner_only: bool) {
        if let Some(t) = self.next_run {
            if sooner_only && t <= at {
                return;
            }
        }
        self.generation += 1;
        self.next_run = Some(at);
        self.pending = Some((at, self.generation));
    }
}

/// The vm sysctls writeback reads: the dirty limits (vm.dirty_ratio, dirty_bytes and their background twins),
/// vm.dirty_expire_centisecs and vm.dirty_writeback_centisecs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WritebackSysctls {
    pub vm: VmDirtySysctls,
    pub dirty_expire_centisecs: u64,
    pub dirty_writeback_centisecs: u64,
}

/// The writeback side of the kernel: the global wb_domain, the vm.dirty_* settings, per-task and per-CPU
/// ratelimit state, one Wb per device, NR_WRITEBACK / NR_WRITTEN and the writeback completions in flight.
#[derive(Clone, Debug, Default)]
pub struct Writeback {
    pub dom: WbDomain,
    pub vm: VmDirtySysctls,
    pub rl: BdpRatelimits,
    pub tasks: Vec<TaskDirty>,
    // DIVERGENCE: one bdi_writeback per device (its bdi's root wb): no cgroup writeback, as on the cgroup v1 host.
    pub wbs: Vec<Wb>,
    pub nr_writeback: u64,
    pub nr_written: u64,
    /// dirty_expire_interval and dirty_writeback_interval, centiseconds.
    pub expire_cs: u64,
    pub interval_cs: u64,
    pub(crate) completions: BTreeMap<(Nanos, u64), (usize, u32, Vec<FolioId>)>,
    pub(crate) seq: u64,
    /// Write requests in a device batch still being collected (block/write_batch.rs): their end is not known yet.
    pub(crate) pending: Vec<PendingWrite>,
    /// Submissions whose submitter sleeps (in blk-wbt, for a tag) with folios under writeback not submitted yet.
    pub(crate) blocked_submits: Vec<BlockedSubmit>,
    pub(crate) next_submit: u64,
}

/// A writeback submission asleep: its folios of `file` in pages [first, last) are under writeback but not yet in a
/// request; the submitter goes on at `until`.
#[derive(Clone, Copy, Debug)]
pub struct BlockedSubmit {
    pub id: u64,
    pub file: u32,
    pub first: u64,
    pub last: u64,
    pub until: Nanos,
}

/// A write request waiting for its batch to go into service: the folios whose writeback it ends (if any) and its
/// completion events.
#[derive(Clone, Debug)]
pub struct PendingWrite {
    pub dev: usize,
    pub batch: crate::block::BatchId,
    pub folios: Option<(u32, Vec<FolioId>)>,
    pub events: Vec<crate::trace::event::EventKind>,
}

impl Writeback {
    /// Boot-time state for `devices` devices and `tasks` tasks (writeback_set_ratelimit sets ratelimit_pages and
    /// the domain's dirty_limit from the initial dirtyable memory).
    pub fn new(s: &WritebackSysctls, devices: usize, tasks: usize, cpus: u64, mem: &DirtyableMemory) -> Self {
        let now = jiffies_at(0);
        let vm = s.vm;
        let mut dom = WbDomain::new(now);
        let ratelimit = crate::mm::page_writeback::writeback_set_ratelimit(&mut dom, mem, &vm, false, cpus);
        Writeback {
            dom,
            vm,
            rl: BdpRatelimits::new(cpus as usize, ratelimit),
            tasks: vec![TaskDirty::default(); tasks],
            wbs: (0..devices).map(|_| Wb::new(now)).collect(),
            nr_writeback: 0,
            nr_written: 0,
            expire_cs: s.dirty_expire_centisecs,
            interval_cs: s.dirty_writeback_centisecs,
            completions: BTreeMap::new(),
            seq: 0,
            pending: Vec::new(),
            blocked_submits: Vec::new(),
            next_submit: 0,
        }
    }

    /// Registers folios of `file` on device `dev` whose writeback ends at `at`.
    pub fn add_completion(&mut self, at: Nanos, dev: usize, file: u32, ids: Vec<FolioId>) {
        self.seq += 1;
        self.completions.insert((at, self.seq), (dev, file, ids));
    }

    /// Whether a write request waits for its batch to end (a batch holds at least one request).
    #[inline]
    pub fn has_pending_writes(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Holds a write request until its batch ends.
    pub fn add_pending(&mut self, p: PendingWrite) {
        self.pending.push(p);
    }

    /// Takes the pending requests of `dev`'s batch `batch`, in submission order.
    pub fn take_pending(&mut self, dev: usize, batch: crate::block::BatchId) -> Vec<PendingWrite> {
        let (mine, rest) =
            std::mem::take(&mut self.pending).into_iter().partition(|p| p.dev == dev && p.batch == batch);
        self.pending = rest;
        mine
    }

    /// Writeback in batches still being collected: (device, batch, file, folios).
    pub fn pending_writeback(&self) -> impl Iterator<Item = (usize, crate::block::BatchId, u32, &Vec<FolioId>)> + '_ {
        self.pending.iter().filter_map(|p| p.folios.as_ref().map(|(f, ids)| (p.dev, p.batch, *f, ids)))
    }

    /// The earliest completion due by `upto`.
    pub fn pop_completion(&mut self, upto: Nanos) -> Option<(Nanos, usize, u32, Vec<FolioId>)> {
        let (&(at, seq), _) = self.completions.first_key_value()?;
        if at > upto {
            return None;
        }
        let (dev, file, ids) = self.completions.remove(&(at, seq)).unwrap();
        Some((at, dev, file, ids))
    }

    /// Writeback in flight: (completion time, file, folios).
    pub fn in_flight(&self) -> impl Iterator<Item = (Nanos, u32, &Vec<FolioId>)> + '_ {
        self.completions.iter().map(|(&(at, _), (_, f, ids))| (at, *f, ids))
    }

    /// Whether a flusher run waits to be queued.
    pub fn has_pending(&self) -> bool {
        self.wbs.iter().any(|w| w.pending.is_some())
    }

    /// The flusher runs to queue: (time, device, generation). Allocates only when one is pending.
    pub fn take_schedules(&mut self) -> Vec<(Nanos, usize, u64)> {
        if self.wbs.iter().all(|w| w.pending.is_none()) {
            return Vec::new();
        }
        self.wbs.iter_mut().enumerate().filter_map(|(d, w)| w.pending.take().map(|(t, g)| (t, d, g))).collect()
    }

    /// Whether a queue entry is still the flusher's next run.
    pub fn is_current(&self, dev: usize, generation: u64) -> bool {
        self.wbs[dev].generation == generation
    }

    pub(crate) fn interval_ns(&self) -> u64 {
        self.interval_cs * 10_000_000
    }
}
