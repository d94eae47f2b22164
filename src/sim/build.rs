//! The composition root: the model (`Kernel` and its subsystems) built from a scenario, with the engine's tasks.
//! The only place where scenario settings become model configuration (the model never reads a `Scenario`).

use std::collections::BTreeMap;

use crate::block::{BlockDevice, Extent, ExtentMap, SECTOR};
use crate::kernel::backing_dev::{Writeback, WritebackSysctls};
use crate::kernel::{Inode, Kernel};
use crate::mm::page_writeback::VmDirtySysctls;
use crate::scenario::{InitialState, Scenario};

use super::result::SimError;
use super::task::Task;
use crate::kernel::cpu::CpuStalls;

/// Run settings.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Record events (and the dirty-page series).
    pub events: bool,
    /// Per file name: the extent map to use (e.g. from a probe's extents.txt); contiguous by default.
    pub extents: BTreeMap<String, Vec<Extent>>,
    /// With `events`: stream the event log and the series to scratch files in this directory as the run goes
    /// (memory bounded whatever the run's length) instead of holding them in [`super::SimResult`]; the result then
    /// writes them from there (`write_events`, `write_dir`) and removes the scratch files when dropped.
    pub spill_dir: Option<std::path::PathBuf>,
    /// Events per spilled chunk (0: the default, 262,144); small values exercise the merge in tests.
    #[doc(hidden)]
    pub spill_chunk: usize,
}

/// The model of a scenario at time 0, and its tasks.
pub(crate) struct Built {
    pub k: Kernel,
    pub tasks: Vec<Task>,
    /// Free pages at the start (the zone's, after the initial page cache).
    pub free_start: u64,
}

/// Builds the model of `sc`: devices, files and their extents, the zone and memory cgroup, the writeback state,
/// the initial page cache; and one task per scenario task.
pub(crate) fn build(sc: &Scenario, opts: &SimOptions) -> Result<Built, SimError> {
    check(sc, opts)?;
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
    let devices: Vec<BlockDevice> = sc.devices.iter().enumerate().map(|(i, d)| block_device(d, sc.seed, i)).collect();
    let io_pages: Vec<u64> = sc.devices.iter().map(|d| d.max_sectors_kb as u64 / 4).collect();
    let mut k = Kernel::new(inodes, devices, io_pages, opts.events);
    k.ra_pages = sc.devices.iter().map(|d| d.read_ahead_kb as u64 / 4).collect();
    if let Some(limit) = sc.machine.memcg_limit {
        let other = sc.machine.memcg_used.map_or(crate::kernel::memcontrol::MEMCG_OTHER_PAGES, |b| b.div_ceil(4096));
        k.memcg = Some(crate::kernel::memcontrol::Memcg::new(limit, other));
        // A new cgroup's statistics read 0 until the first periodic flush after the start.
        k.ws.set_flush_phase(sc.machine.memcg_flush.unwrap_or(crate::mm::workingset::FLUSH_TIME_NS));
    }
    k.zone = crate::kernel::mmzone::Zone::new(
        sc.machine.memory,
        sc.machine.used,
        sc.sysctls.min_free_kbytes,
        sc.sysctls.watermark_scale_factor,
    );
    k.fs_block = sc.devices.iter().map(fs_block_size).collect();
    k.journals = sc.devices.iter().map(|d| crate::kernel::jbd2::Journal::new(d.size, fs_block_size(d))).collect();
    k.wb = Writeback::new(
        &writeback_sysctls(&sc.sysctls),
        sc.devices.len(),
        sc.tasks.len(),
        sc.machine.cpus.max(1) as u64,
        &k.dirtyable_memory(),
    );

    initial_page_cache(sc, &mut k)?;
    let free_start = k.nr_free_pages();
    k.zone.free_lowest = free_start;
    let tasks =
        (0..sc.tasks.len()).map(|t| Task::new(&sc.tasks[t].name, sc.ops(t), CpuStalls::new(sc.seed, t))).collect();
    Ok(Built { k, tasks, free_start })
}

/// What the model refuses before building anything.
fn check(sc: &Scenario, opts: &SimOptions) -> Result<(), SimError> {
    if sc.machine.memcg_limit.is_some() && sc.files.iter().any(|f| f.state != InitialState::Cold) {
        return Err(SimError::MemcgUnsupported);
    }
    if let Some(name) = opts.extents.keys().find(|n| sc.file_index(n).is_none()) {
        return Err(SimError::BadExtents(format!(
            "the extent map names `{name}`, which is not a file of the scenario"
        )));
    }
    for (name, extents) in &opts.extents {
        let Some(f) = sc.file_index(name).map(|i| &sc.files[i.0 as usize]) else { continue };
        let dev = &sc.devices[f.device];
        let sectors = dev.size / 512;
        if let Some(e) = extents.iter().find(|e| e.sector.saturating_add(e.pages.saturating_mul(8)) > sectors) {
            return Err(SimError::BadExtents(format!(
                "an extent of `{name}` (file page {}, {} pages at sector {}) ends past the end of device `{}` ({} \
                 sectors): the map is from another device or corrupt",
                e.logical, e.pages, e.sector, dev.name, sectors
            )));
        }
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
    Ok(())
}

/// The initial state: cached ranges as order-0 folios (the probe reads them through a FADV_RANDOM descriptor, which
/// adds order-0 folios), uptodate from the start, referenced once, on the inactive list.
fn initial_page_cache(sc: &Scenario, k: &mut Kernel) -> Result<(), SimError> {
    let mut ranges = Vec::with_capacity(sc.files.len());
    for f in &sc.files {
        let range = match f.state {
            InitialState::Cold => None,
            InitialState::Cached => Some((0, f.size)),
            InitialState::CachedRange { off, len } => Some((off, len)),
            InitialState::DirtyRange { .. } => return Err(SimError::DirtyInitialState { file: f.name.clone() }),
        };
        ranges.push(range.map(|(off, len)| (off >> 12, (off + len).min(f.size).div_ceil(4096))));
    }
    k.folios.reserve(ranges.iter().flatten().map(|(from, to)| to.saturating_sub(*from)).sum());
    for (i, range) in ranges.into_iter().enumerate() {
        if let Some((from, to)) = range {
            // Read once through the probe's FADV_RANDOM descriptor: referenced, inactive.
            k.add_cached_range(i as u32, from, to);
        }
    }
    Ok(())
}

/// The model's device for device `index` of a scenario seeded `seed`: its queue, bandwidths and latencies; a
/// blk-throttle `write_bps` below the device's write bandwidth releases write bios at that rate (the probe's loop
/// devices are rotational); its seek model, if any; its random stream (the write batches' rates).
fn block_device(d: &crate::scenario::Device, seed: u64, index: usize) -> BlockDevice {
    let mut b =
        BlockDevice::new(d.name.as_str().into(), d.max_sectors_kb as u64, d.read_bw, d.read_latency, d.queue_depth);
    b.write_bw = d.write_bw.max(1);
    b.throttle =
        d.write_bps.filter(|&bps| bps < d.write_bw).map(|bps| crate::block::throttle::Throttle::new(bps, true));
    b.write_latency = d.write_latency;
    b.nr_requests = d.nr_requests.into();
    b.seek = d.seek;
    b.capacity_sectors = (d.size / SECTOR).max(1);
    // A stream of its own: "task" u64::MAX - index is no task's, purpose "wbatch".
    let key = crate::rng::stream_key(seed, u64::MAX - index as u64, 0, u64::from_le_bytes(*b"wbatch\0\0"));
    b.set_write_jitter(d.write_bw_spread_permille, crate::rng::chacha(key));
    b
}

/// The writeback sysctls of a scenario.
fn writeback_sysctls(s: &crate::scenario::Sysctls) -> WritebackSysctls {
    WritebackSysctls {
        vm: VmDirtySysctls {
            dirty_ratio: s.dirty_ratio,
            dirty_bytes: s.dirty_bytes,
            dirty_background_ratio: s.dirty_background_ratio,
            dirty_background_bytes: s.dirty_background_bytes,
        },
        dirty_expire_centisecs: s.dirty_expire_centisecs,
        dirty_writeback_centisecs: s.dirty_writeback_centisecs,
    }
}

/// The filesystem block size mkfs picks for a device: ext4 uses 1 KiB blocks below 512 MiB (mke2fs.conf's
/// `small` and `floppy` types), 4 KiB above; xfs 4 KiB.
pub fn fs_block_size(d: &crate::scenario::Device) -> u64 {
    match d.fs {
        crate::scenario::FsType::Ext4 if d.size < 512 << 20 => 1024,
        _ => 4096,
    }
}

/// The extent map of each file when none is given, the model's stand-in for the filesystem's block allocator:
/// one file after another from 16 MiB, each aligned to 1 MiB. DIVERGENCE: a real filesystem's allocator decides;
/// pass the probe's FIEMAP (`--extents`) for exact sectors.
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
