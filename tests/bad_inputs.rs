//! Hostile and malformed inputs (tests/bad_inputs/CASE/: `args`, one per line, and the input files under `in/`;
//! a few inputs that cannot live in git, such as NUL bytes, a 65 MiB file or a gzip bomb, are made here): each
//! command exits with code 2 and a located message (all pinned in one snapshot), writes no file, and changes none
//! of its inputs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs")
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Every path under `dir` with the sha256 of its content (directories marked as such).
fn tree(dir: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = rel.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            out.insert(p.clone(), "dir".into());
            tree(&e.path(), &p, out);
        } else {
            let mut h = Sha256::new();
            std::io::copy(&mut std::fs::File::open(e.path()).unwrap(), &mut h).unwrap();
            out.insert(p, format!("{:x}", h.finalize()));
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The inputs made here rather than kept in git.
fn prepare(case: &str, dir: &Path) {
    let base = std::fs::read_to_string(cases_dir().join("base.ron")).unwrap();
    let magic = "# pcsim event log v1\n";
    match case {
        "scenario_is_a_directory" => std::fs::create_dir(dir.join("sdir")).unwrap(),
        "scenario_nul_byte" => std::fs::write(dir.join("s.ron"), base.replacen("machine", "machi\0ne", 1)).unwrap(),
        "scenario_not_utf8" => {
            let mut b = base.into_bytes();
            b.splice(20..20, [0xff, 0xfe]);
            std::fs::write(dir.join("s.ron"), b).unwrap();
        }
        // Sparse: no 65 MiB written, but that is its size.
        "scenario_over_64m" => std::fs::File::create(dir.join("s.ron")).unwrap().set_len(65 << 20).unwrap(),
        "scenario_nested_too_deep" => {
            let mut ops = "Read(fd: \"data\", len: \"4k\")".to_string();
            for _ in 0..60 {
                ops = format!("Repeat(count: 1, ops: [{ops}])");
            }
            std::fs::write(dir.join("s.ron"), base.replace("Read(fd: \"data\", len: \"64k\")", &ops)).unwrap();
        }
        "compare_both_logs" => std::fs::write(dir.join("b/events.log.gz"), gzip(magic.as_bytes())).unwrap(),
        "compare_events_log_is_a_directory" => std::fs::create_dir_all(dir.join("b/events.log")).unwrap(),
        "compare_line_bomb_gz" => {
            // 64 MiB of one line, compressed to ~64 KiB (the bomb was 4 GiB; the limit is what matters).
            std::fs::create_dir_all(dir.join("b")).unwrap();
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(magic.as_bytes()).unwrap();
            let chunk = vec![b'a'; 1 << 20];
            for _ in 0..64 {
                e.write_all(&chunk).unwrap();
            }
            std::fs::write(dir.join("b/events.log.gz"), e.finish().unwrap()).unwrap();
        }
        _ => {}
    }
}

#[test]
fn every_bad_input_gets_a_located_error_exit_2_and_no_output() {
    let mut names: Vec<String> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 40, "{} cases", names.len());
    let mut report = String::new();
    for case in &names {
        let src = cases_dir().join(case);
        let args: Vec<String> = std::fs::read_to_string(src.join("args")).unwrap().lines().map(String::from).collect();
        let tmp = tempfile::tempdir().unwrap();
        if src.join("in").is_dir() {
            copy_tree(&src.join("in"), tmp.path());
        }
        prepare(case, tmp.path());
        let mut before = BTreeMap::new();
        tree(tmp.path(), Path::new(""), &mut before);
        let stdout = if case == "run_stdout_full" {
            Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap())
        } else {
            Stdio::piped()
        };
        let out = Command::new(env!("CARGO_BIN_EXE_pcsim"))
            .args(&args)
            .current_dir(tmp.path())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).replace(&tmp.path().display().to_string(), "TMP");
        assert_eq!(out.status.code(), Some(2), "{case}: {err}");
        assert!(!err.contains("panicked"), "{case}: {err}");
        let mut after = BTreeMap::new();
        tree(tmp.path(), Path::new(""), &mut after);
        assert_eq!(before, after, "{case}: files were written or changed\n{err}");
        // clap's usage lines are long; the first line of its message is what matters.
        let msg = if err.starts_with("error:") { err.lines().next().unwrap_or("").to_string() } else { err };
        report.push_str(&format!("## {case}: pcsim {}\n{}\n", args.join(" "), msg.trim_end()));
    }
    insta::assert_snapshot!("bad_inputs", report);
}
