//! One probe invocation: the runs of a scenario on the host, each set up, traced, collected and undone, and the
//! output directory made to appear whole.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::change::Change;
use super::guard::{self, Undo};
use super::host::preflight;
use super::normalise::normalise_file;
use super::{
    cgroup, collect, manifest, recover, runner, sampler, scratch, stability, sysctl, throttle, tracefs, warm, worker,
    ProbeError,
};
use super::{ftrace, host};
use crate::scenario::Scenario;

/// Probe settings from the command line.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    pub out: PathBuf,
    pub runs: u32,
    pub allow_sysctl: bool,
    /// Seconds to wait after the set-up and the sync, before the workload: the kernel's writeout fractions (the
    /// global fprop of writeback completions, which sets each bdi's share of the dirty limit) halve every 3 s
    /// without completions, so earlier writeback (the sync, the previous run's device) stops weighing on the run.
    pub settle_s: u32,
    /// Also record a binary blktrace of the scratch devices during the workload (`blktrace/NAME.blktrace.CPU`,
    /// see `blkrec`).
    pub blktrace: bool,
}

/// What a probe run produced, for the command's summary.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    pub dir: PathBuf,
    pub events: u64,
    pub lost_events: u64,
    pub ops: u64,
    pub failed_ops: u64,
    pub duration_ns: u64,
}

/// Runs the probe: all runs, then the output directory appears atomically.
pub fn probe(sc: &Scenario, opts: &ProbeOptions) -> Result<Vec<RunSummary>, ProbeError> {
    preflight()?;
    if opts.runs == 0 {
        return Err(ProbeError::Refused("--runs must be at least 1".into()));
    }
    if let Some(d) = sc.devices.iter().find(|d| d.seek.is_some()) {
        return Err(ProbeError::Refused(format!(
            "device `{}` has a seek model (a rotating disk), but the probe's device is a loop device on this host; \
             remove `seek` to probe the scenario",
            d.name
        )));
    }
    if opts.out.exists() && std::fs::read_dir(&opts.out).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(ProbeError::Refused(format!(
            "{} already exists and is not empty; choose another --out or remove it",
            opts.out.display()
        )));
    }
    guard::install_signal_handlers();
    // The host lock, recovery after killed probes, this run's crash journal.
    let _session = recover::begin("probe")?;
    // Refuse sysctl differences before touching anything, and after the recovery: a killed probe's values are not
    // the host's (nor are a live probe's, which the lock waited for).
    if !opts.allow_sysctl {
        sysctl::refuse_differences(sc.sysctls.explicit())?;
    }
    let pid = std::process::id();
    let partial = partial_path(&opts.out, pid);
    let mut out_guard = Undo::new();
    create_parents(&partial, &mut out_guard)?;
    out_guard.record(Change::Tree(partial.clone()))?;
    std::fs::create_dir(&partial).map_err(|e| ProbeError::Host(format!("creating {}: {e}", partial.display())))?;
    let mut summaries = Vec::new();
    for k in 1..=opts.runs {
        let dir = if opts.runs == 1 { partial.clone() } else { partial.join(format!("run-{k}")) };
        std::fs::create_dir_all(&dir).map_err(|e| ProbeError::Host(format!("creating {}: {e}", dir.display())))?;
        eprintln!("pcsim: probe run {k}/{} of {}", opts.runs, sc.name);
        let mut s = run_once(sc, opts, k, &dir)?;
        s.dir = if opts.runs == 1 { opts.out.clone() } else { opts.out.join(format!("run-{k}")) };
        summaries.push(s);
    }
    if opts.runs > 1 {
        let logs: Result<Vec<_>, _> = (1..=opts.runs)
            .map(|k| {
                let p = partial.join(format!("run-{k}")).join("events.log");
                File::open(&p).map_err(|e| ProbeError::Host(format!("{}: {e}", p.display()))).and_then(|f| {
                    crate::trace::log::read_log(BufReader::new(f))
                        .map_err(|e| ProbeError::Host(format!("{}: {e}", p.display())))
                })
            })
            .collect();
        let report = stability::report(&logs?);
        write_file(&partial, "stability.txt", &report)?;
    }
    guard::check()?;
    if opts.out.exists() {
        let _ = std::fs::remove_dir(&opts.out);
    }
    std::fs::rename(&partial, &opts.out)
        .map_err(|e| ProbeError::Host(format!("renaming {} to {}: {e}", partial.display(), opts.out.display())))?;
    // The output and the directories made for it are the result: kept.
    out_guard.commit();
    Ok(summaries)
}

/// Creates the missing parents of the output directory (a caller's own directory, like `validate`'s; `pcsim
/// probe` refuses a missing parent before this), each journalled, so a killed or failed run removes them again.
fn create_parents(partial: &Path, undo: &mut Undo) -> Result<(), ProbeError> {
    let Some(parent) = partial.parent().filter(|p| !p.as_os_str().is_empty()) else { return Ok(()) };
    let missing: Vec<&Path> = parent.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).collect();
    for dir in missing.into_iter().rev() {
        undo.record(Change::Dir(dir.to_path_buf()))?;
        std::fs::create_dir(dir).map_err(|e| ProbeError::Host(format!("creating {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Fails when a scenario sysctl or a write throttle is not what the run set, at the end or at any sample during the
/// run (`seen_during`): another process changed the host under the run, whose figures are then not the scenario's.
fn check_host_unchanged(
    sc: &Scenario,
    scratches: &[scratch::Scratch],
    throttles: &[Option<u64>],
    seen_during: &[String],
) -> Result<(), ProbeError> {
    let mut what: Vec<String> = seen_during.to_vec();
    let drift = sysctl::differences(sc.sysctls.explicit())?;
    what.extend(drift.iter().map(|(n, (now, want))| format!("{n} is {now}, not {want}")));
    for (s, t) in scratches.iter().zip(throttles) {
        if let Some(bps) = t {
            let file = throttle::write_bps_file()?;
            let now = throttle::rule_in(&host::read(&file)?, &format!("{}:{}", s.major, s.minor));
            if now != *bps {
                what.push(format!("the write throttle on {} is {now}, not {bps}", s.device));
            }
        }
    }
    if what.is_empty() {
        return Ok(());
    }
    Err(ProbeError::Host(format!(
        "the host changed during the run ({}): another process wrote it; the run is void, run the probe again",
        what.join(", ")
    )))
}

fn partial_path(out: &Path, pid: u32) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "probe".into());
    out.with_file_name(format!(".{name}.partial-{pid}"))
}

/// One run: set up, trace the workload, collect, and restore the host (whatever happens).
fn run_once(sc: &Scenario, opts: &ProbeOptions, run: u32, dir: &Path) -> Result<RunSummary, ProbeError> {
    let mut undo = Undo::new();
    let result = run_inner(sc, opts, run, dir, &mut undo);
    let cleanup_errors = undo.run();
    if !cleanup_errors.is_empty() {
        return Err(ProbeError::Host(format!("restoring the host failed: {}", cleanup_errors.join("; "))));
    }
    guard::check()?;
    result
}

fn run_inner(
    sc: &Scenario,
    opts: &ProbeOptions,
    run: u32,
    dir: &Path,
    undo: &mut Undo,
) -> Result<RunSummary, ProbeError> {
    let tracefs_root = tracefs::locate(undo)?;
    let setup = set_up(sc, run, undo)?;
    // The scenario's sysctls apply after the set-up: mkfs and the files' data are written under the host's own
    // dirty limits, so they never enter balance_dirty_pages and leave the new device's dirty ratelimit at the
    // kernel's initial estimate (INIT_BW), where the model starts too.
    let applied = sysctl::apply(sc.sysctls.explicit(), opts.allow_sysctl, undo)?;
    guard::point("sysctls")?;
    quiesce(sc, opts)?;
    let Traced {
        t0,
        end,
        outcomes,
        lost,
        series,
        bdi_stats,
        memcg,
        sysctls_in_force,
        reclaimers,
        vm_before,
        vm_after,
        warmup,
        started_wall,
    } = trace_workload(sc, &setup, &tracefs_root, dir, opts.blktrace, undo)?;
    let samples = series.samples.len() as u64;
    let sync_ns = collect_outputs(sc, &setup, dir, series, &vm_before, &vm_after)?;
    let (release, version) = host::uname();
    let stats = normalise(sc, &setup, dir, run, t0, &release)?;
    let m = manifest::Manifest::build(manifest::Inputs {
        sc,
        run,
        runs: opts.runs,
        release,
        version,
        started_wall,
        duration_ns: end.saturating_sub(t0),
        scratches: &setup.scratches,
        throttles: &setup.throttles,
        series_samples: samples,
        series_bdi_stats: bdi_stats,
        sync_after_ns: sync_ns,
        sysctls_in_force,
        sysctls_applied: applied,
        memcg: memcg.as_ref(),
        reclaimers,
        lost_events: lost,
        stats: &stats,
        outcomes: &outcomes,
        warmup,
        settle_s: opts.settle_s,
    });
    write_file(dir, "manifest.ron", &m.to_ron())?;
    if lost > 0 {
        eprintln!("pcsim: warning: the kernel dropped {lost} trace events (buffer overrun); the log is incomplete");
    }
    Ok(RunSummary {
        dir: dir.to_path_buf(),
        events: stats.events,
        lost_events: lost,
        ops: outcomes.iter().map(|o| o.ops).sum(),
        failed_ops: outcomes.iter().map(|o| o.failed_ops).sum(),
        duration_ns: end.saturating_sub(t0),
    })
}

/// The run's scratch devices and files, set up.
struct SetUp {
    scratches: Vec<scratch::Scratch>,
    /// Each scenario file's path on its scratch filesystem.
    paths: Vec<PathBuf>,
    throttles: Vec<Option<u64>>,
}

/// Builds one scratch filesystem per device under a work directory of this run (its files written), then sets the
/// devices' blk-throttle write limits (after the files are written, so set-up is not throttled).
fn set_up(sc: &Scenario, run: u32, undo: &mut Undo) -> Result<SetUp, ProbeError> {
    let workdir = PathBuf::from(format!("/var/tmp/pcsim-probe-{}-{run}", std::process::id()));
    undo.record(Change::Tree(workdir.clone()))?;
    std::fs::create_dir(&workdir).map_err(|e| ProbeError::Host(format!("creating {}: {e}", workdir.display())))?;
    let mut scratches = Vec::new();
    for d in 0..sc.devices.len() {
        scratches.push(scratch::build(sc, d, &workdir, undo)?);
        guard::check()?;
    }
    let mut paths = vec![PathBuf::new(); sc.files.len()];
    for s in &scratches {
        for (name, path, _, _) in &s.files {
            let i = sc.file_index(name).expect("scratch files come from the scenario").0 as usize;
            paths[i] = path.clone();
        }
    }
    let mut throttles = vec![None; scratches.len()];
    for (i, s) in scratches.iter().enumerate() {
        if let Some(bps) = sc.devices[i].write_bps {
            throttles[i] = Some(throttle::limit_writes(s.major, s.minor, bps, undo)?);
        }
    }
    Ok(SetUp { scratches, paths, throttles })
}

/// The dirty limits are global: writes out the rest of the host's dirty pages, so the workload starts from (almost)
/// none but its own (not when a scenario file starts with dirty pages, which must stay dirty); then waits `--settle`.
fn quiesce(sc: &Scenario, opts: &ProbeOptions) -> Result<(), ProbeError> {
    if !sc.files.iter().any(|f| matches!(f.state, crate::scenario::InitialState::DirtyRange { .. })) {
        // On a thread, so an interrupt is seen while the host's dirty data is written.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: sync(2) has no arguments and cannot fail.
            unsafe { libc::sync() };
            let _ = tx.send(());
        });
        while rx.recv_timeout(std::time::Duration::from_millis(5)).is_err() {
            guard::check()?;
        }
    }
    for _ in 0..opts.settle_s.saturating_mul(10) {
        guard::check()?;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(())
}

/// What the traced workload left: its times and outcomes, the host's state around it.
struct Traced {
    t0: u64,
    end: u64,
    outcomes: Vec<runner::TaskOutcome>,
    lost: u64,
    series: crate::trace::series::Series,
    bdi_stats: bool,
    memcg: Option<(cgroup::Memcg, cgroup::StartCharge)>,
    sysctls_in_force: std::collections::BTreeMap<String, String>,
    reclaimers: Vec<collect::Reclaimer>,
    vm_before: Vec<(String, i64)>,
    vm_after: Vec<(String, i64)>,
    warmup: warm::WarmupRecord,
    started_wall: std::time::SystemTime,
}

/// Runs the workload under tracing: its memory cgroup if any, the tracefs instance filtered to the scratch devices
/// and its reader into raw_trace.txt, the memory warm-up, the counters' sampler, the tasks (in a worker process
/// inside the cgroup, else on threads of this one); then checks nobody changed the host's limits meanwhile.
fn trace_workload(
    sc: &Scenario,
    setup: &SetUp,
    tracefs_root: &Path,
    dir: &Path,
    blktrace: bool,
    undo: &mut Undo,
) -> Result<Traced, ProbeError> {
    let pid = std::process::id();
    let bdi_dir = sampler::bdi_debugfs(undo);
    let memcg = match sc.machine.memcg_limit {
        Some(limit) => Some(cgroup::create(&format!("pcsim-probe-{pid}"), limit, undo)?),
        None => None,
    };
    let devs: Vec<(u32, u32)> = setup.scratches.iter().map(|s| (s.major, s.minor)).collect();
    let inst = tracefs::Instance::create(tracefs_root, &format!("pcsim-{pid}"), &devs, undo)?;
    let ops_dir = dir.join("ops");
    std::fs::create_dir_all(&ops_dir).map_err(|e| ProbeError::Host(format!("creating {}: {e}", ops_dir.display())))?;
    let raw_path = dir.join("raw_trace.txt");
    let raw = File::create(&raw_path).map_err(|e| ProbeError::Host(format!("creating {}: {e}", raw_path.display())))?;
    // The files' layout before the workload (a truncate or hole punch frees blocks, so the map written after the
    // run no longer shows where the freed part was read from).
    write_extents(sc, &setup.paths, &dir.join("extents_start.txt"))?;
    let sysctls_in_force = sysctl::snapshot_vm();
    let reclaimers = collect::reclaimers();
    let vm_before = collect::vmstat();
    #[allow(clippy::disallowed_methods)] // the probe records when it ran; the model never reads the wall clock
    let started_wall = std::time::SystemTime::now();
    // Warm the memory the workload is about to fill (see warm.rs), last, so the reporter has no time to take it back.
    let reported_before = warm::reported_kib();
    let warm_bytes = warm::amount(sc.devices.iter().map(|d| d.size).sum(), manifest::meminfo_kb("MemAvailable") * 1024);
    guard::point("warm-up")?;
    let warm_ns = warm::touch_and_free(warm_bytes);
    let blk = match blktrace {
        true => {
            let devs: Vec<String> = setup
                .scratches
                .iter()
                .filter_map(|s| s.loop_dev.file_name())
                .map(|n| n.to_string_lossy().into())
                .collect();
            Some(super::blkrec::BlkRecorder::start(tracefs_root, &devs, dir.join("blktrace.raw"), undo)?)
        }
        false => None,
    };
    guard::check()?;
    let reader = inst.start(raw, &raw_path)?;
    let named: Vec<(String, u32, u32)> = setup.scratches.iter().map(|s| (s.device.clone(), s.major, s.minor)).collect();
    let watch: Vec<(String, u64)> = sc.sysctls.explicit().iter().map(|(k, v)| (k.clone(), *v)).collect();
    let sampler = sampler::Sampler::start(&named, bdi_dir.as_deref(), watch)?;
    eprintln!("pcsim: running workload ({} tasks)", sc.tasks.len());
    let mut memcg_start = cgroup::StartCharge::default();
    let run_result = match &memcg {
        Some(m) => worker::run(sc, &setup.paths, &ops_dir, m, &mut memcg_start),
        None => runner::run_all(sc, &setup.paths, &ops_dir, None),
    };
    let end = super::clock::mono_ns();
    let (series, sysctls_changed) = sampler.finish(run_result.as_ref().map(|(t0, _)| *t0).unwrap_or(end));
    inst.stop()?;
    reader.finish()?;
    if let Some(b) = blk {
        let n = b.finish(&dir.join("blktrace"), &sc.name)?;
        eprintln!("pcsim: blktrace: {n} records in blktrace/{}.blktrace.N", sc.name);
    }
    let vm_after = collect::vmstat();
    let warmup = warm::WarmupRecord {
        bytes: warm_bytes,
        touch_ns: warm_ns,
        reported_kib_during_run: reported_before.zip(warm::reported_kib()).map(|(a, b)| b.saturating_sub(a)),
    };
    let (t0, outcomes) = run_result?;
    guard::check()?;
    check_host_unchanged(sc, &setup.scratches, &setup.throttles, &sysctls_changed)?;
    let lost = inst.lost_events();
    Ok(Traced {
        t0,
        end,
        outcomes,
        lost,
        series,
        bdi_stats: bdi_dir.is_some(),
        memcg: memcg.map(|m| (m, memcg_start)),
        sysctls_in_force,
        reclaimers,
        vm_before,
        vm_after,
        warmup,
        started_wall,
    })
}

/// Writes `text` to `dir/name`.
fn write_file(dir: &Path, name: &str, text: &str) -> Result<(), ProbeError> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|e| ProbeError::Host(format!("writing {}: {e}", p.display())))
}

/// The run's outputs besides the trace: residency.txt and extents.txt (per file, at the end), vmstat.txt (the
/// workload's deltas), vmstat_series.txt, cachestat.txt; then each scratch filesystem written back (syncfs), so no
/// dirty data outlives the run. Returns the write-back's time.
fn collect_outputs(
    sc: &Scenario,
    setup: &SetUp,
    dir: &Path,
    mut series: crate::trace::series::Series,
    vm_before: &[(String, i64)],
    vm_after: &[(String, i64)],
) -> Result<u64, ProbeError> {
    let mut residency = format!("{}\n", crate::trace::residency::HEADER);
    let mut extents = String::from("# file logical_bytes physical_bytes length_bytes flags\n");
    for (i, f) in sc.files.iter().enumerate() {
        let path = &setup.paths[i];
        let file = File::open(path).map_err(|e| ProbeError::Host(format!("{}: {e}", path.display())))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(f.size);
        let cs = collect::cachestat(&file).unwrap_or_default();
        let rr = collect::resident_ranges(&file, size)
            .map_err(|e| ProbeError::Host(format!("mincore {}: {e}", path.display())))?;
        let counts = [cs.nr_cache, cs.nr_dirty, cs.nr_writeback, cs.nr_evicted, cs.nr_recently_evicted];
        residency.push_str(&crate::trace::residency::format_line(&f.name, size.div_ceil(4096), counts, &rr));
        residency.push('\n');
        for e in collect::fiemap(&file).map_err(|e| ProbeError::Host(format!("FIEMAP {}: {e}", path.display())))? {
            let _ = writeln!(extents, "{} {} {} {} {:#x}", f.name, e.logical, e.physical, e.length, e.flags);
        }
    }
    write_file(dir, "residency.txt", &residency)?;
    guard::point("collect")?;
    write_file(dir, "extents.txt", &extents)?;
    let mut vm = String::from("# /proc/vmstat after - before the workload\n");
    for (k, v) in collect::vmstat_delta(vm_before, vm_after) {
        let _ = writeln!(vm, "{k} {v}");
    }
    write_file(dir, "vmstat.txt", &vm)?;
    series.header.insert("source".into(), "probe".into());
    series.header.insert("scenario".into(), sc.name.clone());
    write_file(dir, crate::trace::series::FILE_NAME, &crate::trace::series::write_series(&series))?;
    // After residency and vmstat were read; unmounting would also write it back, but then inside the undo stack,
    // with the sysctls restored.
    let mut sync_ns = 0;
    for s in &setup.scratches {
        sync_ns += sampler::syncfs(&s.mnt)?;
    }
    if let Some(text) = collect_cachestat(&dir.join("ops"))? {
        write_file(dir, "cachestat.txt", &text)?;
    }
    Ok(sync_ns)
}

/// Normalises raw_trace.txt into events.log: the tasks' and devices' names, the files' inodes, the log's header.
fn normalise(
    sc: &Scenario,
    setup: &SetUp,
    dir: &Path,
    run: u32,
    t0: u64,
    release: &str,
) -> Result<super::NormaliseStats, ProbeError> {
    let mut norm = ftrace::Normaliser::new(t0);
    for t in &sc.tasks {
        norm.add_task(&t.name);
    }
    for s in &setup.scratches {
        norm.add_device(s.major, s.minor, &s.device);
        for (name, _, ino, _) in &s.files {
            norm.add_inode_on(s.major, s.minor, *ino, name);
        }
    }
    let mut header = std::collections::BTreeMap::new();
    header.insert("source".to_string(), "probe".to_string());
    header.insert("scenario".to_string(), sc.name.clone());
    header.insert("seed".to_string(), sc.seed.to_string());
    header.insert("kernel".to_string(), release.to_string());
    header.insert("run".to_string(), run.to_string());
    normalise_file(&dir.join("raw_trace.txt"), &dir.join("events.log"), &mut norm, &header)
}

/// FIEMAP of every scenario file, in extents.txt's format.
fn write_extents(sc: &Scenario, paths: &[PathBuf], out: &Path) -> Result<(), ProbeError> {
    let mut text = String::from("# file logical_bytes physical_bytes length_bytes flags\n");
    for (i, f) in sc.files.iter().enumerate() {
        let file = File::open(&paths[i]).map_err(|e| ProbeError::Host(format!("{}: {e}", paths[i].display())))?;
        for e in collect::fiemap(&file).map_err(|e| ProbeError::Host(format!("FIEMAP {}: {e}", paths[i].display())))? {
            let _ = writeln!(text, "{} {} {} {} {:#x}", f.name, e.logical, e.physical, e.length, e.flags);
        }
    }
    std::fs::write(out, text).map_err(|e| ProbeError::Host(format!("writing {}: {e}", out.display())))
}

/// Merges the tasks' `ops/<task>.cachestat` files (written by `runner`) into cachestat.txt, in time order; `None`
/// when no task ran a cachestat op.
fn collect_cachestat(ops_dir: &Path) -> Result<Option<String>, ProbeError> {
    let rd = std::fs::read_dir(ops_dir).map_err(|e| ProbeError::Host(format!("{}: {e}", ops_dir.display())))?;
    let mut records = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "cachestat") {
            let text = std::fs::read_to_string(&p).map_err(|e| ProbeError::Host(format!("{}: {e}", p.display())))?;
            let mut rs =
                crate::trace::cachestat::parse(&text).map_err(|e| ProbeError::Host(format!("{}: {e}", p.display())))?;
            records.append(&mut rs);
        }
    }
    if records.is_empty() {
        return Ok(None);
    }
    records.sort_by(|a, b| (a.time_ns, &a.task).cmp(&(b.time_ns, &b.task)));
    Ok(Some(crate::trace::cachestat::format(&records)))
}
