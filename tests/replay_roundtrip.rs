//! Issue 13's round trips, on the sample traces captured on this host by traces/replay/capture.sh (no root needed:
//! the probe's replays of the traces are committed beside them):
//! - strace of four real programs and an fio iolog, each replayed by the model (`pcsim validate --trace ...
//!   --probe-dir`) and compared with the kernel's replays of the same trace: readahead decisions and folio
//!   insertions agree 100% in order with every kernel run;
//! - a blktrace of a probe run, replayed `--through device`: the model queues the recorded bios, sector for sector
//!   and size for size, in the recorded order;
//! - the model's blktrace export read back by Debian's blkparse and btt (where installed; CI installs them and sets
//!   PCSIM_REQUIRE_BLKTRACE=1 so a missing tool fails instead of skipping): their sectors are the model's;
//! - `pcsim import` then `pcsim run` gives the same event log as `pcsim run --trace`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Where capture.sh built its filesystem: the traces' paths start with it.
const MNT: &str = "/var/tmp/pcsim-replay-capture/mnt";

fn pcsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pcsim"))
}

fn repo(p: &str) -> String {
    format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))
}

/// The event log's lines of one tracepoint (without time and task).
fn events_of(log: &str, kind: &str) -> Vec<String> {
    log.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(4, ' ');
            let (_t, _task, k, rest) = (f.next()?, f.next()?, f.next()?, f.next().unwrap_or(""));
            (k == kind).then(|| rest.to_string())
        })
        .collect()
}

/// Validates the trace's replay against its committed probe runs and returns, per run, the in-order agreement of
/// every tracepoint (from the comparison's JSON).
fn validate(trace: &str, extra: &[&str], probe_dir: &str) -> Vec<BTreeMap<String, (u64, u64, f64)>> {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("c.json");
    let mut args = vec!["validate", "--trace", trace, "--under", MNT, "--probe-dir", probe_dir];
    args.extend_from_slice(extra);
    let out_dir = tmp.path().join("v");
    args.extend_from_slice(&["--out", out_dir.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    let out = pcsim().current_dir(env!("CARGO_MANIFEST_DIR")).args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // 0 (every default check passed) or 1 (a check beyond this test's failed): the comparison was made.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{trace}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            run["events"]["kinds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| {
                    let n = |f: &str| k[f].as_u64().unwrap();
                    (
                        k["kind"].as_str().unwrap().to_string(),
                        (n("sim_count"), n("probe_count"), k["in_order"].as_f64().unwrap()),
                    )
                })
                .collect()
        })
        .collect()
}

/// Readahead decisions and folio insertions agree 100% in order with every kernel run, and there are some.
fn assert_readahead_and_insertions_exact(name: &str, runs: &[BTreeMap<String, (u64, u64, f64)>]) {
    assert_eq!(runs.len(), 3, "{name}: three kernel runs");
    for (i, kinds) in runs.iter().enumerate() {
        let add = kinds.get("mm_filemap_add_to_page_cache").copied().unwrap_or((0, 0, 0.0));
        assert!(add.0 > 0, "{name} run {}: the model inserted no folio", i + 1);
        for (kind, (sim, probe, in_order)) in kinds {
            if kind.starts_with("page_cache_") || kind == "mm_filemap_add_to_page_cache" {
                assert_eq!(
                    *in_order,
                    1.0,
                    "{name} run {}: {kind} agrees {:.2}% in order (model {sim}, kernel {probe})",
                    i + 1,
                    in_order * 100.0
                );
            }
        }
        assert!(kinds.keys().any(|k| k.starts_with("page_cache_")), "{name}: no readahead at all");
    }
}

#[test]
fn strace_round_trips_of_real_programs() {
    for prog in ["cp", "tar", "sqlite3", "sha256sum"] {
        let runs = validate(&format!("strace:traces/replay/{prog}.strace"), &[], &format!("traces/replay/{prog}"));
        assert_readahead_and_insertions_exact(prog, &runs);
    }
}

#[test]
fn fio_iolog_round_trip() {
    let runs = validate("iolog:traces/replay/fio_randread.iolog", &["--buffered"], "traces/replay/fio_randread");
    assert_readahead_and_insertions_exact("fio_randread", &runs);
}

/// (sector, sectors) of every Q record of a blktrace, in order.
fn queued(trace: &str) -> Vec<(u64, u64)> {
    use pcsim::replay::blktrace::BlktraceImporter;
    use pcsim::replay::BlockOptions;
    let files = pcsim::replay::blktrace::open_per_cpu(Path::new(&repo("traces/replay/blktrace")), trace).unwrap();
    BlktraceImporter::new(files, BlockOptions::default())
        .filter_map(|r| match r.unwrap().op {
            pcsim::Op::Pread { off, len, .. } | pcsim::Op::Pwrite { off, len, .. } => Some((off / 512, len / 512)),
            _ => None,
        })
        .collect()
}

fn sector_fields(line: &str) -> (u64, u64) {
    let field = |k: &str| {
        line.split(' ').find_map(|f| f.strip_prefix(k)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(u64::MAX)
    };
    (field("sector="), field("nr_sector="))
}

#[test]
fn blktrace_of_a_probe_run_replays_through_the_device_bio_for_bio() {
    let recorded = queued("seq_read_64k");
    // 64 MiB read by 64 KiB read(): readahead's bios, 128 KiB each after the first window.
    assert!(recorded.len() >= 500, "{}", recorded.len());
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("e.log");
    let out = pcsim()
        .args(["run", "--trace", &format!("blktrace:{}", repo("traces/replay/blktrace/seq_read_64k.blktrace.0"))])
        .args(["--through", "device", "--events", log.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = std::fs::read_to_string(&log).unwrap();
    let model: Vec<(u64, u64)> = events_of(&log, "block_bio_queue").iter().map(|l| sector_fields(l)).collect();
    let issued: Vec<(u64, u64)> = events_of(&log, "block_rq_issue").iter().map(|l| sector_fields(l)).collect();
    // One O_DIRECT read per recorded bio, on a file laid out from sector 0: the same sectors and sizes, in the
    // recorded order (one reader: the kernel's order is deterministic), each issued as one request.
    assert_eq!(model, recorded);
    assert_eq!(issued, recorded);
}

fn require_tools() -> bool {
    let have = |t: &str| Command::new(t).arg("-h").output().is_ok();
    if have("blkparse") && have("btt") {
        return true;
    }
    assert!(
        std::env::var_os("PCSIM_REQUIRE_BLKTRACE").is_none(),
        "PCSIM_REQUIRE_BLKTRACE is set but blkparse or btt is missing (apt-get install blktrace)"
    );
    eprintln!("skipped: blkparse/btt not installed (apt-get install blktrace)");
    false
}

#[test]
fn the_models_blktrace_export_is_read_by_blkparse_and_btt() {
    if !require_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bt");
    let log = tmp.path().join("e.log");
    let out = pcsim()
        .args(["run", &repo("scenarios/validation/seq_read_64k.ron"), "--blktrace", dir.to_str().unwrap()])
        .args(["--events", log.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = std::fs::read_to_string(&log).unwrap();
    // blkparse's default text: every action's sector column.
    let bp = Command::new("blkparse").args(["-i", "seq_read_64k", "-D", dir.to_str().unwrap()]).output().unwrap();
    assert!(bp.status.success(), "{}", String::from_utf8_lossy(&bp.stderr));
    let text = String::from_utf8_lossy(&bp.stdout);
    let mut by_action: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 10 && f[7] != "m" && f[8] == "+" {
            by_action.entry(f[5].to_string()).or_default().push((f[7].parse().unwrap(), f[9].parse().unwrap()));
        }
    }
    for (action, kind) in [("Q", "block_bio_queue"), ("D", "block_rq_issue"), ("C", "block_rq_complete")] {
        let model: Vec<(u64, u64)> = events_of(&log, kind).iter().map(|l| sector_fields(l)).collect();
        assert!(!model.is_empty(), "{kind}");
        assert_eq!(by_action.get(action), Some(&model), "blkparse's {action} lines against the model's {kind}");
    }
    // btt: the merged binary, then its per-I/O dump (one line per I/O, its sector after the device).
    let merged = tmp.path().join("merged.bin");
    let m = Command::new("blkparse")
        .args(["-i", "seq_read_64k", "-D", dir.to_str().unwrap(), "-d", merged.to_str().unwrap(), "-O"])
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let per_io = tmp.path().join("per_io.txt");
    // btt writes its *_fp.dat files into the working directory: the temporary one, not the repository.
    let b = Command::new("btt")
        .current_dir(tmp.path())
        .args(["-i", merged.to_str().unwrap(), "-p", per_io.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(b.status.success(), "btt: {}", String::from_utf8_lossy(&b.stderr));
    let btt_text = String::from_utf8_lossy(&b.stdout);
    assert!(btt_text.contains("Q2C"), "{btt_text}");
    // Per I/O: `  8,0  :     0.000208731 Q      33024+256`.
    let dump = std::fs::read_to_string(&per_io).unwrap();
    let sectors: Vec<(u64, u64)> = dump
        .lines()
        .filter_map(|l| {
            let (s, n) = l.split_once(" Q ")?.1.trim().split_once('+')?;
            Some((s.parse().ok()?, n.parse().ok()?))
        })
        .collect();
    let model: Vec<(u64, u64)> = events_of(&log, "block_bio_queue").iter().map(|l| sector_fields(l)).collect();
    assert_eq!(sectors, model, "btt's per-I/O sectors against the model's queued bios");
}

#[test]
fn import_then_run_is_run_trace() {
    for (trace, extra) in [
        ("strace:traces/replay/tar.strace", vec!["--under", MNT]),
        ("iolog:traces/replay/fio_randread.iolog", vec!["--buffered"]),
        ("blktrace:traces/replay/blktrace/seq_read_64k.blktrace.0", vec!["--through", "cache"]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (fmt, path) = trace.split_once(':').unwrap();
        let sc = tmp.path().join("sc.ron");
        let (a, b) = (tmp.path().join("a.log"), tmp.path().join("b.log"));
        let imp = pcsim()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["import", fmt, path, "-o", sc.to_str().unwrap(), "--quiet"])
            .args(&extra)
            .output()
            .unwrap();
        assert!(imp.status.success(), "{trace}: {}", String::from_utf8_lossy(&imp.stderr));
        let mut run = pcsim();
        run.args(["run", sc.to_str().unwrap(), "--events", a.to_str().unwrap()]);
        if fmt == "blktrace" {
            // run --trace lays a block trace's device file out from sector 0: import writes that map beside.
            run.args(["--extents", tmp.path().join("sc.extents.txt").to_str().unwrap()]);
        }
        let out = run.output().unwrap();
        assert!(out.status.success(), "{trace}: {}", String::from_utf8_lossy(&out.stderr));
        let out = pcsim()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "--trace", trace, "--events", b.to_str().unwrap(), "--quiet"])
            .args(&extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{trace}: {}", String::from_utf8_lossy(&out.stderr));
        let body = |p: &Path| std::fs::read_to_string(p).unwrap().lines().skip(2).collect::<Vec<_>>().join("\n");
        let (la, lb) = (body(&a), body(&b));
        assert!(la.lines().count() > 100, "{trace}: {} events", la.lines().count());
        assert!(la == lb, "{trace}: the imported scenario's run differs from the streamed replay");
    }
}

#[test]
fn a_replay_is_deterministic() {
    // Same trace, options and seed: byte-identical event log, JSON summary and printed summary (with spill files:
    // tests/replay_props.rs).
    let tmp = tempfile::tempdir().unwrap();
    let run = |k: u32| {
        let (log, json) = (tmp.path().join(format!("e{k}.log")), tmp.path().join(format!("s{k}.json")));
        let out = pcsim()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "--trace", "strace:traces/replay/sqlite3.strace", "--under", MNT, "--quiet"])
            .args(["--events", log.to_str().unwrap(), "--json", json.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (std::fs::read(log).unwrap(), std::fs::read(json).unwrap(), out.stdout)
    };
    let (a, b) = (run(1), run(2));
    assert!(a.0.len() > 10_000);
    assert!(a == b, "two replays of one trace differ");
}
