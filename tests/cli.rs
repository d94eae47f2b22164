//! The `pcsim` binary as a user meets it: exit codes, error messages with locations, no partial output.

use std::process::Command;

fn pcsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pcsim"))
}

fn repo(p: &str) -> String {
    format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_describes_the_quickstart() {
    let out = pcsim().args(["check", &repo("scenarios/quickstart.ron")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("file data: 67108864 bytes on disk0"), "{s}");
    // open + 16384 reads + close
    assert!(s.contains("task reader: starts at 0s, 16386 ops, 67108864 bytes"), "{s}");
}

#[test]
fn malformed_scenario_is_refused_with_location_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        // (scenario text, expected start of the message after "pcsim: error: <path>:")
        ("Scenario(name: \"x\",, )", "1:"),
        ("Scenario(\n  name: \"x\",\n  machine: (memory: \"2g\", colour: 3),\n)", "3:"),
        ("Scenario(\n  name: \"x\",\n  machine: (memory: \"2g\"),\n  files: [(name: \"f\", size: \"-4k\")],\n)", "4:"),
    ];
    for (i, (text, at)) in cases.iter().enumerate() {
        let sc = tmp.path().join(format!("bad{i}.ron"));
        std::fs::write(&sc, text).unwrap();
        let out_dir = tmp.path().join(format!("out{i}"));
        let out = pcsim().args(["probe", sc.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {err}");
        let prefix = format!("pcsim: error: {}:{at}", sc.display());
        assert!(err.starts_with(&prefix), "case {i}: expected `{prefix}...`, got {err}");
        assert!(err.contains("hint:") || i == 0, "case {i}: no hint: {err}");
        assert!(!out_dir.exists(), "case {i}: output directory created for a refused scenario");
        let check = pcsim().args(["check", sc.to_str().unwrap()]).output().unwrap();
        assert_eq!(check.status.code(), Some(2));
    }
}

#[test]
fn missing_scenario_file_is_named() {
    let out = pcsim().args(["check", "/nonexistent/s.ron"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/s.ron"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = pcsim().args(["probe"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn probe_without_root_says_so() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].into_iter().find(|p| std::path::Path::new(p).exists());
    let mut cmd = match (root, setpriv) {
        (false, _) => pcsim(),
        (true, Some(sp)) => {
            let mut c = Command::new(sp);
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_pcsim")]);
            c
        }
        (true, None) => {
            eprintln!("skipped: running as root and setpriv is missing, so a non-root run cannot be made");
            return;
        }
    };
    let out_dir = std::env::temp_dir().join(format!("pcsim-noroot-{}", std::process::id()));
    let out =
        cmd.args(["probe", &repo("scenarios/quickstart.ron"), "--out", out_dir.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("Permission denied") && err.contains("quickstart.ron") {
        eprintln!("skipped: the unprivileged user cannot read the checkout: {err}");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs root"), "{err}");
    assert!(!out_dir.exists());
}

#[test]
fn xfs_device_below_mkfs_minimum_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("x.ron");
    std::fs::write(
        &sc,
        "Scenario(\n  name: \"x\",\n  machine: (memory: \"2g\"),\n  devices: [(name: \"d\", fs: xfs, size: \"64m\")],\n  files: [],\n  tasks: [],\n)",
    )
    .unwrap();
    let out = pcsim().args(["check", sc.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(":4:") && err.contains("xfs needs at least 320m"), "{err}");
}

#[test]
fn validate_against_captured_fixtures_without_root() {
    let tmp = tempfile::tempdir().unwrap();
    let out = pcsim()
        .args(["validate", &repo("scenarios/validation/interleaved_two_fds.ron")])
        .args([
            "--probe-dir",
            &repo("traces/kernel/interleaved_two_fds"),
            "--out",
            tmp.path().join("v1").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{s}{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.contains("minimum over 3 runs"), "{s}");
    // A threshold above what the model reaches on block events fails with exit 1.
    let out = pcsim()
        .args(["validate", &repo("scenarios/validation/fadvise_willneed.ron")])
        .args([
            "--probe-dir",
            &repo("traces/kernel/fadvise_willneed"),
            "--out",
            tmp.path().join("v2").to_str().unwrap(),
        ])
        .args(["--min-block", "100"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn validate_pressure_scenarios_with_the_issue_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = pcsim()
        .args(["validate", &repo("scenarios/pressure/seq_loop_scan.ron")])
        .args(["--probe-dir", &repo("traces/pressure/seq_loop_scan"), "--out", tmp.path().join("v3").to_str().unwrap()])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{s}{}", String::from_utf8_lossy(&out.stderr));
    // A memory-cgroup scenario is judged on the median run, with residency and the pressure counters.
    assert!(s.contains("median over 3 runs"), "{s}");
    for c in ["workingset_refault_file", "workingset_activate_file", "workingset_nodereclaim", "read_kib"] {
        assert!(s.lines().any(|l| l.starts_with(&format!("counter {c}")) && l.ends_with(" ok")), "{c}: {s}");
    }
    assert!(s.contains("threshold residency (jaccard) >= 0.9500"), "{s}");
    assert!(s.contains("eviction order"), "{s}");
    // The same scan in a 100 MiB cgroup keeps fewer than 256 shadow nodes, so the shrinker never runs and every
    // re-read refaults: against the 64 MiB captures the counters (and residency) fail with exit 1.
    let text = std::fs::read_to_string(repo("scenarios/pressure/seq_loop_scan.ron")).unwrap();
    let sc = tmp.path().join("seq_loop_scan_100m.ron");
    std::fs::write(&sc, text.replace("memcg_limit: \"64m\"", "memcg_limit: \"100m\"")).unwrap();
    // The captures' manifests name the scenario's sha256: an edited scenario is refused unless the user says so.
    let out = pcsim()
        .args(["validate", sc.to_str().unwrap()])
        .args(["--probe-dir", &repo("traces/pressure/seq_loop_scan")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("captured from another version of") && err.contains("--allow-changed-scenario"), "{err}");
    let out = pcsim()
        .args(["validate", sc.to_str().unwrap(), "--allow-changed-scenario"])
        .args(["--probe-dir", &repo("traces/pressure/seq_loop_scan"), "--out", tmp.path().join("v4").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("workingset_refault_file model 65536 outside"), "{err}");
}

#[test]
fn seed_override_changes_random_streams_and_is_echoed() {
    let run = |seed: &str| {
        let out = pcsim()
            .args(["run", &repo("scenarios/validation/random_read.ron"), "--seed", seed, "--events", "-"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let (a, b, a2) = (run("1"), run("999"), run("1"));
    assert_eq!(a, a2, "same seed, same bytes");
    assert!(b.contains("seed=999"));
    let body = |s: &str| s.lines().skip(2).collect::<Vec<_>>().join("\n");
    assert_ne!(body(&a), body(&b), "another seed must draw other offsets");
}

#[test]
fn hostile_ops_are_errors_not_panics() {
    // Offsets and lengths at the edge of u64, huge sleeps, huge mappings: the run finishes, the ops fail.
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("h.ron");
    std::fs::write(
        &sc,
        r#"Scenario(name: "h", machine: (memory: "1g"), devices: [(name: "d")], files: [(name: "f", size: "1m")],
  tasks: [(name: "t", ops: [
    Open(file: "f"),
    Pread(fd: "f", off: "4k", len: "0xffffffffffffffff"),
    Readv(fd: "f", lens: ["0xffffffffffffffff", "0xffffffffffffffff"]),
    Lseek(fd: "f", off: 9223372036854775807, whence: End),
    Fadvise(fd: "f", off: "0xffffffffffffff00", len: "4k", advice: WillNeed),
    Mmap(fd: "f", map: "m", len: "1p"),
    Touch(map: "m", off: "512g"),
    Sleep("200d"), Sleep("200d"),
  ])])"#,
    )
    .unwrap();
    let out = pcsim().args(["run", sc.to_str().unwrap(), "--json", "-"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tasks"][0]["failed_ops"], 5, "{v}");
}

#[test]
fn every_write_scenario_validates_against_its_captures() {
    // Issue 5's figures (steady dirty pages, writer throughput, pause count and p50/p90, expiry pass, request size
    // median) inside the kernel runs' bounds for every scenario of scenarios/write at its bundled seed.
    let mut names: Vec<String> = std::fs::read_dir(repo("scenarios/write"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".ron").map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names.len(), 13);
    // Without --out, validate keeps its directory in $TMPDIR: leave nothing behind.
    let tmp = tempfile::tempdir().unwrap();
    for name in &names {
        let out = pcsim()
            .args(["validate", &repo(&format!("scenarios/write/{name}.ron"))])
            .args(["--probe-dir", &repo(&format!("traces/write/{name}"))])
            .args(["--out", tmp.path().join(name).to_str().unwrap()])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout);
        let figures: Vec<&str> = s.lines().filter(|l| l.starts_with("write ")).collect();
        assert!(figures.len() >= 2, "{name}: {s}");
        assert!(figures.iter().all(|l| l.ends_with(" ok")), "{name}: {}", figures.join("\n"));
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
