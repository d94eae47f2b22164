//! `manifest.ron`: everything needed to interpret a probe run later (kernel, devices as configured and read back,
//! sysctls in force, other reclaimers, trace health, task outcomes).

use std::collections::BTreeMap;

use serde::Serialize;

use super::cgroup::Memcg;
use super::collect::Reclaimer;
use super::runner::TaskOutcome;
use super::scratch::Scratch;
use super::NormaliseStats;
use crate::scenario::Scenario;

#[derive(Serialize)]
pub struct Manifest {
    pub pcsim_version: String,
    pub scenario: String,
    pub scenario_path: String,
    pub scenario_sha256: String,
    pub seed: u64,
    pub run: u32,
    pub runs: u32,
    pub kernel_release: String,
    pub kernel_version: String,
    pub host_memory_kb: u64,
    pub host_cpus: u64,
    pub thp_enabled: String,
    pub started_unix_s: u64,
    pub duration_ns: u64,
    pub devices: Vec<DeviceRecord>,
    /// vmstat_series.txt: samples written and whether they carry the per-device debugfs bdi columns.
    pub series: SeriesRecord,
    /// How long the syncfs(2) of the scratch filesystems after the workload took (the dirty data left behind).
    pub sync_after_ns: u64,
    pub files: Vec<FileRecord>,
    pub sysctls_applied: Vec<String>,
    pub sysctls_in_force: BTreeMap<String, String>,
    pub memcg: Option<MemcgRecord>,
    pub reclaimers: Vec<Reclaimer>,
    /// The memory warm-up before the workload (probe::warm).
    pub warmup: super::warm::WarmupRecord,
    /// Seconds waited after set-up and sync(2) before the workload (`--settle`).
    pub settle_s: u32,
    pub trace: TraceRecord,
    pub tasks: Vec<TaskRecord>,
}

#[derive(Serialize)]
pub struct DeviceRecord {
    pub name: String,
    pub loop_device: String,
    pub dev: String,
    pub fs: String,
    pub mkfs: String,
    pub mount_options: String,
    pub size: u64,
    pub read_ahead_kb: u64,
    pub max_sectors_kb: u64,
    pub max_hw_sectors_kb: u64,
    pub nr_requests: u64,
    pub scheduler: String,
    /// The blk-throttle write limit in force (bytes/s), read back from the blkio controller.
    pub write_bps: Option<u64>,
}

#[derive(Serialize)]
pub struct SeriesRecord {
    pub interval_ns: u64,
    pub samples: u64,
    pub bdi_stats: bool,
}

#[derive(Serialize)]
pub struct FileRecord {
    pub name: String,
    pub device: String,
    pub ino: u64,
    pub size: u64,
}

#[derive(Serialize)]
pub struct MemcgRecord {
    pub version: u8,
    pub limit: u64,
    /// The cgroup's charge in bytes when the workload started (the worker joined, no file page read yet): what a
    /// scenario's `machine.memcg_used` stands for.
    pub start_usage: Option<u64>,
    /// Its memory.stat then (the cgroup's own counters).
    pub start_stat: BTreeMap<String, u64>,
}

#[derive(Serialize)]
pub struct TraceRecord {
    pub clock: String,
    pub buffer_size_kb: u64,
    pub events_enabled: Vec<String>,
    pub raw_lines: u64,
    pub events: u64,
    pub skipped: u64,
    pub lost_events: u64,
    pub normalise_errors: Vec<String>,
    /// Evictions made by other tasks (kswapd, kdamond), by task; they are marked by their task column in the log.
    pub foreign_evictions: BTreeMap<String, u64>,
}

#[derive(Serialize)]
pub struct TaskRecord {
    pub name: String,
    pub ops: u64,
    pub failed_ops: u64,
    pub bytes: u64,
    pub interrupted: bool,
}

pub struct Inputs<'a> {
    pub sc: &'a Scenario,
    pub run: u32,
    pub runs: u32,
    pub release: String,
    pub version: String,
    pub started_wall: std::time::SystemTime,
    pub duration_ns: u64,
    pub scratches: &'a [Scratch],
    pub throttles: &'a [Option<u64>],
    pub series_samples: u64,
    pub series_bdi_stats: bool,
    pub sync_after_ns: u64,
    pub sysctls_in_force: BTreeMap<String, String>,
    pub sysctls_applied: Vec<String>,
    pub memcg: Option<&'a (Memcg, super::cgroup::StartCharge)>,
    pub reclaimers: Vec<Reclaimer>,
    pub lost_events: u64,
    pub stats: &'a NormaliseStats,
    pub outcomes: &'a [TaskOutcome],
    pub warmup: super::warm::WarmupRecord,
    pub settle_s: u32,
}

pub fn meminfo_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(key).and_then(|r| r.trim_start_matches(':').split_whitespace().next()?.parse().ok())
            })
        })
        .unwrap_or(0)
}

impl Manifest {
    pub fn build(i: Inputs<'_>) -> Manifest {
        let devices = i
            .scratches
            .iter()
            .enumerate()
            .map(|(k, s)| DeviceRecord {
                name: s.device.clone(),
                loop_device: s.loop_dev.display().to_string(),
                dev: format!("{}:{}", s.major, s.minor),
                fs: s.fs.clone(),
                mkfs: s.mkfs.clone(),
                mount_options: super::scratch::mount_options(&s.fs).to_string(),
                size: i.sc.devices.iter().find(|d| d.name == s.device).map(|d| d.size).unwrap_or(0),
                read_ahead_kb: s.read_ahead_kb,
                max_sectors_kb: s.max_sectors_kb,
                max_hw_sectors_kb: s.max_hw_sectors_kb,
                nr_requests: s.nr_requests,
                scheduler: s.scheduler.clone(),
                write_bps: i.throttles.get(k).copied().flatten(),
            })
            .collect();
        let files = i
            .scratches
            .iter()
            .flat_map(|s| {
                s.files.iter().map(|(name, _, ino, size)| FileRecord {
                    name: name.clone(),
                    device: s.device.clone(),
                    ino: *ino,
                    size: *size,
                })
            })
            .collect();
        Manifest {
            pcsim_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: i.sc.name.clone(),
            scenario_path: i.sc.source.clone(),
            scenario_sha256: i.sc.sha256.clone(),
            seed: i.sc.seed,
            run: i.run,
            runs: i.runs,
            kernel_release: i.release,
            kernel_version: i.version,
            host_memory_kb: meminfo_kb("MemTotal"),
            host_cpus: std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1),
            thp_enabled: std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            started_unix_s: i.started_wall.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            duration_ns: i.duration_ns,
            devices,
            series: SeriesRecord {
                interval_ns: super::sampler::INTERVAL_NS,
                samples: i.series_samples,
                bdi_stats: i.series_bdi_stats,
            },
            sync_after_ns: i.sync_after_ns,
            files,
            sysctls_applied: i.sysctls_applied,
            sysctls_in_force: i.sysctls_in_force,
            memcg: i.memcg.map(|(m, s)| MemcgRecord {
                version: m.version,
                limit: m.limit,
                start_usage: s.usage,
                start_stat: s.stat.clone(),
            }),
            reclaimers: i.reclaimers,
            warmup: i.warmup,
            settle_s: i.settle_s,
            trace: TraceRecord {
                clock: "mono".into(),
                buffer_size_kb: super::tracefs::BUFFER_KB,
                events_enabled: super::tracefs::EVENTS.iter().map(|(s, e, _)| format!("{s}:{e}")).collect(),
                raw_lines: i.stats.raw_lines,
                events: i.stats.events,
                skipped: i.stats.skipped,
                lost_events: i.lost_events,
                normalise_errors: i.stats.errors.clone(),
                foreign_evictions: i.stats.foreign_evictions.clone(),
            },
            tasks: i
                .outcomes
                .iter()
                .map(|o| TaskRecord {
                    name: o.task.clone(),
                    ops: o.ops,
                    failed_ops: o.failed_ops,
                    bytes: o.bytes,
                    interrupted: o.interrupted,
                })
                .collect(),
        }
    }

    pub fn to_ron(&self) -> String {
        let cfg = ron::ser::PrettyConfig::new().struct_names(true);
        let mut s = ron::ser::to_string_pretty(self, cfg).expect("manifest serialises");
        s.push('\n');
        s
    }
}
