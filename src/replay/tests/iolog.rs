//! fio iolog importer: formats.md's v3 sample, a real fio 3.33 log, v2 waits, options and broken lines.

use super::{collect_ok, collect_until_err};
use crate::replay::iolog::{IologImporter, IologOptions};
use crate::replay::{ErrorKind, Importer, Location, Record, TraceFile};
use crate::trace::op::{Access, FallocMode, Fd, FileId, Op, OpenFlags};

pub(crate) const FORMATS_V3: &str = "fio version 3 iolog
0 /data/f add
11 /data/f open
40 /data/f write 0 4096
95 /data/f read 8192 4096
120 /data/f sync 0 0
130 /data/f close
";

/// `fio --name=j --filename=/tmp/rp/f --size=64k --rw=randrw --bs=4k --fsync=4 --write_iolog=x.iolog` (fio 3.33).
pub(crate) const FIO_RANDRW: &str = include_str!("../testdata/fio_randrw.iolog");

const BUFFERED: IologOptions = IologOptions { direct: false, trim_as_punch_hole: false };

fn import(text: &str, opts: IologOptions) -> (Vec<Record>, IologImporter<&[u8]>) {
    let mut imp = IologImporter::new("x.iolog", text.as_bytes(), opts);
    let recs = collect_ok(&mut imp);
    (recs, imp)
}

fn open(fd: u32, direct: bool) -> Op {
    Op::Open {
        fd: Fd(fd),
        file: FileId(fd),
        flags: OpenFlags { access: Access::ReadWrite, direct, ..Default::default() },
    }
}

#[test]
fn formats_md_v3_sample() {
    let (recs, imp) = import(FORMATS_V3, IologOptions { direct: true, trim_as_punch_hole: false });
    let got: Vec<(u64, Op)> = recs.iter().map(|r| (r.time_ns, r.op.clone())).collect();
    assert_eq!(
        got,
        vec![
            (11_000, open(0, true)),
            (40_000, Op::Pwrite { fd: Fd(0), off: 0, len: 4096 }),
            (95_000, Op::Pread { fd: Fd(0), off: 8192, len: 4096 }),
            (120_000, Op::Fsync { fd: Fd(0) }),
            (130_000, Op::Close { fd: Fd(0) }),
        ]
    );
    assert_eq!(imp.files(), &[TraceFile { name: "/data/f".into(), size: 12288, existed_before: true }]);
    assert_eq!(imp.version(), Some(3));
    assert!(recs.iter().all(|r| r.process == 0 && r.thread == 0));
    let st = imp.stats();
    assert_eq!((st.records, st.ops, st.skipped_total(), st.noted("file_added")), (7, 5, 0, 1));
}

#[test]
fn real_fio_log() {
    let (recs, imp) = import(FIO_RANDRW, BUFFERED);
    assert_eq!(recs.len(), 20);
    assert_eq!(recs[0].op, open(0, false));
    assert_eq!((recs[0].time_ns, recs[1].time_ns), (147_000, 150_000)); // µs less the first line's 20
    assert_eq!(recs[1].op, Op::Pread { fd: Fd(0), off: 0, len: 4096 });
    assert_eq!(recs[4].op, Op::Pwrite { fd: Fd(0), off: 28672, len: 4096 });
    assert_eq!(recs[10].op, Op::Fsync { fd: Fd(0) });
    assert_eq!(recs[19].op, Op::Close { fd: Fd(0) });
    let counts = |name: &str| recs.iter().filter(|r| r.op.name() == name).count();
    assert_eq!((counts("pread"), counts("pwrite"), counts("fsync")), (10, 6, 2));
    assert_eq!(imp.files()[0].size, 65536);
    assert_eq!(imp.stats().skipped_total(), 0);
}

#[test]
fn v2_waits_trims_and_implicit_opens() {
    let log = "fio version 2 iolog
/d/a add
/d/a open
/d/a read 0 4096
/d/a wait 500 0
/d/a write 4096 4096
/d/b trim 0 1048576
/d/a datasync 0 0
/d/b write 0 512
/d/a close
/d/a close
";
    let (recs, imp) = import(log, BUFFERED);
    let got: Vec<(u64, Op)> = recs.iter().map(|r| (r.time_ns, r.op.clone())).collect();
    assert_eq!(
        got,
        vec![
            (0, open(0, false)),
            (0, Op::Pread { fd: Fd(0), off: 0, len: 4096 }),
            (0, Op::Sleep { ns: 500_000 }),
            (500_000, Op::Pwrite { fd: Fd(0), off: 4096, len: 4096 }),
            (500_000, Op::Fdatasync { fd: Fd(0) }),
            (500_000, open(1, false)),
            (500_000, Op::Pwrite { fd: Fd(1), off: 0, len: 512 }),
            (500_000, Op::Close { fd: Fd(0) }),
        ]
    );
    let st = imp.stats();
    assert_eq!((st.skipped("trim"), st.skipped("close_unopened")), (1, 1));
    assert_eq!((st.noted("implicit_add"), st.noted("implicit_open")), (1, 1));
    assert_eq!(imp.files()[1].size, 512);
    // With the falloc engine's meaning, the trim is a hole punch.
    let (recs, imp) = import(log, IologOptions { direct: false, trim_as_punch_hole: true });
    let punch = Op::Fallocate { fd: Fd(1), mode: FallocMode::PunchHole, off: 0, len: 1 << 20 };
    assert!(recs.iter().any(|r| r.op == punch));
    assert_eq!(imp.files()[1].size, 1 << 20);
}

#[test]
fn odd_lines_are_counted() {
    let log = "fio version 3 iolog
0 /d/a add
1 /d/a open
2 /d/a wait 100 0
3 /d/a read -4096 4096
4 /d/a read 0
5 /d/a read 0 4096 extra
x /d/a read 0 4096
6 /d/a frobnicate 0 4096
7 /d/a sync_file_range 0 4096
8 /d/a read 9223372036854771712 4096
9 /d/a write 18446744073709551615 1
10 /d/a read 99999999999999999999999 1
11 /d/a open

3 /d/a read 0 4096
";
    let (recs, imp) = import(log, BUFFERED);
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[1].time_ns, recs[1].op.clone()), (11_000, Op::Pread { fd: Fd(0), off: 0, len: 4096 }));
    let st = imp.stats();
    for (reason, n) in [
        ("wait_in_v3", 1),
        ("malformed_line", 5),
        ("unknown_action", 2),
        ("offset_out_of_range", 2),
        ("reopen", 1),
        ("blank_line", 1),
    ] {
        assert_eq!(st.skipped(reason), n, "{reason}: {st:?}");
    }
    assert_eq!(st.noted("time_raised_to_monotonic"), 1);
}

fn error_of(text: &str) -> (usize, crate::replay::ImportError) {
    let mut imp = IologImporter::new("x.iolog", text.as_bytes(), BUFFERED);
    let (recs, e) = collect_until_err(&mut imp);
    (recs.len(), e.expect("an error"))
}

#[test]
fn headers_are_checked() {
    let (_, e) = error_of("0, 0, 4096\n1, 4096, 4096\n");
    assert_eq!((e.kind, e.at), (ErrorKind::UnsupportedVersion, Location::Line(1)));
    assert!(e.hint.contains("version 1"), "{e}");
    let (_, e) = error_of("fio version 1 iolog\n");
    assert_eq!(e.kind, ErrorKind::UnsupportedVersion);
    let (_, e) = error_of("");
    assert_eq!((e.kind, e.at), (ErrorKind::NotThisFormat, Location::Line(1)));
    let (_, e) = error_of("\u{0}\u{1}garbage\nfio version 3 iolog\n");
    assert_eq!(e.kind, ErrorKind::NotThisFormat);
    assert!(e.to_string().starts_with("x.iolog: line 1: not a fio iolog"), "{e}");
    // A header alone is a valid, empty log.
    let (recs, _) = import("fio version 2 iolog\n", BUFFERED);
    assert!(recs.is_empty());
}
