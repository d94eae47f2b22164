//! blktrace binary importer: records built byte by byte, both byte orders, per-CPU merging, malformed streams.

use super::{collect_ok, collect_until_err};
use crate::replay::blktrace::{open_per_cpu, BlktraceImporter};
use crate::replay::{BlockOptions, ErrorKind, Importer, Location, Record, SequenceGaps, Through, TraceFile};
use crate::trace::op::{Access, Fd, FileId, Op, OpenFlags};

pub(crate) const Q: u32 = 1 | (1 << 4) << 16; // __BLK_TA_QUEUE | BLK_TC_QUEUE
pub(crate) const R: u32 = 1 << 16;
pub(crate) const W: u32 = 2 << 16;
pub(crate) const FLUSH: u32 = 4 << 16;
pub(crate) const FUA: u32 = (1 << 15) << 16;
pub(crate) const SYNC: u32 = 8 << 16;
const NOTIFY: u32 = (1 << 10) << 16;

/// One record: `(sequence, time, sector, bytes, action, pid, dev, cpu)` and a PDU, little- or big-endian.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rec(
    be: bool,
    seq: u32,
    time: u64,
    sector: u64,
    bytes: u32,
    action: u32,
    pid: u32,
    dev: u32,
    cpu: u32,
    pdu: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    let w32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    let w64 = |v: &mut Vec<u8>, x: u64| v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    w32(&mut v, 0x6561_7407);
    w32(&mut v, seq);
    w64(&mut v, time);
    w64(&mut v, sector);
    w32(&mut v, bytes);
    w32(&mut v, action);
    w32(&mut v, pid);
    w32(&mut v, dev);
    w32(&mut v, cpu);
    v.extend_from_slice(&if be { 0u16.to_be_bytes() } else { 0u16.to_le_bytes() });
    v.extend_from_slice(&if be { (pdu.len() as u16).to_be_bytes() } else { (pdu.len() as u16).to_le_bytes() });
    v.extend_from_slice(pdu);
    v
}

/// A PROCESS note naming `pid`.
pub(crate) fn process_note(be: bool, pid: u32, name: &str, cpu: u32) -> Vec<u8> {
    let mut comm = [0u8; 16];
    comm[..name.len()].copy_from_slice(name.as_bytes());
    rec(be, 0, 0, 0, 0, NOTIFY, pid, 8 << 20, cpu, &comm)
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The record of formats.md §1(a): a 4 KiB read Q on 8,0, cpu 3, pid 697, sector 223490.
pub(crate) const FORMATS_EXAMPLE: &str =
    "07746165 01000000 0000000000000000 0269030000000000 00100000 01001100 b9020000 00008000 03000000 0000 0000";

fn import(streams: Vec<Vec<u8>>, through: Through) -> (Vec<Record>, Vec<TraceFile>, crate::replay::Stats) {
    let inputs = streams.iter().enumerate().map(|(i, s)| (format!("cpu{i}"), &s[..])).collect();
    let mut imp = BlktraceImporter::new(inputs, BlockOptions { through, ..Default::default() });
    let recs = collect_ok(&mut imp);
    (recs, imp.files().to_vec(), imp.stats())
}

fn ops(recs: &[Record]) -> Vec<Op> {
    recs.iter().map(|r| r.op.clone()).collect()
}

fn open(fd: u32, file: u32, direct: bool, dsync: bool) -> Op {
    Op::Open {
        fd: Fd(fd),
        file: FileId(file),
        flags: OpenFlags { access: Access::ReadWrite, direct, dsync, ..Default::default() },
    }
}

#[test]
fn formats_md_example_record_in_both_byte_orders() {
    let le = hex(FORMATS_EXAMPLE);
    assert_eq!(le, rec(false, 1, 0, 223490, 4096, Q | R, 697, 8 << 20, 3, &[]));
    let be = rec(true, 1, 0, 223490, 4096, Q | R, 697, 8 << 20, 3, &[]);
    for input in [le, be] {
        let (recs, files, stats) = import(vec![input], Through::Device);
        assert_eq!(ops(&recs), vec![open(0, 0, true, false), Op::Pread { fd: Fd(0), off: 223490 * 512, len: 4096 }]);
        assert_eq!(files, vec![TraceFile { name: "dev8_0".into(), size: 223490 * 512 + 4096, existed_before: true }]);
        assert_eq!((stats.records, stats.ops, stats.skipped_total()), (1, 2, 0));
        assert!(recs.iter().all(|r| r.time_ns == 0 && r.process == 0 && r.thread == 0 && r.duration_ns.is_none()));
    }
}

/// Debian's blkparse reads formats.md's record as the importer does (sector 223490, 8 sectors, a read Q).
#[test]
fn blkparse_reads_the_example_record_alike() {
    if !super::have_tool("blkparse") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rec = [process_note(false, 697, "kjournald", 3), hex(FORMATS_EXAMPLE)].concat();
    std::fs::write(dir.path().join("sda.blktrace.3"), &rec).unwrap();
    for cpu in 0..3 {
        std::fs::write(dir.path().join(format!("sda.blktrace.{cpu}")), b"").unwrap();
    }
    let out = super::sh(dir.path(), "blkparse -i sda -D .");
    assert!(out.contains("  8,0    3        1     0.000000000   697  Q   R 223490 + 8 [kjournald]\n"), "{out}");
    let mut imp = BlktraceImporter::new(open_per_cpu(dir.path(), "sda").unwrap(), BlockOptions::default());
    let recs = collect_ok(&mut imp);
    assert_eq!(recs[1].op, Op::Pread { fd: Fd(0), off: 223490 * 512, len: 8 * 512 });
    assert_eq!(imp.processes()[0].name.as_deref(), Some("kjournald"));
}

#[test]
fn flushes_fua_and_preflush_through_the_cache() {
    let d = 8 << 20 | 16;
    let s = [
        rec(false, 1, 100, 0, 0, Q | W | FLUSH | SYNC, 10, d, 0, &[]), // empty preflush: FWS with no data
        rec(false, 2, 200, 64, 4096, Q | W | FUA | SYNC, 10, d, 0, &[]), // FUA write: the O_DSYNC descriptor
        rec(false, 3, 300, 72, 4096, Q | W | FLUSH | FUA, 11, d, 0, &[]), // preflush + FUA write
        rec(false, 4, 400, 80, 8192, Q | R, 11, d, 0, &[]),
    ]
    .concat();
    let (recs, files, _) = import(vec![s], Through::Cache);
    assert_eq!(
        ops(&recs),
        vec![
            open(0, 0, false, false),
            Op::Fdatasync { fd: Fd(0) },
            open(1, 0, false, true),
            Op::Pwrite { fd: Fd(1), off: 64 * 512, len: 4096 },
            open(0, 0, false, false),
            Op::Fdatasync { fd: Fd(0) },
            open(1, 0, false, true),
            Op::Pwrite { fd: Fd(1), off: 72 * 512, len: 4096 },
            Op::Pread { fd: Fd(0), off: 80 * 512, len: 8192 },
        ]
    );
    assert_eq!(
        recs.iter().map(|r| (r.time_ns, r.process)).collect::<Vec<_>>()[..4],
        [(0, 0), (0, 0), (100, 0), (100, 0)]
    );
    assert_eq!(recs[4].process, 1);
    assert_eq!(files[0].name, "dev8_16");
    assert_eq!(files[0].size, 96 * 512);
}

#[test]
fn per_cpu_streams_merge_by_time_with_notes_and_gaps() {
    let d = 8 << 20;
    let mut ts = 0u32.to_le_bytes().to_vec();
    ts.extend_from_slice(&5u32.to_le_bytes());
    let cpu0 = [
        process_note(false, 42, "reader", 0),
        rec(false, 0, 0, 0, 0, NOTIFY | 1, 0, d, 0, &[0x10, 0, 0, 0, 0x05, 0, 0, 0]), // TIMESTAMP 16 s 5 ns
        rec(false, 1, 1000, 8, 4096, Q | R, 42, d, 0, &[]),
        rec(false, 2, 3000, 24, 4096, Q | R, 42, d, 0, &[]),
        rec(false, 5, 5000, 40, 4096, Q | R, 42, d, 0, &[]), // 3 and 4 lost
        rec(false, 0, 5500, 0, 0, NOTIFY | 2, 42, d, 0, b"hello"),
    ]
    .concat();
    let cpu1 = [
        rec(false, 1, 2000, 16, 4096, Q | R, 43, d, 1, &[]),
        rec(false, 2, 3000, 32, 4096, (1 << 4) << 16 | 7 | R, 43, d, 1, &[]), // a D record
        rec(false, 3, 4000, 48, 4096, (1 << 4) << 16 | 15 | R, 43, d, 1, &[0; 16]), // A (remap)
    ]
    .concat();
    let mut imp =
        BlktraceImporter::new(vec![("cpu0".into(), &cpu0[..]), ("cpu1".into(), &cpu1[..])], BlockOptions::default());
    let recs = collect_ok(&mut imp);
    let io: Vec<(u64, u32, u64)> = recs
        .iter()
        .filter_map(|r| match r.op {
            Op::Pread { off, .. } => Some((r.time_ns, r.process, off / 512)),
            _ => None,
        })
        .collect();
    assert_eq!(io, vec![(0, 0, 8), (1000, 1, 16), (2000, 0, 24), (4000, 0, 40)]);
    assert_eq!(imp.start_wall_clock(), Some((16, 5)));
    assert_eq!(imp.processes()[0].name.as_deref(), Some("reader"));
    assert_eq!(imp.processes()[1].name, None);
    let st = imp.stats();
    assert_eq!(st.records, 9);
    assert_eq!(st.sequence_gaps.get(&(d, 0)), Some(&SequenceGaps { gaps: 1, missing: 2, backwards: 0 }));
    assert_eq!(st.sequence_gaps.get(&(d, 1)), None);
    assert_eq!((st.skipped("not_queue_event"), st.skipped("remap"), st.skipped("message")), (1, 1, 1));
    assert_eq!((st.skipped("process_note"), st.skipped("timestamp_note")), (1, 1));
    // The remap's PDU is read (it names the partition, here dev_t 0 from sector 48 - 0), not skipped.
    assert_eq!(st.noted("pdu_skipped"), 0);
    assert_eq!(st.partitions.get(&0), Some(&crate::replay::Partition { device: d, start_sector: 48 }));
}

#[test]
fn skips_are_counted_not_fatal() {
    let d = 8 << 20;
    let s = [
        rec(false, 1, 0, 100, 4096, Q | W | (1 << 13) << 16, 1, d, 0, &[]), // discard
        rec(false, 2, 1, 100, 4096, Q | R | (1 << 9) << 16, 1, d, 0, &[]),  // passthrough
        rec(false, 3, 2, 100, 0, Q | R, 1, d, 0, &[]),                      // no data, no flush
        rec(false, 4, 3, u64::MAX / 256, 4096, Q | R, 1, d, 0, &[]),        // sector * 512 overflows
        rec(false, 5, 4, (i64::MAX as u64) / 512, 4096, Q | R, 1, d, 0, &[]), // past MAX_FILE_END
        rec(false, 6, 5, 0, 4096, 99 | R, 1, d, 0, &[]),                    // unknown action
        rec(false, 7, 6, 0, 4096, Q | R | (1 << 8), 1, d, 0, &[1, 2, 3, 4, 5, 6, 7, 8]), // cgroup PDU: fine
        rec(false, 2, 7, 8, 4096, Q | R, 1, d, 0, &[]),                     // sequence backwards
    ]
    .concat();
    let (recs, _, st) = import(vec![s], Through::Device);
    assert_eq!(
        ops(&recs)[1..],
        [Op::Pread { fd: Fd(0), off: 0, len: 4096 }, Op::Pread { fd: Fd(0), off: 4096, len: 4096 }]
    );
    for (reason, n) in
        [("discard", 1), ("pc_request", 1), ("no_data", 1), ("offset_out_of_range", 2), ("unknown_action", 1)]
    {
        assert_eq!(st.skipped(reason), n, "{reason}: {st:?}");
    }
    assert_eq!(st.sequence_gaps[&(d, 0)].backwards, 1);
}

fn first_error(streams: Vec<Vec<u8>>) -> (usize, crate::replay::ImportError) {
    let inputs = streams.iter().enumerate().map(|(i, s)| (format!("in{i}"), &s[..])).collect();
    let mut imp = BlktraceImporter::new(inputs, BlockOptions::default());
    let (recs, e) = collect_until_err(&mut imp);
    (recs.len(), e.expect("an error"))
}

#[test]
fn malformed_streams_give_located_errors() {
    let good = rec(false, 1, 0, 8, 4096, Q | R, 1, 8 << 20, 0, &[]);
    // Truncated header after a good record: the record comes first, then the error at its offset.
    let (n, e) = first_error(vec![[good.clone(), good[..20].to_vec()].concat()]);
    assert_eq!((n, e.kind, e.at), (2, ErrorKind::Truncated, Location::Byte(48)));
    assert!(e.to_string().starts_with("in0: byte 48: the input ends 20 bytes into"), "{e}");
    // Truncated PDU.
    let mut cut = rec(false, 2, 1, 8, 4096, Q | R, 1, 8 << 20, 0, &[0; 8]);
    cut.truncate(52);
    let (_, e) = first_error(vec![[good.clone(), cut].concat()]);
    assert_eq!((e.kind, e.at), (ErrorKind::Truncated, Location::Byte(48)));
    assert!(e.message.contains("payload"), "{e}");
    // Wrong magic.
    let (n, e) =
        first_error(vec![b"  8,0    3        1     0.000000000   697  Q   R 223490 + 8 [kjournald]\n".to_vec()]);
    assert_eq!((n, e.kind, e.at), (0, ErrorKind::NotThisFormat, Location::Byte(0)));
    assert!(e.hint.contains("blkparse importer"), "{e}");
    // Version 8 and version 6.
    let mut v8 = good.clone();
    v8[0] = 8;
    let (_, e) = first_error(vec![v8]);
    assert_eq!(e.kind, ErrorKind::UnsupportedVersion);
    assert!(e.message.contains("version 8") && e.message.contains("blk_io_trace2"), "{e}");
    let mut v6 = good.clone();
    v6[0] = 6;
    assert!(first_error(vec![v6]).1.message.contains("version 6"));
    // Corrupt magic in the middle of a stream.
    let mut bad = good.clone();
    bad[2] = 0;
    let (n, e) = first_error(vec![[good.clone(), good.clone(), bad].concat()]);
    assert_eq!((n, e.kind, e.at), (3, ErrorKind::Malformed, Location::Byte(96)));
    // Empty input, and all-empty streams.
    let (_, e) = first_error(vec![vec![]]);
    assert_eq!((e.kind, e.at), (ErrorKind::NotThisFormat, Location::Byte(0)));
    assert!(e.message.contains("empty"));
    let (_, e) = first_error(vec![vec![], vec![]]);
    assert_eq!(e.kind, ErrorKind::NotThisFormat);
    // A second, broken stream is named.
    let (_, e) = first_error(vec![good.clone(), good[..47].to_vec()]);
    assert!(e.to_string().starts_with("in1: byte 0"), "{e}");
    // Notes only: no ops, no error.
    let (recs, _, st) = import(vec![process_note(false, 5, "x", 0)], Through::Device);
    assert!(recs.is_empty());
    assert_eq!(st.records, 1);
}

#[test]
fn per_cpu_files_are_found_as_blkparse_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let r = |seq, t, sector, cpu| rec(false, seq, t, sector, 512, Q | R, 7, 8 << 20, cpu, &[]);
    std::fs::write(p.join("sda.blktrace.0"), [r(1, 10, 1, 0), r(2, 30, 3, 0)].concat()).unwrap();
    std::fs::write(p.join("sda.blktrace.1"), b"").unwrap();
    std::fs::write(p.join("sda.blktrace.2"), r(1, 20, 2, 2)).unwrap();
    std::fs::write(p.join("sda.blktrace.4"), r(1, 5, 9, 4)).unwrap(); // after the gap at 3: not read
    let files = open_per_cpu(p, "sda.blktrace.0").unwrap();
    assert_eq!(files.len(), 2);
    let mut imp = BlktraceImporter::new(files, BlockOptions::default());
    let offs: Vec<u64> = collect_ok(&mut imp)
        .iter()
        .filter_map(|r| if let Op::Pread { off, .. } = r.op { Some(off / 512) } else { None })
        .collect();
    assert_eq!(offs, vec![1, 2, 3]);
    let e = open_per_cpu(p, "sdb").unwrap_err();
    assert!(e.to_string().contains("no input files found for sdb"), "{e}");
}

/// Throughput of the binary importer over a 1 GiB file of Q/G/I/D/C records. Run with
/// `cargo test --release --lib replay::tests::blktrace::throughput -- --ignored --nocapture`.
#[test]
#[ignore]
#[allow(clippy::disallowed_methods)] // wall-clock timing of the importer, not of the model
fn throughput_1gib() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.blktrace.0");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let acts = [Q, (1 << 4) << 16 | 4, (1 << 4) << 16 | 12, (1 << 6) << 16 | 7, (1 << 7) << 16 | 8];
    let n: u64 = (1 << 30) / 48;
    let mut chunk = Vec::with_capacity(48 * 4096);
    for i in 0..n {
        let a = acts[(i % 5) as usize] | if i % 3 == 0 { W } else { R };
        chunk.extend_from_slice(&rec(
            false,
            i as u32 + 1,
            i * 100,
            (i / 5) * 8,
            4096,
            a,
            1 + (i % 7) as u32,
            8 << 20,
            0,
            &[],
        ));
        if chunk.len() >= 48 * 4096 {
            f.write_all(&chunk).unwrap();
            chunk.clear();
        }
    }
    f.write_all(&chunk).unwrap();
    f.flush().unwrap();
    drop(f);
    let start = std::time::Instant::now();
    let file = std::fs::File::open(&path).unwrap();
    let mut imp = BlktraceImporter::new(vec![("big".into(), file)], BlockOptions::default());
    let mut ops = 0u64;
    for r in imp.by_ref() {
        r.unwrap();
        ops += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let st = imp.stats();
    assert_eq!(st.records, n);
    println!("{} records ({} ops) in {secs:.3} s: {:.1} M records/s", st.records, ops, st.records as f64 / secs / 1e6);
}
