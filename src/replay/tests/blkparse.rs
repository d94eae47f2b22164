//! blkparse text importer: formats.md's sample, the per-action variants, custom formats and broken lines.

use super::{collect_ok, collect_until_err};
use crate::replay::blkparse::BlkparseImporter;
use crate::replay::{BlockOptions, ErrorKind, Importer, Location, Record, Through};
use crate::trace::op::{Access, Fd, FileId, Op, OpenFlags};

/// formats.md §1(b)'s lines, an `Input file` line, a flush, other actions, a message and the summary.
pub(crate) const SAMPLE: &str = "Input file sda.blktrace.0 added
  8,0    3        1     0.000000000   697  Q   R 223490 + 8 [kjournald]
  8,0    3        2     0.000012000   697  G   R 223490 + 8 [kjournald]
  8,0    3        3     0.000013000   697  P   N [kjournald]
  8,0    3        4     0.000020000   697  I   R 223490 + 8 [kjournald]
  8,0    3        5     0.000025000   697  U   N [kjournald] 1
  8,0    3        6     0.000210000     0  C   R 223490 + 8 [0]
  8,16   1        1     0.001000000  1203  Q  WS 2048 + 16 [fio worker 1]
  8,16   1        2     0.001500000  1203  Q FWFS 4096 + 8 [fio worker 1]
  8,16   1        3     0.002000000   530  Q FWS [jbd2/sdb1-8]
  8,16   1        4     0.002100000   530  A  WS 6144 + 8 <- (8,17) 4096
  8,16   1        5     0.002200000   530  X  WS 6144 / 6148 [jbd2/sdb1-8]
  8,16   1        0     0.002300000   530  m   N cfq530S / some message
  8,0    3        7     0.003000000   697  Q  RA 100 + 256 [kjournald]
CPU3 (8,0):
 Reads Queued:           2,      132KiB\t Writes Queued:           0,        0KiB
  8,0    3        8     0.004000000   697  Q  RA 900 + 8 [kjournald]
";

fn import(text: &str, through: Through) -> (Vec<Record>, BlkparseImporter<&[u8]>) {
    let mut imp = BlkparseImporter::new("t.txt", text.as_bytes(), BlockOptions { through, ..Default::default() });
    let recs = collect_ok(&mut imp);
    (recs, imp)
}

fn open(fd: u32, file: u32, direct: bool, dsync: bool) -> Op {
    Op::Open {
        fd: Fd(fd),
        file: FileId(file),
        flags: OpenFlags { access: Access::ReadWrite, direct, dsync, ..Default::default() },
    }
}

#[test]
fn sample_lines_become_exact_ops() {
    let (recs, imp) = import(SAMPLE, Through::Device);
    let got: Vec<(u64, u32, Op)> = recs.iter().map(|r| (r.time_ns, r.process, r.op.clone())).collect();
    assert_eq!(
        got,
        vec![
            (0, 0, open(0, 0, true, false)),
            (0, 0, Op::Pread { fd: Fd(0), off: 223490 * 512, len: 4096 }),
            (1_000_000, 1, open(2, 1, true, false)),
            (1_000_000, 1, Op::Pwrite { fd: Fd(2), off: 2048 * 512, len: 8192 }),
            (1_500_000, 1, Op::Fdatasync { fd: Fd(2) }),
            (1_500_000, 1, open(3, 1, true, true)),
            (1_500_000, 1, Op::Pwrite { fd: Fd(3), off: 4096 * 512, len: 4096 }),
            (2_000_000, 2, open(2, 1, true, false)),
            (2_000_000, 2, Op::Fdatasync { fd: Fd(2) }),
            (3_000_000, 0, Op::Pread { fd: Fd(0), off: 100 * 512, len: 256 * 512 }),
        ]
    );
    let names: Vec<Option<&str>> = imp.processes().iter().map(|p| p.name.as_deref()).collect();
    assert_eq!(names, vec![Some("kjournald"), Some("fio worker 1"), Some("jbd2/sdb1-8")]);
    assert_eq!(imp.processes()[1].pid, 1203);
    let files = imp.files();
    assert_eq!((files[0].name.as_str(), files[0].size), ("dev8_0", 223490 * 512 + 4096));
    assert_eq!((files[1].name.as_str(), files[1].size), ("dev8_16", 4104 * 512));
    let st = imp.stats();
    assert_eq!(st.records, 15); // the summary's first line ends the records
    assert_eq!(st.skipped("not_queue_event"), 6);
    assert_eq!((st.skipped("remap"), st.skipped("message"), st.skipped("input_file_line")), (1, 1, 1));
}

#[test]
fn through_cache_opens_buffered() {
    let (recs, _) = import(SAMPLE, Through::Cache);
    assert_eq!(recs[0].op, open(0, 0, false, false));
}

fn error_of(text: &str) -> (usize, crate::replay::ImportError) {
    let mut imp = BlkparseImporter::new("t.txt", text.as_bytes(), BlockOptions::default());
    let (recs, e) = collect_until_err(&mut imp);
    (recs.len(), e.expect("an error"))
}

#[test]
fn custom_formats_are_refused_with_a_hint() {
    // `blkparse -f "%D %a %S %n\n"`: not the default header.
    let (n, e) = error_of("8,0 Q 223490 8\n8,0 C 223490 8\n");
    assert_eq!((n, e.kind, e.at), (0, ErrorKind::CustomFormat, Location::Line(1)));
    assert!(e.hint.contains("-f/-F"), "{e}");
    assert!(e.to_string().starts_with("t.txt: line 1: not a blkparse default-format line"), "{e}");
    // `-F Q,...`: default header, custom Q tail.
    let (_, e) = error_of("  8,0    3        1     0.000000000   697  Q   R sector=223490 len=8\n");
    assert_eq!((e.kind, e.at), (ErrorKind::CustomFormat, Location::Line(1)));
    // After good lines, the same is a counted skip.
    let t = "  8,0    3        1     0.000000000   697  Q   R 1 + 8 [a]\n  8,0    3        2     0.000000000   697  Q   R sector=2\ngarbage here\n";
    let (recs, imp) = import(t, Through::Device);
    assert_eq!(recs.len(), 2);
    assert_eq!(imp.stats().skipped("malformed_line"), 2);
}

#[test]
fn odd_lines_are_counted() {
    let long = format!("  8,0    3        3     0.000000000   697  Q   R 1 + 8 [{}]\n", "x".repeat(2 << 20));
    let t = [
        "  8,0    3        1     0.000000000   697  Q   R 1 + 8 [a]\n",
        "\n",
        "  8,0    3        2     0.000000000   697  Q   R 18446744073709551615 + 8 [a]\n", // sector * 512 overflows
        "  8,0    3        3     0.000000000   697  Q   R 18014398509481983 + 8 [a]\n",    // past MAX_FILE_END
        "  8,0    3        4     0.000000000   697  Q  XY 1 + 8 [a]\n",                    // bad RWBS
        "  8,0    3        5     0.000000000   697  Q   R 4096 (12 34 ..) [sg_dd]\n",      // SCSI passthrough
        "  8,0    3        6     0.00000000   697  Q   R 1 + 8 [a]\n",                     // 8 decimals
        "  8,0    3        7     0.000000000   697  Z   R 1 + 8 [a]\n",                    // unknown action
        "  8,0    3        8     0.000000000   697  Q   D 1 + 8 [a]\n",                    // discard
        "  8,0    3        9     0.000000000   697  Q   N 1 + 0 [a]\n",                    // no data
        &long,
        "9999,0    3        1     0.000000000   697  Q   R 1 + 8 [a]\n", // major too big
    ]
    .concat();
    let (recs, imp) = import(&t, Through::Device);
    assert_eq!(recs.len(), 2);
    let st = imp.stats();
    for (reason, n) in [
        ("blank_line", 1),
        ("offset_out_of_range", 2),
        ("bad_rwbs", 1),
        ("pc_request", 1),
        ("malformed_line", 2),
        ("unknown_action", 1),
        ("discard", 1),
        ("no_data", 1),
        ("line_too_long", 1),
    ] {
        assert_eq!(st.skipped(reason), n, "{reason}: {st:?}");
    }
}

#[test]
fn empty_input_and_times_going_back() {
    let (_, e) = error_of("");
    assert_eq!((e.kind, e.at), (ErrorKind::NotThisFormat, Location::Line(1)));
    let t = "  8,0    1        1     0.000000200   7  Q   R 1 + 8 [a]
  8,0    0        1     0.000000500   7  Q   R 9 + 8 [a]
  8,0    1        2     0.000000300   7  Q   R 17 + 8 [a]
";
    let (recs, imp) = import(t, Through::Device);
    assert_eq!(recs.iter().map(|r| r.time_ns).collect::<Vec<_>>(), vec![0, 0, 300, 300]);
    assert_eq!(imp.stats().noted("time_raised_to_monotonic"), 1);
}
