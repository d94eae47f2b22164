//! Every plot kind of `pcsim plot` (issue 14, docs/SWEEP.md "Plots") drawn from a small sweep: each file is there,
//! with the series, title (scenario and setting, never a temporary path) and axes it should have; the kernel's
//! runs as points; `--png` writes PNG files beside the SVG; `sweep --plot` draws the same files as `pcsim plot`.

use std::path::Path;
use std::process::Command;

fn ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pcsim")).args(args).output().unwrap();
    assert!(out.status.success(), "pcsim {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A writer throttled by a slow device beside a reader that reads a file twice: dirty pages, pauses, rates,
/// write requests, readahead, residency and latencies all have something to show.
const SCENARIO: &str = r#"Scenario(
    name: "plotted",
    machine: (memory: "1g", cpus: 2),
    devices: [(name: "disk0", size: "1g", write_bw: "40m")],
    sysctls: {"vm.dirty_bytes": 8388608, "vm.dirty_background_bytes": 4194304},
    files: [(name: "out", size: 0), (name: "data", size: "16m")],
    tasks: [
        (
            name: "writer",
            ops: [
                Open(file: "out", flags: [WRONLY]),
                Generate(fd: "out", syscall: Read, read_pct: 0, block: "128k", range: (off: 0, len: "48m")),
                Close(fd: "out"),
            ],
        ),
        (
            name: "reader",
            ops: [
                Open(file: "data"),
                Generate(fd: "data", syscall: Read, block: "128k", count: 256, think: "2ms"),
                Close(fd: "data"),
            ],
        ),
    ],
)
"#;

fn text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Asserts the SVG at `p` contains each of `want` (as text the SVG shows).
fn has(p: &Path, want: &[&str]) {
    let t = text(p);
    for w in want {
        assert!(t.contains(w), "{} lacks `{w}`", p.display());
    }
    assert!(!t.contains("/tmp"), "{} names a temporary path", p.display());
}

#[test]
fn every_plot_kind_is_drawn_with_its_series_titles_and_axes() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("plotted.ron");
    std::fs::write(&sc, SCENARIO).unwrap();
    let sweep = tmp.path().join("sweep");
    let sc_s = sc.to_str().unwrap();
    let sweep_s = sweep.to_str().unwrap();
    ok(&[
        "sweep",
        sc_s,
        "--set",
        "machine.memory=512m,1g",
        "--seeds",
        "1..2",
        "--jobs",
        "2",
        "--plot",
        "--out",
        sweep_s,
    ]);
    let plots = tmp.path().join("plots");
    let listed = ok(&["plot", sweep_s, "--out", plots.to_str().unwrap(), "--png"]);
    // Metric against the knob: one line, the seeds' band, the scenario and the knob in the title.
    let m = plots.join("metric-write_mib_s.svg");
    has(&m, &["plotted: write throughput", "against machine.memory", "(seeds 1..2)", "machine.memory (MiB)", "MiB/s"]);
    assert!(text(&m).contains("<polygon"), "no band for the seeds' spread in {}", m.display());
    has(&plots.join("metric-pauses.svg"), &["balance_dirty_pages pauses (pauses)"]);
    has(&plots.join("metric-writer.mib_s.svg"), &["task writer: throughput"]);
    // The miss-ratio curve from the memory axis.
    has(&plots.join("mrc-miss_ratio.svg"), &["plotted: miss-ratio curve against machine.memory", "miss ratio"]);
    has(&plots.join("mrc-device_reads.svg"), &["device reads against machine.memory", "(MiB)"]);
    // Per run: titles name the scenario and the setting.
    let run = plots.join("runs/c0000");
    let title = "plotted [machine.memory=512m, seed 1]";
    has(
        &run.join("dirty.svg"),
        &[
            title,
            "dirty and writeback pages",
            "background threshold",
            "freerun",
            "setpoint",
            "limit",
            "time (s)",
            "pages (4 KiB)",
        ],
    );
    has(&run.join("pauses.svg"), &[title, "balance_dirty_pages pauses", "pause (ms)"]);
    has(&run.join("pause_hist.svg"), &["pause distribution", "pauses (count)"]);
    has(
        &run.join("rates.svg"),
        &["writer: dirty rate", "writer: task_ratelimit", "disk0: avg_write_bw", "rate (MiB/s)"],
    );
    has(&run.join("readahead.svg"), &["readahead window size", "file data", "window (pages)"]);
    has(&run.join("residency-data.svg"), &[title, "residency of data", "offset in file data (MiB)", "time (s)"]);
    has(&run.join("latency_cdf.svg"), &["op latency", "writer", "reader"]);
    has(&run.join("write_rq.svg"), &["data write request sizes", "request size (KiB)", "requests (count)"]);
    // Integer axes print integers: the pause histogram's count ticks have no decimals.
    assert!(!text(&run.join("pause_hist.svg")).contains(".0<"), "decimals on a count axis");
    // --png: a PNG beside each SVG; the listing names every file.
    for f in ["metric-write_mib_s", "mrc-miss_ratio", "runs/c0000/dirty", "runs/c0000/residency-data"] {
        let png = std::fs::read(plots.join(format!("{f}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{f}.png is not a PNG");
        assert!(listed.contains(&format!("{f}.png")), "{listed}");
    }
    // The kernel's runs (`--probe`) as points beside the model's line: a copy of the sweep whose rows carry kernel
    // statistics (the model's own, so the points sit on the line).
    let probed = tmp.path().join("probed");
    std::fs::create_dir_all(&probed).unwrap();
    let mut res: serde_json::Value = serde_json::from_str(&text(&sweep.join("results.json"))).unwrap();
    for row in res["rows"].as_array_mut().unwrap() {
        row["kernel"] = row["model"].clone();
    }
    std::fs::write(probed.join("results.json"), res.to_string()).unwrap();
    let probed_plots = tmp.path().join("probed_plots");
    ok(&["plot", probed.to_str().unwrap(), "--out", probed_plots.to_str().unwrap()]);
    has(&probed_plots.join("metric-write_mib_s.svg"), &["model", "kernel (median, min..max of runs)"]);
    // sweep --plot drew the same SVG files (byte for byte) into DIR/plots.
    for f in ["metric-write_mib_s.svg", "mrc-miss_ratio.svg", "runs/c0001/dirty.svg", "runs/c0001/residency-data.svg"] {
        assert_eq!(std::fs::read(sweep.join("plots").join(f)).unwrap(), std::fs::read(plots.join(f)).unwrap(), "{f}");
    }
}

#[test]
fn a_readme_plot_is_current() {
    // README.md shows plots/whatif/usb_stick_fsync-fsync_latency.svg, made by plots/whatif/regenerate.sh with this
    // sweep: the same sweep drawn now gives the same bytes (the font is embedded, the runs are deterministic).
    // After a change to the model or the plots that moves it, rerun plots/whatif/regenerate.sh.
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tmp.path().join("usb");
    let sc = repo.join("scenarios/whatif/usb_stick_fsync.ron");
    let sc_s = sc.to_str().unwrap();
    ok(&[
        "sweep",
        sc_s,
        "--set",
        "sysctls.\"vm.dirty_bytes\"=8m..256m:x2",
        "--jobs",
        "2",
        "--plot",
        "--out",
        out.to_str().unwrap(),
    ]);
    let now = std::fs::read(out.join("plots/metric-sync_max_us.svg")).unwrap();
    let committed = std::fs::read(repo.join("plots/whatif/usb_stick_fsync-fsync_latency.svg")).unwrap();
    assert!(
        now == committed,
        "plots/whatif/usb_stick_fsync-fsync_latency.svg is stale: run plots/whatif/regenerate.sh"
    );
}
