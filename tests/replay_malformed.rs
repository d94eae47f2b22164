//! Malformed traces of all four formats through `pcsim run --trace` as a user meets them: each gives either an
//! error naming the file and the line or byte offset (exit 2), or a replay that counts what it skipped and why
//! (exit 0); a trace of which nothing can be replayed exits 2; nothing panics. (The importers' own unit tests and
//! property tests in src/replay/tests/ cover each case's details; this is the command's contract.)

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a case must give.
enum Expect {
    /// Exit 2, and stderr names the file and contains this (a location such as `line 3` or `byte 48`).
    Error(&'static str),
    /// Exit 0, and the summary's `skipped:` line counts this reason.
    Skip(&'static str),
    /// Exit 2: nothing could be replayed (the reasons are listed).
    Nothing(&'static str),
    /// Exit 0 with the records before the cut replayed, and a warning naming the file and this offset.
    Truncated(&'static str),
}

/// One 48-byte blktrace record (little-endian) and its PDU.
fn bt(magic: u32, seq: u32, time: u64, sector: u64, bytes: u32, action: u32, pdu: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&magic.to_le_bytes());
    r.extend_from_slice(&seq.to_le_bytes());
    r.extend_from_slice(&time.to_le_bytes());
    r.extend_from_slice(&sector.to_le_bytes());
    r.extend_from_slice(&bytes.to_le_bytes());
    r.extend_from_slice(&action.to_le_bytes());
    r.extend_from_slice(&42u32.to_le_bytes()); // pid
    r.extend_from_slice(&(8u32 << 20).to_le_bytes()); // 8,0
    r.extend_from_slice(&0u32.to_le_bytes()); // cpu
    r.extend_from_slice(&0u16.to_le_bytes());
    r.extend_from_slice(&(pdu.len() as u16).to_le_bytes());
    r.extend_from_slice(pdu);
    r
}

const V7: u32 = 0x6561_7407;
/// A read queued (Q, READ|QUEUE).
const QR: u32 = 0x0011_0001;
/// A read completed (C, READ|COMPLETE|FS).
const CR: u32 = 0x0181_0008;

fn good_q(seq: u32, sector: u64) -> Vec<u8> {
    bt(V7, seq, seq as u64 * 1000, sector, 4096, QR, &[])
}

const STRACE_OK: &str = "100 10:00:00.000000 openat(AT_FDCWD, \"/d/f\", O_RDONLY) = 3 <0.000010>\n\
                         100 10:00:00.000100 pread64(3, \"\"..., 4096, 0) = 4096 <0.000010>\n";
const IOLOG_OK: &str = "fio version 2 iolog\n/d/f add\n/d/f open\n/d/f read 0 4096\n";
const BLKPARSE_OK: &str = "  8,0    1        1     0.000000000   697  Q   R 2048 + 8 [cat]\n";

fn cases() -> Vec<(&'static str, &'static str, Vec<u8>, Expect)> {
    let mut v: Vec<(&str, &str, Vec<u8>, Expect)> = Vec::new();
    // blktrace binary
    v.push(("bt_empty", "blktrace", vec![], Expect::Error("byte 0")));
    v.push(("bt_wrong_magic", "blktrace", bt(0x1234_5678, 1, 0, 0, 4096, QR, &[]), Expect::Error("byte 0")));
    v.push(("bt_version_8", "blktrace", bt(0x6561_7408, 1, 0, 0, 4096, QR, &[]), Expect::Error("version 8")));
    let mut mid = good_q(1, 8);
    mid.extend(bt(0xdead_beef, 2, 2000, 16, 4096, QR, &[]));
    v.push(("bt_bad_magic_mid", "blktrace", mid, Expect::Error("byte 48")));
    let mut pdu_past_end = good_q(1, 8);
    let mut cut = bt(V7, 2, 2000, 16, 4096, QR, &[0; 8]);
    cut[46] = 200; // pdu_len 200, 8 bytes present
    pdu_past_end.extend(cut);
    // A truncated tail: the records before it are replayed, with a warning naming the offset.
    v.push(("bt_truncated_pdu", "blktrace", pdu_past_end, Expect::Truncated("byte 48")));
    let mut half = good_q(1, 8);
    half.extend_from_slice(&good_q(2, 16)[..30]);
    v.push(("bt_truncated_header", "blktrace", half, Expect::Truncated("byte 48")));
    let mut huge = good_q(1, 8);
    huge.extend(bt(V7, 2, 2000, u64::MAX / 256, 4096, QR, &[]));
    v.push(("bt_huge_sector", "blktrace", huge, Expect::Skip("offset_out_of_range 1")));
    let only_c: Vec<u8> = (1..4).flat_map(|i| bt(V7, i, i as u64, 8, 4096, CR, &[])).collect();
    v.push(("bt_no_queue", "blktrace", only_c, Expect::Nothing("not_queue_event 3")));
    let mut unknown = good_q(1, 8);
    unknown.extend(bt(V7, 2, 2000, 16, 4096, 0x0011_0063, &[]));
    v.push(("bt_unknown_action", "blktrace", unknown, Expect::Skip("unknown_action 1")));
    // blkparse text
    v.push(("bp_empty", "blkparse", vec![], Expect::Error("line")));
    v.push(("bp_custom_format", "blkparse", b"8,0 Q 2048 8 cat\n".to_vec(), Expect::Error("line 1")));
    let garbage = format!("{BLKPARSE_OK}this is not blkparse\n{BLKPARSE_OK}");
    v.push(("bp_garbage", "blkparse", garbage.into_bytes(), Expect::Skip("malformed_line 1")));
    let bad_rwbs = format!("{BLKPARSE_OK}  8,0    1        2     0.000001000   697  Q  XZ 2048 + 8 [cat]\n");
    v.push(("bp_bad_rwbs", "blkparse", bad_rwbs.into_bytes(), Expect::Skip("bad_rwbs 1")));
    let huge = format!("{BLKPARSE_OK}  8,0    1        2     0.000001000   697  Q   R 36028797018963967 + 8 [cat]\n");
    v.push(("bp_huge_sector", "blkparse", huge.into_bytes(), Expect::Skip("offset_out_of_range 1")));
    // fio iolog
    v.push(("io_no_header", "iolog", b"/d/f add\n/d/f read 0 4096\n".to_vec(), Expect::Error("line 1")));
    v.push(("io_version_1", "iolog", b"0, 4096, 512\n".to_vec(), Expect::Error("line 1")));
    let garbage = format!("{IOLOG_OK}/d/f read zero 4096\n");
    v.push(("io_garbage", "iolog", garbage.into_bytes(), Expect::Skip("malformed_line 1")));
    let negative = format!("{IOLOG_OK}/d/f read -4096 4096\n");
    v.push(("io_negative_offset", "iolog", negative.into_bytes(), Expect::Skip("malformed_line 1")));
    let unknown = format!("{IOLOG_OK}/d/f frobnicate 0 4096\n");
    v.push(("io_unknown_action", "iolog", unknown.into_bytes(), Expect::Skip("unknown_action 1")));
    let huge = format!("{IOLOG_OK}/d/f read 18446744073709547520 4096\n");
    v.push(("io_huge_offset", "iolog", huge.into_bytes(), Expect::Skip("offset_out_of_range 1")));
    v.push((
        "io_only_trims",
        "iolog",
        b"fio version 2 iolog\n/d/f add\n/d/f trim 0 4096\n".to_vec(),
        Expect::Nothing("trim 1"),
    ));
    // strace
    v.push(("st_not_strace", "strace", b"hello world\nthis is a log file\n".to_vec(), Expect::Error("line 1")));
    let resumed = format!("{STRACE_OK}100 10:00:00.000200 <... read resumed>\"x\", 1) = 1 <0.000010>\n");
    v.push(("st_unmatched_resumed", "strace", resumed.into_bytes(), Expect::Skip("unmatched_resumed 1")));
    let unknown_fd = format!("{STRACE_OK}100 10:00:00.000200 read(9, \"\"..., 4096) = 4096 <0.000010>\n");
    v.push(("st_unknown_fd", "strace", unknown_fd.into_bytes(), Expect::Skip("unknown_fd 1")));
    let huge =
        format!("{STRACE_OK}100 10:00:00.000200 pread64(3, \"\"..., 4096, 9223372036854775000) = 4096 <0.000010>\n");
    v.push(("st_huge_offset", "strace", huge.into_bytes(), Expect::Skip("offset_out_of_range 1")));
    let garbage = format!("{STRACE_OK}100 10:00:00.000300 pread64(3, \n");
    v.push(("st_garbage", "strace", garbage.into_bytes(), Expect::Skip("malformed")));
    let failed = "100 10:00:00.000000 openat(AT_FDCWD, \"/d/f\", O_RDONLY) = -1 ENOENT (No such file) <0.000010>\n";
    v.push(("st_only_failed", "strace", failed.as_bytes().to_vec(), Expect::Nothing("failed_call 1")));
    let mut long = STRACE_OK.as_bytes().to_vec();
    long.extend(std::iter::repeat_n(b'x', 2 << 20));
    long.push(b'\n');
    v.push(("st_line_too_long", "strace", long, Expect::Skip("line_too_long 1")));
    let mut binary = STRACE_OK.as_bytes().to_vec();
    binary.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    v.push(("st_binary_tail", "strace", binary, Expect::Skip("malformed")));
    v
}

fn run(fmt: &str, path: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pcsim"))
        .args(["run", "--trace", &format!("{fmt}:{}", path.display()), "--quiet"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn malformed_traces_give_a_located_error_or_a_counted_skip() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    assert!(cases.len() >= 20);
    for (name, fmt, bytes, expect) in cases {
        let path: PathBuf = tmp.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let json = tmp.path().join(format!("{name}.json"));
        let mut extra = vec!["--json", json.to_str().unwrap()];
        if fmt == "iolog" {
            extra.push("--buffered");
        }
        let out = run(fmt, &path, &extra);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        match expect {
            Expect::Error(at) => {
                assert_eq!(out.status.code(), Some(2), "{name}: {stdout}{stderr}");
                assert!(stderr.contains(&path.display().to_string()), "{name}: no file in {stderr}");
                assert!(stderr.contains(at), "{name}: no `{at}` in {stderr}");
                assert!(stderr.contains("hint:"), "{name}: no hint in {stderr}");
            }
            Expect::Skip(reason) => {
                assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
                let skipped = stdout.lines().find(|l| l.trim_start().starts_with("skipped:")).unwrap_or("");
                assert!(skipped.contains(reason), "{name}: `{reason}` not in `{skipped}`");
                // The JSON summary counts the same skips.
                let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
                let printed: Vec<(String, u64)> = skipped
                    .trim_start()
                    .trim_start_matches("skipped:")
                    .split(", ")
                    .filter_map(|kv| kv.trim().split_once(' ').map(|(k, n)| (k.to_string(), n.parse().unwrap())))
                    .collect();
                let in_json: Vec<(String, u64)> = v["replay"]["skipped"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
                    .collect();
                assert!(!printed.is_empty() && printed == in_json, "{name}: JSON {in_json:?}, printed `{skipped}`");
            }
            Expect::Truncated(at) => {
                assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
                let warning = format!("warning: {}: {at}", path.display());
                assert!(stderr.contains(&warning), "{name}: no `{warning}` in {stderr}");
                assert!(stdout.contains("replay of blktrace:"), "{name}: {stdout}");
            }
            Expect::Nothing(reason) => {
                assert_eq!(out.status.code(), Some(2), "{name}: {stdout}{stderr}");
                assert!(stderr.contains("nothing to replay"), "{name}: {stderr}");
                assert!(stderr.contains(reason), "{name}: `{reason}` not in {stderr}");
            }
        }
    }
}

#[test]
fn a_truncated_blktrace_is_replayed_up_to_the_cut_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes: Vec<u8> = (1..=3).flat_map(|i| good_q(i, 8 * i as u64)).collect();
    bytes.extend_from_slice(&good_q(4, 64)[..30]);
    let path = tmp.path().join("cut.blktrace");
    std::fs::write(&path, &bytes).unwrap();
    let out = run("blktrace", &path, &[]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("{}: byte 144", path.display())), "{stderr}");
    // The device's open and the three reads.
    assert!(stdout.contains("4 calls replayed"), "{stdout}");
}

#[test]
fn stdin_is_read_and_its_spool_removed() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pcsim"))
        .args(["run", "--trace", "blkparse:-", "--quiet", "--through", "cache"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let spool = std::env::temp_dir().join(format!("pcsim-trace-stdin-{}", child.id()));
    child.stdin.take().unwrap().write_all(BLKPARSE_OK.repeat(3).as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("replay of blkparse:-"));
    assert!(!spool.exists(), "{} left behind", spool.display());
}
