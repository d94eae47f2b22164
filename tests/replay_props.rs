//! Property: whatever a trace holds, a replay ends with a result or an error, never a panic: mutated sample traces
//! of the four formats go through the whole pipeline (first pass, the replay's scenario, the streamed run through
//! the model), and random bytes through every importer's pipeline as well.

use proptest::prelude::*;

use pcsim::replay::adapt::{Adapt, AdaptOptions};
use pcsim::replay::blkparse::BlkparseImporter;
use pcsim::replay::blktrace::BlktraceImporter;
use pcsim::replay::demux::Demux;
use pcsim::replay::iolog::{IologImporter, IologOptions};
use pcsim::replay::plan::Plan;
use pcsim::replay::scenario_out::{scenario_text, Setup};
use pcsim::replay::strace::StraceImporter;
use pcsim::replay::timing::Timing;
use pcsim::replay::{BlockOptions, Importer, Through};
use pcsim::{Scenario, SimOptions};

const STRACE: &str = include_str!("../traces/replay/cp.strace");
const BLKPARSE: &str = "  8,0    1        1     0.000000000   697  Q   R 2048 + 8 [cat]
  8,0    1        2     0.000100000   697  Q  WS 4096 + 16 [cat]
  8,0    1        3     0.000200000   698  Q FWFS 8192 + 8 [jbd2]
  8,0    1        4     0.000300000   698  Q  FN [jbd2]
  8,0    1        5     0.000400000   697  Q  RA 2056 + 256 [cat]
";
const IOLOG: &str = "fio version 2 iolog
/d/f add
/d/f open
/d/f read 0 4096
/d/f write 8192 4096
/d/f wait 100 0
/d/f sync 0 0
/d/f read 1048576 131072
/d/f datasync 0 0
/d/f close
";

fn importer(format: u8, bytes: &[u8]) -> Box<dyn Importer + Send> {
    let b = bytes.to_vec();
    let block =
        BlockOptions { through: if format % 2 == 0 { Through::Cache } else { Through::Device }, ..Default::default() };
    match format % 4 {
        // As the command reads it: through the adapter (private writable mappings left out).
        0 => Box::new(Adapt::new(Box::new(StraceImporter::new("t", std::io::Cursor::new(b))), AdaptOptions::default())),
        1 => Box::new(BlkparseImporter::new("t", std::io::Cursor::new(b), block)),
        2 => Box::new(IologImporter::new(
            "t",
            std::io::Cursor::new(b),
            IologOptions { direct: false, trim_as_punch_hole: true },
        )),
        _ => Box::new(BlktraceImporter::new(vec![("t".into(), std::io::Cursor::new(b))], block)),
    }
}

/// The whole replay of `bytes`: it may be refused anywhere, but must not panic. Returns whether the model ran it
/// to its end.
fn replay(format: u8, bytes: &[u8], timing: Timing) -> bool {
    let Ok(plan) = Plan::read(importer(format, bytes), &[], |_| {}) else { return false };
    if plan.calls() == 0 {
        return false;
    }
    let setup = Setup { name: "p", seed: 1, machine: None, block: format % 4 == 1 || format % 4 == 3, timing };
    let Ok(text) = scenario_text(&plan, &setup, None, &[]) else { return false };
    let Ok(sc) = Scenario::parse(&text, "p") else { return false };
    // A budget of 8 records in memory: the spill files are exercised too.
    let demux = Demux::new(importer(format, bytes), &plan, timing, std::env::temp_dir()).with_budget(8);
    pcsim::sim::simulate_replay(&sc, &SimOptions::default(), demux).is_ok()
}

/// The event log of the whole replay of `bytes` with `budget` records in memory (`None`: the default).
fn replay_log(format: u8, bytes: &[u8], budget: Option<usize>) -> (Vec<u8>, u64) {
    let plan = Plan::read(importer(format, bytes), &[], |_| {}).unwrap();
    let setup = Setup { name: "p", seed: 1, machine: None, block: format % 4 == 1, timing: Timing::Recorded };
    let sc = Scenario::parse(&scenario_text(&plan, &setup, None, &[]).unwrap(), "p").unwrap();
    let mut demux = Demux::new(importer(format, bytes), &plan, Timing::Recorded, std::env::temp_dir());
    if let Some(b) = budget {
        demux = demux.with_budget(b);
    }
    let opts = SimOptions { events: true, ..Default::default() };
    let run = pcsim::sim::simulate_replay(&sc, &opts, demux).unwrap();
    (run.result.write_events(Vec::new()).unwrap(), run.spilled)
}

#[test]
fn spilling_to_files_does_not_change_the_replay() {
    // pid 700 queues twenty 1 MiB reads 1 µs apart and is stuck in the first while pid 701 starts at 30 µs: 701's
    // first call makes the replay read past 700's other nineteen records, which wait for 700. With a budget of one
    // record in memory they wait in a spill file; the model's run is the same.
    let mut text = String::new();
    for i in 0..20u64 {
        let line = format!("  8,0    0 {:8} {:5}.{:09} 700  Q   R {} + 2048 [big]\n", i + 1, 0, i * 1000, i * 2048);
        text.push_str(&line);
    }
    for i in 0..5u64 {
        let line = format!("  8,0    0 {:8} {:5}.{:09} 701  Q   R {} + 8 [small]\n", i + 21, 0, 30_000 + i, 1 << 20);
        text.push_str(&line);
    }
    for (format, text) in [(0u8, STRACE), (1, text.as_str())] {
        let (a, spilled_a) = replay_log(format, text.as_bytes(), None);
        let (b, spilled_b) = replay_log(format, text.as_bytes(), Some(1));
        assert_eq!(spilled_a, 0, "format {format}");
        assert!(spilled_b > 0 || format == 0, "format {format}: nothing spilled");
        assert!(a.len() > 100 && a == b, "format {format}: the spilled replay differs");
    }
}

#[test]
fn the_unmutated_samples_replay_to_their_end() {
    // So the properties below start from traces the model runs (a mutation then breaks them or not).
    for (format, text) in [(0u8, STRACE), (1, BLKPARSE), (2, IOLOG)] {
        assert!(replay(format, text.as_bytes(), Timing::Recorded), "format {format}");
    }
}

/// A text with some lines edited: dropped, duplicated, cut, or a number replaced by an extreme one.
fn mutate(text: &str, edits: &[(u8, usize, usize)]) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for &(kind, line, pos) in edits {
        if lines.is_empty() {
            break;
        }
        let i = line % lines.len();
        match kind % 4 {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let cut = pos % (lines[i].len() + 1);
                let mut end = cut;
                while !lines[i].is_char_boundary(end) {
                    end -= 1;
                }
                lines[i].truncate(end);
            }
            _ => {
                let n = ["18446744073709551615", "9223372036854771712", "0", "4294967296", "-1"][pos % 5];
                let words: Vec<String> = lines[i]
                    .split(' ')
                    .enumerate()
                    .map(|(k, w)| {
                        if k == pos % 7 && w.bytes().all(|b| b.is_ascii_digit()) && !w.is_empty() {
                            n.to_string()
                        } else {
                            w.to_string()
                        }
                    })
                    .collect();
                lines[i] = words.join(" ");
            }
        }
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mutated_traces_replay_or_are_refused(format in 0u8..3, edits in prop::collection::vec((0u8..4, 0usize..400, 0usize..64), 0..8), fast in any::<bool>()) {
        let text = [STRACE, BLKPARSE, IOLOG][format as usize];
        let format = [0u8, 1, 2][format as usize];
        let timing = if fast { Timing::AsFastAsPossible } else { Timing::Recorded };
        let _ = replay(format, &mutate(text, &edits), timing);
    }

    #[test]
    fn random_bytes_replay_or_are_refused(format in 0u8..4, bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = replay(format, &bytes, Timing::Recorded);
    }

    #[test]
    fn blktrace_records_with_random_fields_replay_or_are_refused(
        recs in prop::collection::vec((any::<u64>(), 0u64..1 << 40, any::<u32>(), 1u32..17, 0u32..1 << 16, 0u32..4), 1..20),
    ) {
        let mut bytes = Vec::new();
        for (i, (time, sector, len, act, cats, pid)) in recs.into_iter().enumerate() {
            bytes.extend_from_slice(&0x6561_7407u32.to_le_bytes());
            bytes.extend_from_slice(&(i as u32 + 1).to_le_bytes());
            bytes.extend_from_slice(&(time % (1 << 40)).to_le_bytes());
            bytes.extend_from_slice(&sector.to_le_bytes());
            bytes.extend_from_slice(&(len % (4 << 20)).to_le_bytes());
            bytes.extend_from_slice(&(act | (cats << 16)).to_le_bytes());
            bytes.extend_from_slice(&pid.to_le_bytes());
            bytes.extend_from_slice(&(8u32 << 20).to_le_bytes());
            bytes.extend_from_slice(&[0; 8]);
        }
        let _ = replay(3, &bytes, Timing::Recorded);
    }
}
