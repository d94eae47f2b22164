//! A synthetic blktrace v7 stream of any length, generated on the fly in constant memory, for the scale benchmarks
//! (`pcsim bench replay`) and tests: what a busy disk's blktrace looks like, record for record.
//!
//! Each I/O is five records as the kernel writes them for a request that neither merges nor splits: `Q` (queued),
//! `G` (got a request), `I` (inserted), `D` (issued), `C` (completed), 10 µs apart, one I/O starting every 100 µs.
//! I/Os come from `tasks` pids in turn; each pid reads and writes sequential runs of 4 KiB to 128 KiB requests
//! (a run of 1 to 64 requests, then a jump to a random 1 MiB-aligned offset in its own region of the device),
//! `write_pct` % writes (30 by default); every `flush_every`-th I/O of a pid (1000 by default) is a preflush + FUA write (an fsync's journal
//! commit, `FWFS`). Offsets, sizes and
//! mix come from a SplitMix64 stream of `seed`: the same parameters give the same bytes.

use std::io::{self, Read};

/// `BLK_TC_*` bits (before the shift) and `__BLK_TA_*` codes used here.
const TC_READ: u32 = 1;
const TC_WRITE: u32 = 2;
const TC_FLUSH: u32 = 4;
const TC_SYNC: u32 = 8;
const TC_QUEUE: u32 = 16;
const TC_ISSUE: u32 = 64;
const TC_COMPLETE: u32 = 128;
const TC_FS: u32 = 256;
const TC_FUA: u32 = 1 << 15;

/// The shape of a synthetic trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Synthetic {
    /// Records in the stream (a multiple of 5 gives whole I/Os; the last I/O is cut otherwise).
    pub records: u64,
    /// Pids issuing I/O.
    pub tasks: u32,
    /// The device's size in bytes (each task has its own equal region of it).
    pub device_bytes: u64,
    /// The random stream's seed.
    pub seed: u64,
    /// Every this many I/Os of a pid, a preflush + FUA write (0: none).
    pub flush_every: u64,
    /// Percentage of the other I/Os that write.
    pub write_pct: u64,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic { records: 5_000_000, tasks: 4, device_bytes: 16 << 30, seed: 1, flush_every: 1000, write_pct: 30 }
    }
}

struct TaskState {
    next_sector: u64,
    run_left: u32,
    ios: u64,
}

/// The stream: an `io::Read` producing the records.
pub struct SyntheticReader {
    p: Synthetic,
    rng: u64,
    tasks: Vec<TaskState>,
    written: u64,
    io: u64,
    buf: Vec<u8>,
    pos: usize,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Synthetic {
    /// The stream of this trace.
    pub fn reader(self) -> SyntheticReader {
        let tasks = (0..self.tasks.max(1)).map(|_| TaskState { next_sector: 0, run_left: 0, ios: 0 }).collect();
        SyntheticReader { p: self, rng: self.seed, tasks, written: 0, io: 0, buf: Vec::with_capacity(5 * 48), pos: 0 }
    }

    /// The stream's length in bytes.
    pub fn bytes(&self) -> u64 {
        self.records * 48
    }
}

impl SyntheticReader {
    /// Appends the five records of the next I/O to `buf`.
    fn next_io(&mut self) {
        let ntasks = self.tasks.len() as u64;
        let t = (self.io % ntasks) as usize;
        let region = (self.p.device_bytes / 512 / ntasks).max(1 << 12);
        let r = splitmix(&mut self.rng);
        let st = &mut self.tasks[t];
        if st.run_left == 0 {
            st.run_left = 1 + (r & 63) as u32;
            st.next_sector = ((r >> 8) % (region >> 11)) << 11;
        }
        st.run_left -= 1;
        st.ios += 1;
        let sectors = 8u64 << ((r >> 40) % 6);
        let sector = t as u64 * region + st.next_sector;
        st.next_sector = (st.next_sector + sectors) % region;
        let write = (r >> 48) % 100 < self.p.write_pct;
        let flush = self.p.flush_every > 0 && st.ios % self.p.flush_every == 0;
        let cats = if flush {
            TC_WRITE | TC_FLUSH | TC_FUA | TC_SYNC
        } else if write {
            TC_WRITE
        } else {
            TC_READ | TC_SYNC
        };
        let time = self.io * 100_000;
        let pid = 1000 + t as u32;
        let bytes = (sectors * 512) as u32;
        for (k, (act, tc)) in
            [(1, TC_QUEUE), (4, TC_QUEUE), (12, TC_QUEUE | TC_FS), (7, TC_ISSUE | TC_FS), (8, TC_COMPLETE | TC_FS)]
                .into_iter()
                .enumerate()
        {
            self.written += 1;
            let mut h = [0u8; 48];
            h[0..4].copy_from_slice(&0x6561_7407u32.to_le_bytes());
            h[4..8].copy_from_slice(&(self.written as u32).to_le_bytes());
            h[8..16].copy_from_slice(&(time + k as u64 * 10_000).to_le_bytes());
            h[16..24].copy_from_slice(&sector.to_le_bytes());
            h[24..28].copy_from_slice(&bytes.to_le_bytes());
            h[28..32].copy_from_slice(&(act | ((tc | cats) << 16)).to_le_bytes());
            h[32..36].copy_from_slice(&(if act == 8 { 0 } else { pid }).to_le_bytes());
            h[36..40].copy_from_slice(&(8u32 << 20).to_le_bytes());
            self.buf.extend_from_slice(&h);
            if self.written == self.p.records {
                break;
            }
        }
        self.io += 1;
    }
}

impl Read for SyntheticReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if self.pos == self.buf.len() {
                if self.written >= self.p.records {
                    break;
                }
                self.buf.clear();
                self.pos = 0;
                self.next_io();
            }
            let k = (self.buf.len() - self.pos).min(out.len() - n);
            out[n..n + k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n += k;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::blktrace::BlktraceImporter;
    use crate::replay::{BlockOptions, Importer};
    use crate::trace::op::Op;

    #[test]
    fn the_stream_is_what_the_importer_reads() {
        let p = Synthetic {
            records: 5 * 5000 + 3,
            tasks: 3,
            device_bytes: 1 << 30,
            seed: 7,
            flush_every: 1000,
            write_pct: 30,
        };
        let mut bytes = Vec::new();
        p.reader().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, p.bytes());
        let mut again = Vec::new();
        p.reader().read_to_end(&mut again).unwrap();
        assert_eq!(bytes, again, "deterministic");
        let mut imp = BlktraceImporter::new(vec![("s".into(), p.reader())], BlockOptions::default());
        let ops: Vec<Op> = imp.by_ref().map(|r| r.unwrap().op).collect();
        let st = imp.stats();
        assert_eq!(st.records, p.records);
        // 5001 I/Os queued (the last one cut after its Q, G and I records); each task's 1000th I/O is a preflush
        // FUA write: an Fdatasync before its Pwrite.
        let count = |f: fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count();
        assert_eq!(count(|o| matches!(o, Op::Pread { .. } | Op::Pwrite { .. })), 5001);
        assert_eq!(count(|o| matches!(o, Op::Fdatasync { .. })), 3);
        // One descriptor per task, and a second (O_DSYNC, for FUA) per task that flushed.
        assert_eq!(count(|o| matches!(o, Op::Open { .. })), 6);
        assert_eq!(imp.threads().len(), 3);
        assert!(imp.files()[0].size <= 1 << 30);
        assert_eq!(st.sequence_gaps.values().map(|g| g.missing).sum::<u64>(), 0);
        assert_eq!(st.skipped("not_queue_event"), 4 * 5000 + 2);
    }
}
