//! Exporters: exact text, the binary read back by our importers and by Debian's blkparse and btt.

use super::{collect_ok, events, have_tool, sh};
use crate::replay::blkparse::BlkparseImporter;
use crate::replay::blktrace::{open_per_cpu, BlktraceImporter};
use crate::replay::export::{write_blkparse, write_blktrace, write_blktrace_to, ExportDevice};
use crate::replay::{BlockOptions, Importer, Record, Through};
use crate::trace::event::{Event, EventKind};
use crate::trace::op::{Fd, FileId, Op};

/// A stream touching every exported action, two devices, a flush, a discard, an error and ignored events.
pub(crate) const SAMPLE: &str = "
1000000 reader block_bio_queue device=disk0 rwbs=RA sector=2048 nr_sector=32
1000000 reader block_getrq device=disk0 rwbs=RA sector=2048 nr_sector=32
1000000 reader block_io_start device=disk0 rwbs=RA bytes=16384 sector=2048 nr_sector=32
1001000 reader block_bio_queue device=disk0 rwbs=RA sector=2080 nr_sector=32
1001000 reader block_bio_backmerge device=disk0 rwbs=RA sector=2080 nr_sector=32
1002000 reader block_rq_insert device=disk0 rwbs=RA bytes=32768 sector=2048 nr_sector=64
1002000 reader block_rq_issue device=disk0 rwbs=RA bytes=32768 sector=2048 nr_sector=64
1500000 idle block_rq_complete device=disk0 rwbs=RA sector=2048 nr_sector=64 error=0
1500000 idle block_io_done device=disk0 rwbs=RA bytes=0 sector=2048 nr_sector=0
2000000 kworker/u8:3 block_bio_queue device=disk1 rwbs=W sector=4096 nr_sector=2048
2000000 kworker/u8:3 block_split device=disk1 rwbs=W sector=4096 new_sector=5376
2000000 kworker/u8:3 block_getrq device=disk1 rwbs=W sector=4096 nr_sector=1280
2001000 kworker/u8:3 block_rq_issue device=disk1 rwbs=W bytes=655360 sector=4096 nr_sector=1280
2001000 kworker/u8:3 block_rq_issue device=disk1 rwbs=W bytes=393216 sector=5376 nr_sector=768
2900000 idle block_rq_complete device=disk1 rwbs=W sector=4096 nr_sector=1280 error=-5
2950000 idle block_rq_complete device=disk1 rwbs=W sector=5376 nr_sector=768 error=0
3000000 jbd2/sda1-8 block_bio_queue device=disk0 rwbs=FWFSM sector=8000 nr_sector=8
3000000 jbd2/sda1-8 block_rq_issue device=disk0 rwbs=FF bytes=0 sector=0 nr_sector=0
3000100 idle block_rq_complete device=disk0 rwbs=FF sector=0 nr_sector=0 error=0
3000200 jbd2/sda1-8 block_rq_insert device=disk0 rwbs=WSM bytes=4096 sector=8000 nr_sector=8
3000200 jbd2/sda1-8 block_rq_issue device=disk0 rwbs=WSM bytes=4096 sector=8000 nr_sector=8
3000300 idle block_rq_complete device=disk0 rwbs=WSM sector=8000 nr_sector=8 error=0
3000400 fstrim block_bio_queue device=disk0 rwbs=D sector=100000 nr_sector=2048
3000500 dd block_bio_queue device=disk0 rwbs=WS sector=16 nr_sector=8
3000500 dd block_bio_frontmerge device=disk0 rwbs=WS sector=16 nr_sector=8
3000600 dd block_rq_issue device=disk0 rwbs=WS bytes=4096 sector=16 nr_sector=8
3000700 dd block_rq_requeue device=disk0 rwbs=WS sector=16 nr_sector=8
3000800 dd block_rq_issue device=disk0 rwbs=WS bytes=4096 sector=16 nr_sector=8
3001000 idle block_bio_complete device=disk0 rwbs=WS sector=16 nr_sector=8 error=0
3002000 reader mm_filemap_add_to_page_cache file=f index=0 order=0
3003000 kworker/u8:3 block_bio_queue device=disk0 rwbs=FN sector=0 nr_sector=0
";

pub(crate) fn devices() -> Vec<ExportDevice> {
    vec![
        ExportDevice { name: "disk0".into(), major: 8, minor: 0 },
        ExportDevice { name: "disk1".into(), major: 8, minor: 16 },
    ]
}

fn text(evs: &[Event]) -> String {
    let mut out = Vec::new();
    write_blkparse(evs, &devices(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Lines as Debian's blkparse 1.2.0 prints them for the exported binary (`blkparse_and_btt_read_the_binary`
/// checks the whole text against the tool where it is installed).
#[test]
fn blkparse_text_has_blkparse_widths() {
    let evs = events(SAMPLE);
    let t = text(&evs);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "  8,0    0        1     0.000000000     1  Q  RA 2048 + 32 [reader]");
    assert_eq!(lines[6], "  8,0    0        7     0.000500000     0  C  RA 2048 + 64 [0]");
    assert_eq!(lines[8], "  8,16   0        2     0.001000000     2  X   W 4096 / 5376 [kworker/u8:3]");
    assert_eq!(lines[12], "  8,16   0        6     0.001900000     0  C   W 4096 + 1280 [65531]");
    assert_eq!(lines[14], "  8,0    0        8     0.002000000     3  Q FWFSM 8000 + 8 [jbd2/sda1-8]");
    assert_eq!(lines[15], "  8,0    0        9     0.002000000     3  D  FN [jbd2/sda1-8]");
    assert_eq!(lines[16], "  8,0    0       10     0.002000100     0  C  FN 0 [0]");
    assert_eq!(lines[20], "  8,0    0       14     0.002000400     4  Q   D 100000 + 2048 [fstrim]");
    assert_eq!(lines[24], "  8,0    0       18     0.002000700     5  R  WS 16 + 8 [0]");
    assert_eq!(lines[27], "  8,0    0       21     0.002003000     2  Q  FN [kworker/u8:3]");
    assert_eq!(lines[28], "CPU0 (8,0):");
    assert_eq!(lines[29], " Reads Queued:           3,       32KiB\t Writes Queued:           3,     1032KiB");
    assert_eq!(lines[34], " Read depth:             1        \t Write depth:             1");
    assert!(t.ends_with("Events (8,16): 7 entries\nSkips: 0 forward (0 -   0.0%)\n"), "{t}");
}

#[test]
fn export_counts_what_it_leaves_out() {
    let evs = events(SAMPLE);
    let mut out = Vec::new();
    let st = write_blktrace_to(&evs, &devices(), &mut out).unwrap();
    assert_eq!(st.ignored.get("no_blktrace_action"), Some(&2));
    assert_eq!(st.ignored.get("not_block_event"), Some(&1));
    assert_eq!(st.written, evs.len() as u64 - 3);
    // 5 PROCESS notes (reader, idle, kworker/u8:3, jbd2/sda1-8, fstrim, dd: 6) of 48 + 16 bytes, and one split PDU.
    assert_eq!(out.len() as u64, 6 * 64 + st.written * 48 + 8);
    let bad = vec![ExportDevice { name: "disk0".into(), major: 8, minor: 0 }];
    let e = write_blktrace_to(&evs, &bad, Vec::new()).unwrap_err();
    assert!(e.to_string().contains("`disk1`"), "{e}");
}

/// The Q events as the ops a `Through::Device` import gives (device index by order of first use).
fn expected_queue_ops(evs: &[Event]) -> Vec<(u32, Op)> {
    let mut out = Vec::new();
    for e in evs {
        if let EventKind::BlockBioQueue { device, rwbs, sector, nr_sector } = &e.kind {
            let dev = if device.as_ref() == "disk0" { 0 } else { 1 };
            let (off, len) = (sector * 512, nr_sector * 512);
            let op = match rwbs.as_ref() {
                "D" => continue,
                "FN" => Op::Fdatasync { fd: Fd(dev * 2) },
                r if r.contains('W') => Op::Pwrite { fd: Fd(dev * 2 + r.ends_with("FSM") as u32), off, len },
                _ => Op::Pread { fd: Fd(dev * 2), off, len },
            };
            if rwbs.as_ref() == "FWFSM" {
                out.push((dev, Op::Fdatasync { fd: Fd(dev * 2) }));
            }
            out.push((dev, op));
        }
    }
    out
}

fn io_ops(recs: &[Record]) -> Vec<(u32, Op)> {
    recs.iter()
        .filter(|r| !matches!(r.op, Op::Open { .. }))
        .map(|r| {
            let dev = match r.op {
                Op::Pread { fd, .. } | Op::Pwrite { fd, .. } | Op::Fdatasync { fd } => fd.0 / 2,
                _ => u32::MAX,
            };
            (dev, r.op.clone())
        })
        .collect()
}

#[test]
fn exports_round_trip_through_the_importers() {
    let evs = events(SAMPLE);
    let want = expected_queue_ops(&evs);
    // Binary.
    let mut bin = Vec::new();
    write_blktrace_to(&evs, &devices(), &mut bin).unwrap();
    let opts = BlockOptions { through: Through::Device, ..Default::default() };
    let mut imp = BlktraceImporter::new(vec![("mem".into(), &bin[..])], opts.clone());
    let recs = collect_ok(&mut imp);
    assert_eq!(io_ops(&recs), want);
    assert_eq!(imp.files()[0].name, "dev8_0");
    assert_eq!(imp.files()[1].name, "dev8_16");
    assert_eq!(imp.files()[1].size, (4096 + 2048) * 512);
    assert_eq!(imp.stats().skipped("discard"), 1);
    assert_eq!(imp.processes()[0].name.as_deref(), Some("reader"));
    let opens: Vec<&Record> = recs.iter().filter(|r| matches!(r.op, Op::Open { .. })).collect();
    assert!(opens.iter().all(|r| matches!(r.op, Op::Open { flags, .. } if flags.direct)));
    assert!(matches!(opens[0].op, Op::Open { fd: Fd(0), file: FileId(0), .. }));
    // Text.
    let t = text(&evs);
    let mut imp = BlkparseImporter::new("mem", t.as_bytes(), opts);
    let recs2 = collect_ok(&mut imp);
    assert_eq!(io_ops(&recs2), want);
    assert_eq!(recs.iter().map(|r| r.time_ns).collect::<Vec<_>>(), recs2.iter().map(|r| r.time_ns).collect::<Vec<_>>());
}

#[test]
fn blkparse_and_btt_read_the_binary() {
    if !have_tool("blkparse") || !have_tool("btt") {
        return;
    }
    let evs = events(SAMPLE);
    let dir = tempfile::tempdir().unwrap();
    write_blktrace(&evs, &devices(), dir.path(), "pcsim").unwrap();
    // Pipe mode prints exactly what write_blkparse writes, summary included.
    let piped = sh(dir.path(), "blkparse -i - < pcsim.blktrace.0");
    assert_eq!(piped, text(&evs));
    // File mode: the same record lines (its summary is per input file, not per device).
    let file = sh(dir.path(), "blkparse -i pcsim -D .");
    let recs = |s: &str| {
        s.lines().filter(|l| super::super::blkparse::parse_header(l).is_some()).map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(recs(&file), recs(&text(&evs)));
    // btt reads the merged binary; its per-IO dump names the Q sectors.
    sh(dir.path(), "blkparse -i pcsim -D . -d merged.bin -O");
    let btt = sh(dir.path(), "btt -i merged.bin -p per_io.txt >/dev/null && cat per_io.txt");
    let queued: Vec<&str> = btt.lines().filter_map(|l| l.split_once(" Q ").map(|(_, r)| r.trim())).collect();
    // The split write on disk1 and the discard are not shown by btt's per-IO dump; the others are all there.
    assert_eq!(queued, ["2048+32", "2080+32", "8000+8", "16+8"], "{btt}");
    // Our importer reads the per-CPU file and blkparse's merged file alike.
    let opts = BlockOptions::default();
    let mut a = BlktraceImporter::new(open_per_cpu(dir.path(), "pcsim").unwrap(), opts.clone());
    let merged = std::fs::File::open(dir.path().join("merged.bin")).unwrap();
    let mut b = BlktraceImporter::new(vec![("merged.bin".into(), merged)], opts);
    assert_eq!(collect_ok(&mut a), collect_ok(&mut b));
}

#[test]
fn absurd_events_do_not_panic() {
    let evs = events(
        "
        5 ünïcödé-tåsk-ñame-long block_bio_queue device=disk0 rwbs=W sector=18446744073709551615 nr_sector=18446744073709551615
        3 t block_rq_issue device=disk0 rwbs=XYZ bytes=1 sector=0 nr_sector=0
        1 t block_split device=disk0 rwbs=W sector=100 new_sector=5
        0 t block_rq_complete device=disk0 rwbs=N sector=0 nr_sector=8 error=-9223372036854775808
        ",
    );
    let mut out = Vec::new();
    let st = write_blkparse(&evs, &devices(), &mut out).unwrap();
    assert_eq!((st.written, st.ignored.get("too_many_bytes"), st.ignored.get("bad_rwbs")), (2, Some(&1), Some(&1)));
    let mut bin = Vec::new();
    write_blktrace_to(&evs, &devices(), &mut bin).unwrap();
    let mut imp = BlktraceImporter::new(vec![("mem".into(), &bin[..])], BlockOptions::default());
    assert!(collect_ok(&mut imp).is_empty());
    assert_eq!(imp.processes().len(), 0);
    let bad = [ExportDevice { name: "disk0".into(), major: 4096, minor: 0 }];
    assert!(write_blktrace_to(&evs, &bad, Vec::new()).is_err());
}
