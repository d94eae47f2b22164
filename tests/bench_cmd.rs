//! `pcsim bench` (issue 16) with tiny sizes, so the command and its cases cannot rot: every case runs and fills its
//! columns, `--json` holds every case, `--vs-kernel` runs on this host without root and leaves nothing behind, and
//! bad options are refused with exit 2. No timing is asserted (the figures are measured by hand:
//! docs/PERFORMANCE.md "Scale (issue 16)").

use std::process::{Command, Output};

use pcsim::bench::cases::{Kind, CASES};

fn pcsim(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pcsim")).args(args).current_dir(dir).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_case_runs_at_tiny_scale_with_every_column_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = pcsim(&["bench", "--scale", "tiny", "--json", "bench.json"], dir.path());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.iter().find(|l| l.starts_with("case ")).expect("a header line");
    for col in [
        "case",
        "ops",
        "wall s",
        "ops/s",
        "sim s/wall s",
        "peak RSS MiB",
        "RSS B/page",
        "heap B/page",
        "B/folio",
        "B/shadow",
    ] {
        assert!(header.contains(col), "column {col} missing: {header}");
    }
    for c in CASES {
        let row = lines.iter().find(|l| l.split_whitespace().next() == Some(c.name));
        let row = row.unwrap_or_else(|| panic!("no row for {}:\n{stdout}", c.name));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), 10, "{row}");
        // ops, wall, ops/s and peak RSS are always figures; the memory columns a case measures are figures too.
        assert!(cells[1].parse::<u64>().unwrap() > 0, "{row}");
        assert!(cells[5].parse::<f64>().unwrap() > 0.0, "{row}");
        match c.kind {
            Kind::Run { order0, .. } => {
                assert!(cells[4].parse::<f64>().unwrap() > 0.0, "sim s/wall s: {row}");
                assert!(cells[7].parse::<f64>().unwrap() > 0.0, "heap B/page: {row}");
                assert_eq!(cells[8] != "-", order0, "B/folio: {row}");
            }
            Kind::Folios { .. } => assert!(cells[8].parse::<f64>().unwrap() > 0.0, "B/folio: {row}"),
            Kind::Shadows => assert!(cells[9].parse::<f64>().unwrap() > 0.0, "B/shadow: {row}"),
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap()).unwrap();
    assert_eq!(json["scale"], "tiny");
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), CASES.len());
    for (c, j) in CASES.iter().zip(cases) {
        assert_eq!(j["case"], c.name);
        let run = &j["runs"][0];
        assert_eq!(run["case"], c.name);
        assert!(run["ops_per_s"].as_f64().unwrap() > 0.0 && run["peak_rss_kib"].as_u64().unwrap() > 0, "{run}");
    }
    // The small ones: o-0 folios cost a few dozen bytes, an order-9 folio 48 B or so, a shadow entry a few dozen.
    let figure =
        |name: &str, key: &str| cases.iter().find(|j| j["case"] == name).unwrap()["runs"][0][key].as_f64().unwrap();
    assert!((16.0..64.0).contains(&figure("mem-order0", "bytes_per_folio")));
    assert!((32.0..128.0).contains(&figure("mem-order9", "bytes_per_folio")));
    assert!((4.0..256.0).contains(&figure("mem-shadow", "bytes_per_shadow")));
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["bench.json"], "the command leaves only its output");
}

#[test]
fn repeat_and_case_select_and_repeat_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = pcsim(
        &[
            "bench",
            "run",
            "--scale",
            "tiny",
            "--case",
            "mem-order0",
            "--case",
            "hit-64m-rand",
            "--repeat",
            "3",
            "--json",
            "-",
        ],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("mem-") || l.starts_with("hit-")).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows[0].starts_with("mem-order0") && rows[0].contains('['), "the range of the runs: {}", rows[0]);
    let json_start = stdout.find("{\n").unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(json["repeat"], 3);
    assert_eq!(json["cases"][1]["runs"].as_array().unwrap().len(), 3);
}

#[test]
fn vs_kernel_runs_without_root_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = pcsim(
        &["bench", "--vs-kernel", "--file-size", "4m", "--ops", "5000", "--rounds", "2", "--json", "vs.json"],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("kernel ops/s") && stdout.contains("pcsim/kernel"), "{stdout}");
    let rounds: Vec<&str> = stdout.lines().filter(|l| l.trim_start().starts_with(['1', '2'])).collect();
    assert_eq!(rounds.len(), 2, "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("vs.json")).unwrap()).unwrap();
    let r = json["rounds"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    for round in r {
        assert_eq!(round["kernel_preads"], 5000, "{round}");
        assert_eq!(round["pcsim"]["ops"], 5002, "open, 5000 preads, close: {round}");
        assert!(round["ratio"].as_f64().unwrap() > 0.0);
    }
    let left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(left, ["vs.json"], "the benchmark's directory and file are removed");

    // --dir puts the file elsewhere; that directory is left as found.
    let other = tempfile::tempdir().unwrap();
    let out = pcsim(
        &[
            "bench",
            "--vs-kernel",
            "--file-size",
            "64k",
            "--ops",
            "100",
            "--rounds",
            "1",
            "--dir",
            other.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 0);
}

#[test]
fn bad_options_are_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["bench", "--case", "nope", "--scale", "tiny"], "--case nope: no such case; the cases are hit-64m-seq"),
        (&["bench", "--scale", "huge"], "invalid value 'huge'"),
        (&["bench", "--repeat", "0"], "--repeat"),
        (&["bench", "--dir", "."], "--vs-kernel"),
        (&["bench", "--vs-kernel", "--case", "rand-10g"], "cannot be used with"),
        (&["bench", "--vs-kernel", "--file-size", "5000"], "--file-size 5000: give a positive multiple of 4096"),
        (&["bench", "--vs-kernel", "--file-size", "ten"], "--file-size"),
        (
            &["bench", "--vs-kernel", "--file-size", "64t"],
            "pass --dir on a filesystem with more room, or a smaller --file-size",
        ),
        (&["bench", "--vs-kernel", "--dir", "no/such/dir", "--file-size", "64k"], "--dir no/such/dir: not a directory"),
        (&["bench", "--vs-kernel", "--rounds", "0"], "--rounds"),
    ];
    for (args, want) in cases {
        let out = pcsim(args, dir.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
