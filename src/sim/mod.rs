//! The simulation engine: virtual time, the event queue, tasks issuing their op streams against the modelled
//! kernel (`Kernel`), and the run's results.
//!
//! Tasks run in virtual-time order (queue key (time, seq)); each op runs to completion at its start time, its
//! task's clock advancing through CPU costs and I/O waits. DIVERGENCE: an op is atomic with respect to other tasks
//! (another task's op that would start during this op's I/O wait runs after it), which is exact for one task and
//! an approximation for several. The kernel thread kswapd0 (mm/kswapd.rs) is queued like a task when an allocation
//! wakes it, at the waker's clock, and runs one balance round per step; its steps are atomic in the same way.

pub mod cpu;
pub mod extents;

pub mod queue;
pub mod stats;
pub mod task;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use extents::{merge_extents, read_extents};
pub use queue::EventQueue;

use crate::block::{BlockDevice, Extent, ExtentMap};
use crate::kernel::{Inode, Kernel, VmStat};
use crate::mm::folio::Folio;
use crate::scenario::{InitialState, Scenario};
use crate::trace::event::Event;
use crate::units::Nanos;
pub use task::SimError;
use task::{Task, TaskStats};

/// What the event queue runs: a task's next op, or a step of kswapd0 (of the given schedule generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Runnable {
    Task(usize),
    Kswapd(u64),
    /// The flusher of a device, with the generation of its schedule.
    Flusher(usize, u64),
}

/// Run settings.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Record events.
    pub events: bool,
    /// Per file name: the extent map to use (e.g. from a probe's extents.txt); contiguous by default.
    pub extents: BTreeMap<String, Vec<Extent>>,
}

/// Per device results.
#[derive(Clone, Debug, Default)]
pub struct DeviceStats {
    pub name: String,
    pub requests: u64,
    pub sectors_read: u64,
    pub busy_ns: u64,
}

/// Per file residency at the end.
#[derive(Clone, Debug, Default)]
pub struct FileResidency {
    pub name: String,
    /// i_size in pages at the end of the run.
    pub size_pages: u64,
    /// Dirty pages at the end (cachestat's nr_dirty).
    pub nr_dirty: u64,
    pub nr_cache: u64,
    /// Resident pages as inclusive ranges.
    pub ranges: Vec<(u64, u64)>,
    /// Pages brought in by readahead that were never read.
    pub ra_unused: u64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Default)]
pub struct SimResult {
    pub scenario: String,
    pub seed: u64,
    /// Events in time order (same-time events in emission order).
    pub events: Vec<Event>,
    pub tasks: Vec<TaskStats>,
    pub devices: Vec<DeviceStats>,
    pub files: Vec<FileResidency>,
    pub vm: VmStat,
    /// Pages on the inactive and active file LRU lists at the end (nr_inactive_file, nr_active_file).
    pub nr_inactive_file: u64,
    pub nr_active_file: u64,
    /// Reclaim and workingset counters, named as in /proc/vmstat.
    pub counters: Vec<(&'static str, u64)>,
    /// The machine's zone: free pages at the start and the end (nr_free_pages), the fewest seen.
    pub zone: ZoneStats,
    /// The result of each cachestat op, in the order they ran.
    pub cachestat: Vec<crate::trace::cachestat::Record>,
    pub end: Nanos,
    /// The dirty-page time series (vmstat_series.txt), sampled every 100 ms when events are on.
    pub series: Option<crate::trace::series::Series>,
}

/// The series' sampling interval (the probe's).
pub const SERIES_INTERVAL_NS: u64 = 100_000_000;

/// One vmstat_series sample of the model's state, in the probe's keys and units.
fn series_sample(k: &mut Kernel, sc: &Scenario, at: Nanos) -> crate::trace::series::Sample {
    k.complete_writeback(at);
    let mut values = std::collections::BTreeMap::new();
    values.insert("nr_dirty".to_string(), k.vm.nr_dirty);
    values.insert("nr_writeback".to_string(), k.wb.nr_writeback);
    values.insert("nr_dirtied".to_string(), k.vm.nr_dirtied);
    values.insert("nr_written".to_string(), k.wb.nr_written);
    let mem = k.dirtyable_memory();
    let (bg, thresh) = crate::mm::page_writeback::global_dirty_limits(&mem, &k.wb.vm, false, &k.wb.dom);
    values.insert("dirty_thresh_kb".to_string(), thresh * 4);
    values.insert("background_thresh_kb".to_string(), bg * 4);
    for (d, dev) in sc.devices.iter().enumerate() {
        let w = &k.wb.wbs[d];
        values.insert(format!("{}.reclaimable_kb", dev.name), w.wb_reclaimable * 4);
        values.insert(format!("{}.writeback_kb", dev.name), w.wb_writeback * 4);
        values.insert(format!("{}.dirtied_kb", dev.name), w.wb_dirtied * 4);
        values.insert(format!("{}.written_kb", dev.name), w.wb_written * 4);
        values.insert(
            format!("{}.write_bw_kbps", dev.name),
            crate::mm::page_writeback::kbps(w.pg.bw.avg_write_bandwidth),
        );
    }
    crate::trace::series::Sample { time: at, values }
}

/// The machine's one zone over the run (pages).
#[derive(Clone, Debug, Default)]
pub struct ZoneStats {
    pub managed: u64,
    pub min: u64,
    pub low: u64,
    pub high: u64,
    pub free_start: u64,
    pub free_end: u64,
    /// The fewest free pages right after an allocation.
    pub free_lowest: u64,
    /// The most file pages cached at once.
    pub peak_cached: u64,
    /// Allocations reclaim could not make room for (the kernel would OOM-kill), and __GFP_NORETRY failures.
    pub overcommitted: u64,
    pub noretry_failed: u64,
}

/// The extent map of each file when none is given (default_layout: the model's stand-in for the filesystem's
/// block allocator).
///
/// Where a scenario's files sit on their device when no extent map is given: one after another from 16 MiB,
/// each aligned to 1 MiB (DIVERGENCE: a real filesystem's allocator decides; pass the probe's FIEMAP for exact
/// sectors).
/// The filesystem block size mkfs picks for a device: ext4 uses 1 KiB blocks below 512 MiB (mke2fs.conf's
/// `small` and `floppy` types), 4 KiB above; xfs 4 KiB.
pub fn fs_block_size(d: &crate::scenario::Device) -> u64 {
    match d.fs {
        crate::scenario::FsType::Ext4 if d.size < 512 << 20 => 1024,
        _ => 4096,
    }
}

fn default_layout(sc: &Scenario) -> Vec<ExtentMap> {
    let mut next = vec![32768u64; sc.devices.len()];
    sc.files
        .iter()
        .map(|f| {
            let sector = next[f.device];
            next[f.device] += f.size.div_ceil(1 << 20) * 2048;
            ExtentMap::contiguous(sector, f.size.div_ceil(4096).max(1))
        })
        .collect()
}

/// Runs the scenario through the model.
pub fn simulate(sc: &Scenario, opts: &SimOptions) -> Result<SimResult, SimError> {
    if sc.machine.memcg_limit.is_some() && sc.files.iter().any(|f| f.state != InitialState::Cold) {
        return Err(SimError::MemcgUnsupported);
    }
    if let Some(name) = opts.extents.keys().find(|n| sc.file_index(n).is_none()) {
        return Err(SimError::BadExtents(format!(
            "the extent map names `{name}`, which is not a file of the scenario"
        )));
    }
    // Initially cached data must fit in the memory left by `machine.used`.
    let cached: u64 = sc
        .files
        .iter()
        .map(|f| match f.state {
            InitialState::Cached => f.size,
            InitialState::CachedRange { len, .. } => len,
            _ => 0,
        })
        .sum();
    let room = (crate::mm::page_alloc::managed_pages(sc.machine.memory) * 4096).saturating_sub(sc.machine.used);
    if cached > room {
        return Err(SimError::TooMuchCached { cached, memory: room });
    }
    let layout = default_layout(sc);
    let inodes: Vec<Inode> = sc
        .files
        .iter()
        .zip(layout)
        .map(|(f, default)| {
            let extents = opts
                .extents
                .get(&f.name)
                .map(|e| ExtentMap { extents: e.clone(), holes: Vec::new() })
                .unwrap_or(default);
            let mut ino = Inode::new(&f.name, f.device, f.size, extents);
            let bs = fs_block_size(&sc.devices[f.device]);
            ino.allocated = f.size.div_ceil(bs) * bs;
            // The probe writes each file after creating it: atime is not after mtime.
            ino.atime_stale = true;
            ino
        })
        .collect();
    let devices: Vec<BlockDevice> =
        sc.devices.iter().enumerate().map(|(i, d)| BlockDevice::for_scenario(d, sc.seed, i)).collect();
    let io_pages: Vec<u64> = sc.devices.iter().map(|d| d.max_sectors_kb as u64 / 4).collect();
    let ra_pages: Vec<u64> = sc.devices.iter().map(|d| d.read_ahead_kb as u64 / 4).collect();
    let mut k = Kernel::new(inodes, devices, io_pages, opts.events);
    k.memcg = sc.machine.memcg_limit.map(crate::kernel::memcontrol::Memcg::new);
    k.zone = crate::kernel::mmzone::Zone::new(
        sc.machine.memory,
        sc.machine.used,
        sc.sysctls.min_free_kbytes,
        sc.sysctls.watermark_scale_factor,
    );
    k.fs_block = sc.devices.iter().map(fs_block_size).collect();
    k.journals = sc.devices.iter().map(|d| crate::kernel::jbd2::Journal::new(d.size, fs_block_size(d))).collect();
    k.wb = crate::kernel::backing_dev::Writeback::new(
        &sc.sysctls,
        sc.devices.len(),
        sc.tasks.len(),
        sc.machine.cpus.max(1) as u64,
        &k.dirtyable_memory(),
    );

    // Initial state: cached ranges as order-0 folios (the probe reads them through FADV_RANDOM, which adds
    // order-0 folios), uptodate from the start and not marked.
    for (i, f) in sc.files.iter().enumerate() {
        let range = match f.state {
            InitialState::Cold => None,
            InitialState::Cached => Some((0, f.size)),
            InitialState::CachedRange { off, len } => Some((off, len)),
            InitialState::DirtyRange { .. } => return Err(SimError::DirtyInitialState { file: f.name.clone() }),
        };
        if let Some((off, len)) = range {
            let end = (off + len).min(f.size).div_ceil(4096);
            for index in off >> 12..end {
                // Read once through the probe's FADV_RANDOM descriptor: referenced, inactive.
                let folio = Folio::new(index, 0, i as u32, crate::mm::folio::PG_REFERENCED);
                let id = k.folios.alloc(folio);
                k.inodes[i].mapping.insert(&k.folios, id, i as u32, &mut k.ws.shadow_nodes);
                crate::mm::swap::folio_add_lru(&mut k.lru, &mut k.folios, id);
                k.initial_pages += 1;
            }
        }
    }

    let free_start = k.nr_free_pages();
    k.zone.free_lowest = free_start;

    let mut tasks: Vec<Task> =
        (0..sc.tasks.len()).map(|t| Task::new(&sc.tasks[t].name, sc.ops(t), cpu::CpuStalls::new(sc.seed, t))).collect();
    let kswapd_name: crate::trace::event::Name = Arc::from("kswapd0");
    let kworker_name: crate::trace::event::Name = Arc::from("kworker");
    let mut q = EventQueue::new();
    for (t, spec) in sc.tasks.iter().enumerate() {
        q.push(spec.start, Runnable::Task(t));
    }
    let mut live = tasks.len();
    let mut end = Nanos(0);
    let mut series = opts.events.then(|| {
        let mut header = BTreeMap::new();
        header.insert("devices".to_string(), sc.devices.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(","));
        header.insert("interval_ns".to_string(), SERIES_INTERVAL_NS.to_string());
        header.insert("scenario".to_string(), sc.name.clone());
        header.insert("source".to_string(), "pcsim".to_string());
        crate::trace::series::Series { header, samples: Vec::new() }
    });
    let mut next_sample = Nanos(0);
    // kswapd's work left when the last task ends is not run.
    while live > 0 {
        let Some((time, item)) = q.pop() else { break };
        if let Some(series) = series.as_mut() {
            while next_sample <= time {
                let sample = series_sample(&mut k, sc, next_sample);
                series.samples.push(sample);
                next_sample = Nanos(next_sample.0 + SERIES_INTERVAL_NS);
            }
        }
        // Nothing runs earlier than `time`: reads done by then are done for everyone.
        k.folios.reap(time);
        k.now = time;
        match item {
            Runnable::Task(t) => {
                if !Arc::ptr_eq(&k.task, &tasks[t].name) {
                    k.task = tasks[t].name.clone();
                }
                k.cur_task = t;
                let mut at = time;
                loop {
                    if !tasks[t].step(&mut k, &ra_pages)? {
                        end = end.max(at);
                        live -= 1;
                        break;
                    }
                    // Nothing else is due before the task's next step and nothing was scheduled: the same task
                    // runs next, so step it again without a queue round trip (same order: an entry at the same
                    // time would run first, so only a strictly later one lets it through). With a series being
                    // sampled, go through the queue.
                    let alone = series.is_none()
                        && q.peek_time().is_none_or(|next| next > k.now)
                        && !k.kswapd.has_pending()
                        && !k.wb.has_pending()
                        && k.unsupported.is_none();
                    if !alone {
                        q.push(k.now, Runnable::Task(t));
                        break;
                    }
                    at = k.now;
                    k.folios.reap(at);
                }
            }
            Runnable::Kswapd(generation) => {
                if !k.kswapd.is_current(generation) {
                    continue;
                }
                k.task = kswapd_name.clone();
                k.kswapd_run();
            }
            Runnable::Flusher(dev, generation) => {
                if !k.wb.is_current(dev, generation) {
                    continue;
                }
                k.task = kworker_name.clone();
                k.wb_workfn_step(dev);
            }
        }
        for (at, dev, generation) in k.wb.take_schedules() {
            q.push(at, Runnable::Flusher(dev, generation));
        }
        if let Some(what) = k.unsupported.take() {
            return Err(SimError::Unsupported { task: k.task.to_string(), op: what });
        }
        if let Some((at, generation)) = k.kswapd.take_schedule() {
            q.push(at, Runnable::Kswapd(generation));
        }
    }

    if cfg!(debug_assertions) {
        if let Err(e) = k.check_invariants() {
            panic!("{e}");
        }
    }
    k.vm.nr_writeback = k.wb.nr_writeback;
    k.vm.nr_written = k.wb.nr_written;
    let mut events = std::mem::take(&mut k.sink.events);
    let cachestat = std::mem::take(&mut k.cachestat_log);
    events.sort_by_key(|e| e.time);
    let files = sc
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mapping = &k.inodes[i].mapping;
            let mut ranges: Vec<(u64, u64)> = Vec::new();
            let mut ra_unused = 0;
            let mut nr_dirty = 0;
            for id in mapping.iter() {
                let fo = k.folios.get(id);
                let used = crate::mm::folio::PG_REFERENCED | crate::mm::folio::PG_ACTIVE;
                if fo.flags & used == 0 && fo.flags & crate::mm::folio::PCSIM_READ_IN != 0 {
                    ra_unused += fo.nr_pages();
                }
                if fo.test(crate::mm::folio::PG_DIRTY) {
                    nr_dirty += fo.nr_pages();
                }
                if k.folios.partial_blocks(id).is_some() {
                    // Not uptodate: mincore does not report it.
                    continue;
                }
                let (a, b) = (fo.index(), fo.next_index() - 1);
                match ranges.last_mut() {
                    Some(r) if r.1 + 1 == a => r.1 = b,
                    _ => ranges.push((a, b)),
                }
            }
            FileResidency {
                name: f.name.clone(),
                size_pages: k.inodes[i].size.div_ceil(4096),
                nr_cache: mapping.nrpages,
                nr_dirty,
                ranges,
                ra_unused,
            }
        })
        .collect();
    Ok(SimResult {
        scenario: sc.name.clone(),
        seed: sc.seed,
        events,
        tasks: tasks.into_iter().map(|t| t.stats).collect(),
        devices: k
            .devices
            .iter()
            .map(|d| DeviceStats {
                name: d.name.to_string(),
                requests: d.requests,
                sectors_read: d.sectors_read,
                busy_ns: d.busy_ns,
            })
            .collect(),
        files,
        vm: k.vm.clone(),
        nr_inactive_file: k.lru.nr_pages[0],
        nr_active_file: k.lru.nr_pages[1],
        counters: {
            let vm = &k.vm;
            vec![
                ("nr_free_pages", k.nr_free_pages()),
                ("nr_inactive_file", k.lru.nr_pages[0]),
                ("nr_active_file", k.lru.nr_pages[1]),
                ("pgactivate", vm.pgactivate),
                ("pgdeactivate", vm.pgdeactivate),
                ("pgscan_file", vm.pgscan_file),
                ("pgsteal_file", vm.pgsteal_file),
                ("pgscan_kswapd", vm.pgscan_kswapd),
                ("pgsteal_kswapd", vm.pgsteal_kswapd),
                ("pgscan_direct", vm.pgscan_direct),
                ("pgsteal_direct", vm.pgsteal_direct),
                ("allocstall_movable", vm.allocstall_movable),
                ("pageoutrun", vm.pageoutrun),
                ("kswapd_low_wmark_hit_quickly", vm.kswapd_low_wmark_hit_quickly),
                ("kswapd_high_wmark_hit_quickly", vm.kswapd_high_wmark_hit_quickly),
                ("workingset_refault_file", k.ws.workingset_refault_file),
                ("workingset_activate_file", k.ws.workingset_activate_file),
                ("workingset_restore_file", k.ws.workingset_restore_file),
                ("workingset_nodes", k.ws.shadow_nodes.len()),
                ("workingset_nodereclaim", k.ws.shadow_nodes.nodereclaim),
                ("pgmajfault", k.vm.pgmajfault),
                ("pgpgin", k.vm.pgpgin),
                ("nr_dirtied", k.vm.nr_dirtied),
                ("nr_written", k.wb.nr_written),
            ]
        },
        zone: ZoneStats {
            managed: k.zone.managed,
            min: k.zone.wmark.min,
            low: k.zone.wmark.low,
            high: k.zone.wmark.high,
            free_start,
            free_end: k.nr_free_pages(),
            free_lowest: k.zone.free_lowest,
            peak_cached: k.peak_cached_pages,
            overcommitted: k.zone.overcommitted,
            noretry_failed: k.zone.noretry_failed,
        },
        cachestat,
        end,
        series,
    })
}

impl SimResult {
    /// vmstat.txt in the probe's format (`name value`), with the model's counters.
    pub fn vmstat_text(&self) -> String {
        let mut s = String::from(
            "# the model's event counters over the run (names as in /proc/vmstat; pgpgin in KiB read from the devices; \
             nr_free_pages is the change over the run)\n",
        );
        // Gauges (nr_*) are left out: the probe's vmstat.txt holds deltas, which are not comparable for them, except
        // free pages, whose change over the run the model knows.
        let free_delta = self.zone.free_end as i64 - self.zone.free_start as i64;
        s.push_str(&format!("nr_free_pages {free_delta}\n"));
        for (k, v) in self.counters.iter().filter(|(k, _)| !k.starts_with("nr_")) {
            s.push_str(&format!("{k} {v}\n"));
        }
        s
    }

    /// cachestat.txt in the probe's format (`None` when the scenario ran no cachestat op).
    pub fn cachestat_text(&self) -> Option<String> {
        (!self.cachestat.is_empty()).then(|| crate::trace::cachestat::format(&self.cachestat))
    }

    /// residency.txt in the probe's format.
    pub fn residency_text(&self) -> String {
        use crate::trace::residency::{format_line, HEADER};
        let mut s = format!("{HEADER}\n");
        for f in &self.files {
            s.push_str(&format_line(&f.name, f.size_pages, [f.nr_cache, f.nr_dirty, 0, 0, 0], &f.ranges));
            s.push('\n');
        }
        s
    }
}
