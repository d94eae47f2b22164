//! Live probe tests: they run the real kernel through `pcsim probe` and check the outputs and that the host is left
//! as it was found (vm sysctls, mounts, loop devices, tracefs instances, cgroups, scratch directories, crash journals)
//! after a normal run, a failed run, a run interrupted with SIGINT, and a run killed with SIGKILL at a test stop point
//! (`PCSIM_PROBE_PAUSE`, src/probe/guard.rs) followed by `pcsim probe --recover` or by the next probe. They need root, tracefs and loop devices (CI has them); where
//! those are missing every test is reported as ignored, with the reason (a custom harness, libtest-mimic, so a test
//! that cannot run is not counted as passed). One runs at a time: the probe takes a host-wide lock anyway.

mod common;
use common::{log_read_side, raw_read_side};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn pcsim() -> &'static str {
    env!("CARGO_BIN_EXE_pcsim")
}

/// Why live tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Some("no loop devices (/dev/loop-control)".into());
    }
    if !Path::new("/sys/kernel/tracing").is_dir() {
        return Some("no tracefs mount point".into());
    }
    if !Path::new("/sys/kernel/tracing/events/readahead").exists() {
        // Not mounted yet is fine (the probe mounts it); check the kernel has the events at all.
        let mounted = std::fs::read_to_string("/proc/mounts").unwrap_or_default().contains(" /sys/kernel/tracing ");
        if mounted {
            return Some("this kernel has no readahead tracepoints (needs Linux 6.18)".into());
        }
    }
    for tool in ["losetup", "mkfs.ext4"] {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !on_path {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// The host state the probe must leave unchanged.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    vm: BTreeMap<String, String>,
    mounts: Vec<String>,
    loops: Vec<String>,
    instances: Vec<String>,
    leftovers: Vec<String>,
    /// The root blkio write throttle rules (cgroup v1), as text.
    throttles: String,
    /// The top-level tracefs settings `--blktrace` changes (when tracefs is mounted).
    tracer: Vec<String>,
}

/// The host state between probes: taken while holding the probes' host lock (`/run/pcsim-probe.lock`), so a probe
/// that someone else runs on this host meanwhile is never seen half-way (every probe makes and undoes its changes
/// while it holds that lock).
fn host_state() -> HostState {
    use std::os::unix::io::AsRawFd;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(pcsim::probe::LOCK_FILE)
        .expect("opening the probes' host lock");
    // SAFETY: flock on our own descriptor; closing it releases the lock.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0, "locking {}", pcsim::probe::LOCK_FILE);
    host_state_now()
}

/// The host state now (while a probe of the test's runs: it holds the host lock).
fn host_state_now() -> HostState {
    let mut vm = BTreeMap::new();
    for e in std::fs::read_dir("/proc/sys/vm").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "drop_caches" || name == "stat_refresh" || name == "compact_memory" {
            continue;
        }
        if let Ok(v) = std::fs::read_to_string(e.path()) {
            vm.insert(name, v.trim().to_string());
        }
    }
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/mounts").unwrap().lines().map(String::from).collect();
    mounts.sort();
    let mut loops = Vec::new();
    for e in std::fs::read_dir("/sys/block").unwrap().flatten() {
        // Every loop device, bound or not: the probe creates its own (LOOP_CTL_ADD) and must remove it again.
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let bf = std::fs::read_to_string(e.path().join("loop/backing_file")).unwrap_or_default();
        loops.push(format!("{name} {}", bf.trim()));
    }
    // The nodes too: a loop device removed without its node (or the reverse) is a leftover.
    for e in std::fs::read_dir("/dev").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("loop") {
            loops.push(format!("/dev/{name}"));
        }
    }
    loops.sort();
    let mut instances = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/kernel/tracing/instances") {
        instances = rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        instances.sort();
    }
    let mut leftovers = Vec::new();
    // Work directories and backing files, memory cgroups, crash journals (/var/tmp, or /run).
    for dir in ["/var/tmp", "/run", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("pcsim-probe-") {
                    leftovers.push(format!("{dir}/{n}"));
                }
            }
        }
    }
    let throttles = std::fs::read_to_string("/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device").unwrap_or_default();
    let tracer = ["current_tracer", "trace_clock", "options/bin", "options/context-info", "tracing_on"]
        .iter()
        .map(|f| {
            format!(
                "{f}={}",
                std::fs::read_to_string(Path::new("/sys/kernel/tracing").join(f)).unwrap_or_default().trim()
            )
        })
        .collect();
    HostState { vm, mounts, loops, instances, leftovers, throttles, tracer }
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn quickstart_probe_writes_outputs_matching_ftrace_and_restores_host() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("qs");
    let st = Command::new(pcsim())
        .args(["probe", repo("scenarios/quickstart.ron").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(st.status.success(), "probe failed: {}", String::from_utf8_lossy(&st.stderr));
    for f in ["events.log", "raw_trace.txt", "residency.txt", "vmstat.txt", "extents.txt", "manifest.ron"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let log =
        pcsim::trace::log::read_log(BufReader::new(std::fs::File::open(out.join("events.log")).unwrap())).unwrap();
    let raw = std::fs::read_to_string(out.join("raw_trace.txt")).unwrap();
    let from_raw = raw_read_side(&raw);
    let from_log = log_read_side(&log);
    assert!(!from_log.is_empty(), "no readahead/filemap events recorded");
    assert_eq!(from_log, from_raw, "normalised readahead/filemap events differ from ftrace's own text");
    // A cold sequential read starts with a sync readahead at index 0 of the scenario's file.
    let first = log.events.iter().find(|e| e.kind.name() == "page_cache_sync_ra").expect("a sync readahead");
    assert_eq!(first.kind.file().map(|f| &**f), Some("data"));
    let res = std::fs::read_to_string(out.join("residency.txt")).unwrap();
    assert!(res.lines().any(|l| l.starts_with("data ")), "{res}");
    let vm = std::fs::read_to_string(out.join("vmstat.txt")).unwrap();
    let pgpgin: i64 = vm.lines().find_map(|l| l.strip_prefix("pgpgin ")).unwrap().parse().unwrap();
    assert!(pgpgin > 0, "reading a cold file must page in: {vm}");
    let manifest = std::fs::read_to_string(out.join("manifest.ron")).unwrap();
    assert!(manifest.contains("kernel_release") && manifest.contains("reclaimers"), "{manifest}");
    assert_eq!(host_state(), before, "host state changed by a normal probe run");
}

const SYSCTL_SCENARIO_HEAD: &str = r#"Scenario(
    name: "restore_check",
    machine: (memory: "2g"),
    sysctls: { "vm.dirty_bytes": 67108864, "vm.dirty_background_bytes": 33554432, "vm.dirty_expire_centisecs": 1234 },
"#;

fn failed_run_restores_host() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    // max_sectors_kb above the loop device's max_hw_sectors_kb (1280) fails after sysctls, tracefs and the loop
    // device are set up, so every undo step runs.
    let sc = write_scenario(
        tmp.path(),
        "fail.ron",
        &format!(
            "{SYSCTL_SCENARIO_HEAD}
    devices: [(name: \"disk0\", max_sectors_kb: 65536)],
    files: [(name: \"data\", size: \"1m\")],
    tasks: [(name: \"reader\", ops: [Open(file: \"data\"), Read(fd: \"data\", len: \"4k\")])],
)"
        ),
    );
    let out = tmp.path().join("out");
    let st = Command::new(pcsim())
        .args(["probe", sc.to_str().unwrap(), "--out", out.to_str().unwrap(), "--allow-sysctl"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(2), "{err}");
    assert!(err.contains("max_sectors_kb"), "{err}");
    assert!(!out.exists(), "no partial output may remain");
    assert_eq!(host_state(), before, "host state changed by a failed probe run");
}

fn sigint_restores_host() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let sc = write_scenario(
        tmp.path(),
        "sleepy.ron",
        &format!(
            "{SYSCTL_SCENARIO_HEAD}
    devices: [(name: \"disk0\")],
    files: [(name: \"data\", size: \"4m\")],
    tasks: [(name: \"sleeper\", ops: [Open(file: \"data\"), Read(fd: \"data\", len: \"4k\"), Sleep(\"60s\")])],
)"
        ),
    );
    let out = tmp.path().join("out");
    #[allow(clippy::disallowed_methods)] // a real-time bound on the real probe: the interrupt must stop a 60 s sleep
    let started = Instant::now();
    let mut child = Command::new(pcsim())
        .args(["probe", sc.to_str().unwrap(), "--out", out.to_str().unwrap(), "--allow-sysctl"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("probe ended before the workload started: {seen}");
        }
        seen.push_str(&line);
        if line.contains("running workload") {
            break;
        }
    }
    // The sysctls are applied while the workload runs.
    assert_eq!(std::fs::read_to_string("/proc/sys/vm/dirty_expire_centisecs").unwrap().trim(), "1234");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(started.elapsed() < Duration::from_secs(30), "the interrupt did not stop the 60 s sleep promptly");
    assert!(!out.exists(), "no partial output may remain");
    assert_eq!(host_state(), before, "host state changed by an interrupted probe run");
}

fn sysctl_differences_are_refused_without_the_flag() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let sc = write_scenario(
        tmp.path(),
        "s.ron",
        &format!(
            "{SYSCTL_SCENARIO_HEAD}
    devices: [(name: \"disk0\")],
    files: [(name: \"data\", size: \"1m\")],
    tasks: [(name: \"reader\", ops: [Open(file: \"data\")])],
)"
        ),
    );
    let out = tmp.path().join("out");
    let st =
        Command::new(pcsim()).args(["probe", sc.to_str().unwrap(), "--out", out.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(2), "{err}");
    assert!(err.contains("--allow-sysctl") && err.contains("vm.dirty_bytes=67108864"), "{err}");
    assert!(!out.exists());
    assert_eq!(host_state(), before);
}

fn memcg_limit_bounds_the_workloads_cache() {
    let v1 = Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists();
    let v2 =
        std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").map(|s| s.contains("memory")).unwrap_or(false);
    if !v1 && !v2 {
        eprintln!("skipped: no memory cgroup controller on this host");
        return;
    }
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let sc = write_scenario(
        tmp.path(),
        "memcg.ron",
        r#"Scenario(
    name: "memcg_check",
    machine: (memory: "2g", memcg_limit: "32m"),
    devices: [(name: "disk0")],
    files: [(name: "data", size: "96m")],
    tasks: [(name: "reader", ops: [Open(file: "data"), Repeat(count: 24576, ops: [Read(fd: "data", len: "4k")])])],
)"#,
    );
    let out = tmp.path().join("out");
    let st =
        Command::new(pcsim()).args(["probe", sc.to_str().unwrap(), "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let res = std::fs::read_to_string(out.join("residency.txt")).unwrap();
    let cached: u64 =
        res.lines().find(|l| l.starts_with("data ")).unwrap().split_whitespace().nth(2).unwrap().parse().unwrap();
    // 32 MiB = 8192 pages; the workload read 24576 pages, so the limit must have evicted most of them.
    assert!(cached <= 8192, "{cached} pages cached under a 32 MiB limit: {res}");
    let log = pcsim::trace::log::read_log_file(&out.join("events.log")).unwrap();
    let evicted = log
        .events
        .iter()
        .filter(|e| e.kind.name() == "mm_filemap_delete_from_page_cache" && &*e.task == "reader")
        .count();
    assert!(evicted > 0, "no evictions by the reader under the limit");
    assert_eq!(host_state(), before, "host state changed by a memcg probe run");
}

fn validate_probes_simulates_and_agrees_exactly() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("v");
    let st = Command::new(pcsim())
        .args(["validate", repo("scenarios/validation/strided_read.ron").to_str().unwrap(), "--runs", "1"])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(st.status.success(), "{text}{}", String::from_utf8_lossy(&st.stderr));
    assert!(text.contains("threshold readahead (in_order) >= 100.00%: 100.00%"), "{text}");
    assert!(text.contains("threshold pages (in_order) >= 100.00%: 100.00%"), "{text}");
    assert_eq!(host_state(), before);
}

fn touching_past_the_end_of_a_mapped_file_is_efault_not_sigbus() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let sc = write_scenario(
        tmp.path(),
        "bus.ron",
        r#"Scenario(
    name: "sigbus_check",
    machine: (memory: "2g"),
    devices: [(name: "disk0")],
    files: [(name: "data", size: "1m")],
    tasks: [(name: "t", ops: [Open(file: "data"), Mmap(fd: "data", map: "m", len: "4m"), Touch(map: "m", off: "2m")])],
)"#,
    );
    let out = tmp.path().join("out");
    let st =
        Command::new(pcsim()).args(["probe", sc.to_str().unwrap(), "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let ops = std::fs::read_to_string(out.join("ops/t.ops")).unwrap();
    let touch = ops.lines().find(|l| l.contains("touch_read")).unwrap();
    assert!(touch.ends_with(&format!(" -{}", libc::EFAULT)), "{touch}");
    assert_eq!(host_state(), before);
}

fn small_writer_on_a_throttled_device_records_the_write_side_and_restores_host() {
    if !Path::new("/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device").exists() {
        eprintln!("skipped: no cgroup v1 blkio controller for write_bps");
        return;
    }
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    // 24 MiB of 128 KiB writes under dirty_bytes 8 MiB / dirty_background_bytes 4 MiB on a device throttled to
    // 16 MiB/s: background writeback and balance_dirty_pages both happen within about two seconds.
    let sc = write_scenario(
        tmp.path(),
        "w.ron",
        r#"Scenario(
    name: "small_writer",
    machine: (memory: "2g"),
    devices: [(name: "disk0", write_bps: "16m")],
    sysctls: { "vm.dirty_bytes": 8388608, "vm.dirty_background_bytes": 4194304, "vm.dirty_expire_centisecs": 1500 },
    files: [(name: "out", size: 0)],
    tasks: [(name: "writer", ops: [
        Open(file: "out", flags: [WRONLY]),
        Generate(fd: "out", syscall: Read, read_pct: 0, block: "128k", range: (off: 0, len: "24m")),
        Close(fd: "out"),
    ])],
)"#,
    );
    let out = tmp.path().join("out");
    let st = Command::new(pcsim())
        .args(["probe", sc.to_str().unwrap(), "--out", out.to_str().unwrap(), "--allow-sysctl"])
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let log = pcsim::trace::log::read_log_file(&out.join("events.log")).unwrap();
    let series = pcsim::trace::series::read_series_file(&out.join("vmstat_series.txt")).unwrap();
    assert!(series.samples.len() >= 2, "{series:?}");
    assert!(!series.column("nr_dirty").is_empty());
    let fig = pcsim::compare::curves::figures(&log, &series, &["disk0"]);
    // The kernel's thresholds are the scenario's byte limits in pages.
    assert!(fig.thresholds.contains(&(1024, 2048)), "{}", fig.summary());
    let w = fig.tasks.iter().find(|t| t.task == "writer").expect("the writer dirtied pages");
    assert_eq!(w.dirtied_bytes, 24 << 20, "{}", fig.summary());
    assert!(fig.first_background_ns.is_some(), "{}", fig.summary());
    assert!(fig.pauses > 0, "the writer outruns a 16 MiB/s device: {}", fig.summary());
    // Writeback events name the scenario's device, never the host's bdi "7:N".
    for e in log.events.iter().filter(|e| e.kind.name().starts_with("writeback_")) {
        let dev = e.kind.fields().into_iter().find(|(k, _)| *k == "device").map(|(_, v)| v.to_string());
        assert_eq!(dev.as_deref(), Some("disk0"), "{e}");
    }
    let manifest = std::fs::read_to_string(out.join("manifest.ron")).unwrap();
    assert!(manifest.contains("write_bps: Some(16777216)") && manifest.contains("sync_after_ns"), "{manifest}");
    assert_eq!(host_state(), before, "host state changed by a write-side probe run");
}

fn calibrate_measures_the_scratch_device_and_restores_host() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("disk.ron");
    let st = Command::new(pcsim())
        .args(["calibrate", "--out", out.to_str().unwrap(), "--size-mib", "256", "--file-mib", "64"])
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    // The section is a device a scenario takes, with measured (non-zero) speeds.
    let dev = std::fs::read_to_string(&out).unwrap();
    let text = format!(
        "Scenario(name: \"c\", machine: (memory: \"1g\"), devices: [\n{dev}], files: [(name: \"f\", size: \"1m\")], \
         tasks: [(name: \"t\", ops: [Sleep(\"1ms\")])])"
    );
    let sc = pcsim::scenario::Scenario::parse(&text, "calibrated.ron").unwrap_or_else(|e| panic!("{e}\n{dev}"));
    assert!(sc.devices[0].read_bw >= 1 << 20 && sc.devices[0].write_bw >= 1 << 20, "{dev}");
    assert_eq!(host_state(), before);
}

/// `probe --trace` of a real program's strace with `--blktrace`: the trace's scenario is kept, the blktrace of the
/// scratch device is written per CPU and read back by pcsim's importer, and the host (tracefs's top-level tracer
/// included, which the blk tracer borrows) is as before.
fn trace_probe_with_blktrace_restores_host() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cp");
    let st = Command::new(pcsim())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["probe", "--trace", "strace:traces/replay/cp.strace", "--under", "/var/tmp/pcsim-replay-capture/mnt"])
        .args(["--out", out.to_str().unwrap(), "--blktrace"])
        .output()
        .unwrap();
    assert!(st.status.success(), "probe failed: {}", String::from_utf8_lossy(&st.stderr));
    let sc = std::fs::read_to_string(out.join("scenario.ron")).unwrap();
    assert!(sc.contains("(name: \"big\", device: \"disk0\", size: 33554432)"), "{sc}");
    let files = pcsim::replay::blktrace::open_per_cpu(&out.join("blktrace"), "cp").unwrap();
    let imp = pcsim::replay::blktrace::BlktraceImporter::new(files, pcsim::replay::BlockOptions::default());
    let (mut reads, mut writes) = (0u64, 0u64);
    for r in imp {
        match r.unwrap().op {
            pcsim::Op::Pread { len, .. } => reads += len,
            pcsim::Op::Pwrite { len, .. } => writes += len,
            _ => {}
        }
    }
    // cp read the 32 MiB file through the cache (all of it from the device) and wrote its copy (written back by
    // the probe's syncfs after the trace stopped, so not necessarily within it).
    assert!(reads >= 32 << 20, "{reads} bytes read in the blktrace");
    let _ = writes;
    assert_eq!(host_state(), before, "host state changed by a --trace --blktrace probe run");
}

// ---------------------------------------------------------------- SIGKILL and the crash journal (issue 15)

/// Every kind of host change at once: a memory cgroup (so the workload runs in the worker process), a blkio write
/// throttle, vm sysctls, a cached file; plus the scratch filesystem, loop device, tracefs instance and files.
const RICH_SCENARIO: &str = r#"Scenario(
    name: "kill_check",
    machine: (memory: "2g", memcg_limit: "64m"),
    devices: [(name: "disk0", write_bps: "64m")],
    sysctls: { "vm.dirty_bytes": 67108864, "vm.dirty_background_bytes": 33554432, "vm.dirty_expire_centisecs": 1234 },
    files: [(name: "data", size: "8m", state: Cached)],
    tasks: [(name: "r", ops: [Open(file: "data"), Read(fd: "data", len: "4k")])],
)"#;

/// The same without the memory cgroup: the workload runs in the probe process itself.
const PLAIN_SCENARIO: &str = r#"Scenario(
    name: "kill_check_plain",
    machine: (memory: "2g"),
    devices: [(name: "disk0", write_bps: "64m")],
    sysctls: { "vm.dirty_bytes": 67108864, "vm.dirty_background_bytes": 33554432, "vm.dirty_expire_centisecs": 1234 },
    files: [(name: "data", size: "8m", state: Cached)],
    tasks: [(name: "r", ops: [Open(file: "data"), Read(fd: "data", len: "4k")])],
)"#;

/// Starts `pcsim probe` on `scenario` paused at the test stop point `point` (`PCSIM_PROBE_PAUSE`, src/probe/guard.rs)
/// and returns it once it is there, with what it said and the rest of its stderr (kept open: a probe writing to a
/// closed pipe would fail for that reason).
fn start_paused(
    point: &str,
    scenario: &Path,
    out: &Path,
) -> (std::process::Child, String, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(pcsim())
        .args(["probe", scenario.to_str().unwrap(), "--out", out.to_str().unwrap(), "--allow-sysctl"])
        .env("PCSIM_PROBE_PAUSE", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.wait();
            panic!("the probe ended before test point {point}: {seen}");
        }
        seen.push_str(&line);
        if line.trim_end() == format!("pcsim: paused at test point {point}") {
            break;
        }
    }
    (child, seen, stderr)
}

/// Runs `pcsim probe --recover` and returns its output; it must succeed.
fn recover() -> String {
    let st = Command::new(pcsim()).args(["probe", "--recover"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&st.stdout), String::from_utf8_lossy(&st.stderr));
    assert!(st.status.success(), "pcsim probe --recover failed: {text}");
    text
}

/// The files left in the test's directory besides the scenario (a partial output directory, say).
fn leftovers_in(dir: &Path, scenario: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path() != scenario)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// SIGKILLs the probe at `point` of a run of `scenario`, checks the host was changed there (`changed` says how),
/// then that `pcsim probe --recover` restores it exactly and removes the journal, and that a second recovery finds
/// nothing.
fn kill_at_and_recover(point: &str, scenario: &str, changed: fn(&HostState, &HostState) -> bool) {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let sc = write_scenario(tmp.path(), "kill.ron", scenario);
    let out = tmp.path().join("out");
    let (mut child, seen, _stderr) = start_paused(point, &sc, &out);
    let pid = child.id();
    let during = host_state_now();
    let journal = format!("/var/tmp/pcsim-probe-{pid}-");
    assert!(during.leftovers.iter().any(|l| l.starts_with(&journal)), "no journal {journal}*: {:?}", during.leftovers);
    assert!(changed(&before, &during), "the host was not changed as expected at {point}: {seen}\n{during:#?}");
    child.kill().unwrap(); // SIGKILL: nothing of the probe's own clean-up runs.
    child.wait().unwrap();
    let text = recover();
    // Another probe on this host (someone else's) waiting for the host lock recovers the killed one first when it
    // gets the lock before `--recover` does: the host must be restored all the same.
    if text.contains("nothing to recover") {
        eprintln!("note: the probe killed at {point} was recovered by another probe on this host");
    } else {
        assert!(text.contains(&format!("recovering after `pcsim probe` (pid {pid}, no longer running)")), "{text}");
        assert!(text.contains("done; journal removed") && !text.contains("FAILED"), "{text}");
    }
    assert_eq!(host_state(), before, "host not restored after SIGKILL at {point} and --recover:\n{text}");
    assert!(leftovers_in(tmp.path(), &sc).is_empty(), "{:?}\n{text}", leftovers_in(tmp.path(), &sc));
    let again = recover();
    assert!(again.contains("nothing to recover"), "{again}");
}

fn sysctls_set(b: &HostState, d: &HostState) -> bool {
    b.vm.get("dirty_expire_centisecs") != d.vm.get("dirty_expire_centisecs")
        && d.vm.get("dirty_bytes").map(String::as_str) == Some("67108864")
}

fn sigkill_during_set_up_then_recover_restores_host() {
    // Loop device attached, not yet formatted or mounted (mkfs comes next).
    kill_at_and_recover("mkfs", RICH_SCENARIO, |b, d| d.loops != b.loops && d.mounts.len() >= b.mounts.len());
    // Scratch filesystem mounted and written, write throttle set, sysctls applied: the end of set-up.
    kill_at_and_recover("sysctls", RICH_SCENARIO, |b, d| {
        sysctls_set(b, d) && d.mounts.len() > b.mounts.len() && d.throttles != b.throttles
    });
}

fn sigkill_during_workload_then_recover_restores_host() {
    // Tracing on, the workload in the probe's own task thread.
    kill_at_and_recover("workload", PLAIN_SCENARIO, |b, d| sysctls_set(b, d) && d.instances.len() > b.instances.len());
}

fn sigkill_with_memcg_worker_then_recover_restores_host() {
    // The workload in the worker process, inside the probe's memory cgroup: the worker dies with the probe (and a
    // straggler is killed by the recovery) so the cgroup can go.
    kill_at_and_recover("worker", RICH_SCENARIO, |b, d| {
        sysctls_set(b, d)
            && d.instances.len() > b.instances.len()
            && d.leftovers.iter().any(|l| l.starts_with("/sys/fs/cgroup/"))
    });
}

/// The worker killed by itself (as the OOM killer would kill it under the memory cgroup): the probe fails cleanly,
/// saying so, and restores the host on its own.
fn a_killed_worker_fails_the_run_and_restores_host() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let sc = write_scenario(tmp.path(), "kill.ron", RICH_SCENARIO);
    let out = tmp.path().join("out");
    let (mut child, _, mut stderr) = start_paused("worker", &sc, &out);
    let cgroup = host_state_now()
        .leftovers
        .into_iter()
        .find(|l| l.starts_with("/sys/fs/cgroup/") && l.ends_with(&format!("pcsim-probe-{}", child.id())))
        .expect("the probe's memory cgroup");
    let procs = std::fs::read_to_string(Path::new(&cgroup).join("cgroup.procs")).unwrap();
    let worker: i32 = procs.trim().parse().unwrap_or_else(|_| panic!("one worker in {cgroup}: {procs}"));
    // SAFETY: killing the probe's worker, our grandchild.
    unsafe { libc::kill(worker, libc::SIGKILL) };
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("the workload process was killed by signal 9 (SIGKILL: the OOM killer"), "{err}");
    assert!(!out.exists());
    assert_eq!(host_state(), before, "host not restored after the worker was killed");
}

fn sigkill_during_collection_then_recover_restores_host() {
    // Outputs half written into the partial output directory.
    kill_at_and_recover("collect", RICH_SCENARIO, |b, d| sysctls_set(b, d) && d.loops != b.loops);
}

fn sigkill_during_teardown_then_recover_restores_host() {
    // The undo stack half run: the scratch filesystem unmounted, its loop device and files still there.
    kill_at_and_recover("teardown", RICH_SCENARIO, |b, d| d.loops != b.loops);
}

/// A probe started after a killed one recovers it first (saying so), then runs normally.
fn the_next_probe_recovers_a_killed_one() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let sc = write_scenario(tmp.path(), "kill.ron", RICH_SCENARIO);
    let (mut child, _, _stderr) = start_paused("warm-up", &sc, &tmp.path().join("killed"));
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let out = tmp.path().join("qs");
    let st = Command::new(pcsim())
        .args(["probe", repo("scenarios/quickstart.ron").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "{err}");
    if err.contains(&format!("pcsim: recovering after `pcsim probe` (pid {pid}, no longer running)")) {
        assert!(err.contains("done; journal removed"), "{err}");
    } else {
        // Someone else's probe waiting for the host lock got it first and recovered the killed one.
        eprintln!("note: the killed probe was recovered by another probe on this host: {err}");
    }
    assert!(out.join("events.log").is_file());
    assert!(!tmp.path().join("killed").exists() && !tmp.path().join(format!(".killed.partial-{pid}")).exists());
    assert_eq!(host_state(), before, "{err}");
}

/// SIGINT in the middle of a long set-up step (reading 1 GiB into the cache; mapping the warm-up's memory) ends
/// the run within a second, host restored, instead of after the step.
fn a_signal_during_set_up_stops_it_promptly() {
    let before = host_state();
    let tmp = tempfile::tempdir().unwrap();
    let sc = write_scenario(
        tmp.path(),
        "big.ron",
        r#"Scenario(
    name: "slow_set_up",
    machine: (memory: "2g"),
    devices: [(name: "disk0")],
    files: [(name: "data", size: "1g", state: Cached)],
    tasks: [(name: "r", ops: [Open(file: "data"), Read(fd: "data", len: "4k")])],
)"#,
    );
    for point in ["cached-ranges", "warm-up"] {
        let out = tmp.path().join("out");
        let mut child = Command::new(pcsim())
            .args(["probe", sc.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .env("PCSIM_PROBE_TEST_POINTS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "the probe ended before {point}: {seen}");
            seen.push_str(&line);
            if line.trim_end() == format!("pcsim: test point {point}") {
                break;
            }
        }
        // Inside the step (it takes seconds on this size).
        std::thread::sleep(Duration::from_millis(200));
        #[allow(clippy::disallowed_methods)] // a real-time bound on the real probe
        let signalled = Instant::now();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = child.wait().unwrap();
        let took = signalled.elapsed();
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).unwrap();
        assert_eq!(status.code(), Some(130), "{seen}{rest}");
        assert!(took < Duration::from_millis(1500), "SIGINT during {point} took {took:?} to end the probe: {rest}");
        assert!(!out.exists());
        assert_eq!(host_state(), before, "after SIGINT during {point}");
    }
}

/// A full output filesystem: the error names the output file, not trace_pipe, and the host is restored.
fn a_full_output_filesystem_names_the_output_file() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let before = host_state();
    let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "pcsim-test-full"]).arg(&full).status();
    assert!(st.unwrap().success(), "mounting a small tmpfs");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let unmount = Unmount(&full);
    let out = full.join("o");
    let st = Command::new(pcsim())
        .args(["probe", repo("scenarios/quickstart.ron").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{}/.o.partial-", full.display())), "{err}");
    assert!(err.contains("No space left on device") && !err.contains("trace_pipe"), "{err}");
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 0, "no partial output may remain");
    drop(unmount);
    assert_eq!(host_state(), before, "{err}");
}

/// `--out` in a directory that does not exist is refused before anything is created (it used to create the whole
/// path). Runs without root: the check comes first.
fn out_in_a_missing_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("missing/dir/x");
    let st = Command::new(pcsim())
        .args(["probe", repo("scenarios/quickstart.ron").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(2), "{err}");
    assert!(err.contains("the parent directory") && err.contains("does not exist"), "{err}");
    assert!(!tmp.path().join("missing").exists(), "{err}");
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let skip = skip_reason();
    if let Some(why) = &skip {
        eprintln!("probe_live: every live probe test is ignored: {why} (they need root, tracefs and loop devices)");
    }
    let tests: &[(&str, fn())] = &[
        (
            "quickstart_probe_writes_outputs_matching_ftrace_and_restores_host",
            quickstart_probe_writes_outputs_matching_ftrace_and_restores_host,
        ),
        ("failed_run_restores_host", failed_run_restores_host),
        ("sigint_restores_host", sigint_restores_host),
        ("sysctl_differences_are_refused_without_the_flag", sysctl_differences_are_refused_without_the_flag),
        ("memcg_limit_bounds_the_workloads_cache", memcg_limit_bounds_the_workloads_cache),
        ("validate_probes_simulates_and_agrees_exactly", validate_probes_simulates_and_agrees_exactly),
        (
            "touching_past_the_end_of_a_mapped_file_is_efault_not_sigbus",
            touching_past_the_end_of_a_mapped_file_is_efault_not_sigbus,
        ),
        (
            "small_writer_on_a_throttled_device_records_the_write_side_and_restores_host",
            small_writer_on_a_throttled_device_records_the_write_side_and_restores_host,
        ),
        (
            "calibrate_measures_the_scratch_device_and_restores_host",
            calibrate_measures_the_scratch_device_and_restores_host,
        ),
        ("trace_probe_with_blktrace_restores_host", trace_probe_with_blktrace_restores_host),
        ("sigkill_during_set_up_then_recover_restores_host", sigkill_during_set_up_then_recover_restores_host),
        ("sigkill_during_workload_then_recover_restores_host", sigkill_during_workload_then_recover_restores_host),
        ("sigkill_with_memcg_worker_then_recover_restores_host", sigkill_with_memcg_worker_then_recover_restores_host),
        ("a_killed_worker_fails_the_run_and_restores_host", a_killed_worker_fails_the_run_and_restores_host),
        ("sigkill_during_collection_then_recover_restores_host", sigkill_during_collection_then_recover_restores_host),
        ("sigkill_during_teardown_then_recover_restores_host", sigkill_during_teardown_then_recover_restores_host),
        ("the_next_probe_recovers_a_killed_one", the_next_probe_recovers_a_killed_one),
        ("a_signal_during_set_up_stops_it_promptly", a_signal_during_set_up_stops_it_promptly),
        ("a_full_output_filesystem_names_the_output_file", a_full_output_filesystem_names_the_output_file),
    ];
    // Needs no root: the check comes before the probe's own.
    let unprivileged: &[(&str, fn())] =
        &[("out_in_a_missing_directory_is_refused", out_in_a_missing_directory_is_refused)];
    let trials = tests
        .iter()
        .map(|&(name, f)| {
            libtest_mimic::Trial::test(name, move || {
                let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
                f();
                Ok(())
            })
            .with_ignored_flag(skip.is_some())
        })
        .chain(unprivileged.iter().map(|&(name, f)| {
            libtest_mimic::Trial::test(name, move || {
                f();
                Ok(())
            })
        }))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
