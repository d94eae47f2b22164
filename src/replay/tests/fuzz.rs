//! Property tests: random bytes and random mutations of the samples never panic or loop, and every importer ends
//! (after at most one error) with a bounded number of records.

use proptest::prelude::*;

use super::blkparse::SAMPLE as BLKPARSE_SAMPLE;
use super::export::{devices, SAMPLE as EVENTS};
use super::iolog::{FIO_RANDRW, FORMATS_V3};
use super::strace::T_Y;
use crate::replay::blkparse::BlkparseImporter;
use crate::replay::blktrace::BlktraceImporter;
use crate::replay::export::write_blktrace_to;
use crate::replay::iolog::{IologImporter, IologOptions};
use crate::replay::strace::StraceImporter;
use crate::replay::{BlockOptions, Importer, Through};

/// Runs an importer to its end: at most one error, then `None` for good; records bounded by the input size.
fn drain<I: Importer>(mut imp: I, input_len: usize) {
    let limit = 64 * (input_len as u64 + 1);
    let mut n = 0u64;
    for r in imp.by_ref() {
        n += 1;
        assert!(n <= limit, "more than {limit} records from {input_len} bytes");
        if r.is_err() {
            break;
        }
    }
    assert!(imp.next().is_none(), "records after the end or the error");
    let st = imp.stats();
    assert!(st.ops <= n, "{st:?}");
    let _ = (imp.files(), imp.processes(), imp.threads());
}

fn all_text(bytes: &[u8]) {
    let opts = BlockOptions { through: Through::Cache, ..Default::default() };
    drain(BlkparseImporter::new("f", bytes, opts), bytes.len());
    drain(IologImporter::new("f", bytes, IologOptions { direct: false, trim_as_punch_hole: true }), bytes.len());
    drain(StraceImporter::new("f", bytes), bytes.len());
}

fn blktrace(streams: &[Vec<u8>]) {
    let inputs = streams.iter().map(|s| ("f".to_string(), &s[..])).collect();
    drain(BlktraceImporter::new(inputs, BlockOptions::default()), streams.iter().map(Vec::len).sum());
}

/// One edit of a text: (kind, line, position, bytes).
fn mutate(text: &str, edits: &[(u8, usize, usize, Vec<u8>)]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
    for (kind, line, pos, bytes) in edits {
        if lines.is_empty() {
            lines.push(Vec::new());
        }
        let i = line % lines.len();
        let l = &mut lines[i];
        let at = if l.is_empty() { 0 } else { pos % (l.len() + 1) };
        match kind % 8 {
            0 => {
                lines.remove(i);
            }
            1 => {
                let copy = l.clone();
                lines.insert(i, copy);
            }
            2 => l.truncate(at),
            3 => l.splice(at..at, bytes.iter().copied()).for_each(drop),
            4 => {
                // Replace the token at `at` with a large or negative number.
                let end =
                    l[at..].iter().position(|b| b.is_ascii_whitespace() || *b == b',').map_or(l.len(), |e| at + e);
                let n = ["18446744073709551615", "-1", "9223372036854775807", "0", "4294967296"][*pos % 5];
                l.splice(at..end, n.bytes()).for_each(drop);
            }
            5 => {
                let j = pos % lines.len();
                lines.swap(i, j);
            }
            6 => {
                if let Some(b) = l.get_mut(at) {
                    *b ^= bytes.first().copied().unwrap_or(0x20);
                }
            }
            _ => lines.insert(i, bytes.clone()),
        }
    }
    let mut out = lines.join(&b'\n');
    out.push(b'\n');
    out
}

fn edits() -> impl Strategy<Value = Vec<(u8, usize, usize, Vec<u8>)>> {
    prop::collection::vec(
        (any::<u8>(), any::<usize>(), any::<usize>(), prop::collection::vec(any::<u8>(), 0..12)),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        all_text(&bytes);
        blktrace(std::slice::from_ref(&bytes));
        blktrace(&[bytes[..bytes.len() / 2].to_vec(), bytes[bytes.len() / 2..].to_vec()]);
    }

    #[test]
    fn mutated_text_samples_never_panic(e in edits(), which in 0usize..4) {
        let sample = [BLKPARSE_SAMPLE, FORMATS_V3, FIO_RANDRW, T_Y][which];
        let bytes = mutate(sample, &e);
        all_text(&bytes);
    }

    #[test]
    fn mutated_binary_never_panics(
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..16),
        cut in any::<usize>(),
        split in any::<usize>(),
    ) {
        let evs = super::events(EVENTS);
        let mut bin = Vec::new();
        write_blktrace_to(&evs, &devices(), &mut bin).unwrap();
        for (at, x) in flips {
            let n = bin.len();
            bin[at % n] ^= x;
        }
        bin.truncate(cut % (bin.len() + 1));
        let s = split % (bin.len() + 1);
        blktrace(std::slice::from_ref(&bin));
        blktrace(&[bin[..s].to_vec(), bin[s..].to_vec()]);
    }
}
