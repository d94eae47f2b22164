//! Whole-device traces with partitions: remap (`A`) records name each partition and where it starts; every bio is
//! replayed at its whole-device sector, or, with `BlockOptions::partition`, one partition's bios alone at offsets
//! from its start.

use super::blktrace::{rec, Q, R, W};
use super::collect_ok;
use crate::replay::blkparse::BlkparseImporter;
use crate::replay::blktrace::BlktraceImporter;
use crate::replay::{BlockOptions, Importer, Partition, Through};
use crate::trace::op::Op;

/// sda (8,0) with sda1 (8,1) from sector 2048 and sda2 (8,2) from sector 1050624: a read of sda1's sector 8, a
/// write of sda2's sector 16, and a bio of sda itself (no remap), as blkparse prints them.
const TEXT: &str = "  8,0    0        1     0.000000000   100  A   R 2056 + 8 <- (8,1) 8
  8,0    0        2     0.000000100   100  Q   R 2056 + 8 [cat]
  8,0    0        3     0.000001000   200  A   W 1050640 + 16 <- (8,2) 16
  8,0    0        4     0.000001100   200  Q   W 1050640 + 16 [dd]
  8,0    0        5     0.000002000   300  Q   R 0 + 8 [fdisk]
";

fn ops(imp: &mut impl Importer) -> Vec<(String, u64, u64)> {
    collect_ok(imp)
        .into_iter()
        .filter_map(|r| match r.op {
            Op::Pread { off, len, .. } => Some(("R".to_string(), off, len)),
            Op::Pwrite { off, len, .. } => Some(("W".to_string(), off, len)),
            _ => None,
        })
        .collect()
}

fn partitions() -> Vec<(u32, Partition)> {
    vec![
        ((8 << 20) | 1, Partition { device: 8 << 20, start_sector: 2048 }),
        ((8 << 20) | 2, Partition { device: 8 << 20, start_sector: 1_050_624 }),
    ]
}

#[test]
fn blkparse_remaps_name_the_partitions_and_bios_stay_whole_device() {
    let mut imp = BlkparseImporter::new("t", TEXT.as_bytes(), BlockOptions::default());
    let got = ops(&mut imp);
    assert_eq!(got, [("R".into(), 2056 * 512, 4096), ("W".into(), 1_050_640 * 512, 8192), ("R".into(), 0, 4096)]);
    let st = imp.stats();
    assert_eq!(st.partitions.clone().into_iter().collect::<Vec<_>>(), partitions());
    assert_eq!(st.skipped("remap"), 2);
    assert_eq!(imp.files().len(), 1, "one file: the whole device");
}

#[test]
fn one_partition_alone_at_offsets_from_its_start() {
    let opts = BlockOptions { partition: Some((8 << 20) | 2), through: Through::Cache, ..Default::default() };
    let mut imp = BlkparseImporter::new("t", TEXT.as_bytes(), opts);
    assert_eq!(ops(&mut imp), [("W".into(), 16 * 512, 8192)]);
    assert_eq!(imp.files()[0].name, "dev8_2");
    assert_eq!(imp.files()[0].size, (16 + 16) * 512);
    assert_eq!(imp.stats().skipped("other_partition"), 2);
}

#[test]
fn binary_remaps_carry_the_partition_in_their_big_endian_pdu() {
    let pdu = |from: u32, sector: u64| {
        let mut p = from.to_be_bytes().to_vec();
        p.extend_from_slice(&(8u32 << 20).to_be_bytes());
        p.extend_from_slice(&sector.to_be_bytes());
        p
    };
    let a = 15 | (1 << 4) << 16; // __BLK_TA_REMAP | QUEUE
    let dev = 8 << 20;
    let mut bytes = Vec::new();
    bytes.extend(rec(false, 1, 0, 2056, 4096, a | R, 100, dev, 0, &pdu(dev | 1, 8)));
    bytes.extend(rec(false, 2, 100, 2056, 4096, Q | R, 100, dev, 0, &[]));
    bytes.extend(rec(false, 3, 1000, 1_050_640, 8192, a | W, 200, dev, 0, &pdu(dev | 2, 16)));
    bytes.extend(rec(false, 4, 1100, 1_050_640, 8192, Q | W, 200, dev, 0, &[]));
    bytes.extend(rec(false, 5, 2000, 0, 4096, Q | R, 300, dev, 0, &[]));
    let mut imp = BlktraceImporter::new(vec![("t".into(), &bytes[..])], BlockOptions::default());
    assert_eq!(ops(&mut imp).len(), 3);
    assert_eq!(imp.stats().partitions.into_iter().collect::<Vec<_>>(), partitions());
    let opts = BlockOptions { partition: Some(dev | 1), ..Default::default() };
    let mut imp = BlktraceImporter::new(vec![("t".into(), &bytes[..])], opts);
    assert_eq!(ops(&mut imp), [("R".into(), 8 * 512, 4096)]);
}
