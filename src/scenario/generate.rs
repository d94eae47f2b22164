//! Synthetic access-pattern generators (`Generate(...)` in a task's op list), and the random streams they draw from.
//!
//! A generator walks `range` in blocks of `block` bytes and issues one I/O op per block chosen by its pattern:
//!
//! ```text
//!  range.off                                                    range.off + range.len
//!  |  slot 0  |  slot 1  |  slot 2  |   ...   | slot n-1 (may be short) |
//!  Sequential: 0 1 2 ... n-1 0 1 ...      Reverse: n-1 n-2 ... 0 n-1 ...
//!  Strided(stride): offsets 0, stride, 2*stride, ... (< range.len), then the same again
//!  Random: uniform slot   Zipfian(theta): slot of a Zipf(theta) rank   HotCold: hot prefix gets hot_share
//!  Interleaved(streams: 2), per = n / 2 slots per part: 0, per, 1, per+1, 2, per+2, ... (leftover slots unused)
//! ```
//!
//! Each op is `min(block, range end - offset)` long, so ops never leave the range. After each I/O op the generator
//! emits `Fsync` (or `Msync` for a mapping) every `fsync_every` ops and `Sleep(think)` when `think` is non-zero.
//! With `syscall: Read` it issues read(2)/write(2) at the file position and emits `Lseek(range.off, Set)` at the
//! start of every pass (only `Sequential` is allowed then).
//!
//! Randomness: each generator owns two ChaCha8 streams (offsets; read/write mix), keyed by [`stream_key`] from the
//! scenario seed, the task index, the generator's ordinal in its task's program (pre-order, counting from 0) and a
//! purpose tag, so adding a generator elsewhere never shifts another's draws. Inside a `Repeat` a generator's
//! random streams continue across repetitions; its pass position restarts at each entry. Integers are drawn with
//! Lemire's unbiased multiply-and-reject, so they are exact and portable. Zipfian uses f64 `ln`/`exp`, which are
//! reproducible on one platform's libm (the usual case); bit-identical sequences across libms are not promised.

use crate::rng::{below, below_threshold, below_with, chacha, unit_f64};
use crate::trace::op::{Fd, MapId, MsyncMode, Op};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// Purpose tags for [`crate::rng::stream_key`].
pub(crate) const PURPOSE_OFFSETS: u64 = 1;
pub(crate) const PURPOSE_MIX: u64 = 2;

/// Zipf(theta) over ranks `1..=n` by rejection-inversion (Hörmann & Derflinger 1996, "Rejection-inversion to
/// generate variates from monotone discrete distributions"), as in Apache Commons RNG and rand_distr: O(1) memory
/// and expected O(1) time per sample for any `n`.
#[derive(Clone, Debug)]
pub(crate) struct Zipf {
    n: f64,
    theta: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    s: f64,
}

impl Zipf {
    pub fn new(n: u64, theta: f64) -> Zipf {
        let mut z = Zipf { n: n as f64, theta, h_integral_x1: 0.0, h_integral_n: 0.0, s: 0.0 };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(z.n + 0.5);
        z.s = 2.0 - z.h_integral_inv(z.h_integral(2.5) - z.h(2.0));
        z
    }
    /// `h(x) = x^-theta`.
    fn h(&self, x: f64) -> f64 {
        (-self.theta * x.ln()).exp()
    }
    /// `H(x) = (x^(1-theta) - 1) / (1-theta)`, continuous through theta = 1 (where it is ln x).
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.theta) * log_x) * log_x
    }
    fn h_integral_inv(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.theta)).max(-1.0);
        (helper1(t) * x).exp()
    }
    /// A rank in `1..=n` (1 is the most popular).
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        loop {
            let u = self.h_integral_n + unit_f64(rng) * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.s || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }
}

/// `ln(1+x)/x`, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1)/x`, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

/// Zipf ranks are scattered over the slots by `slot = (rank - 1) * SCATTER mod n` (a bijection: SCATTER = 2^61 - 1
/// is prime and larger than any slot count), so the hot blocks are not one contiguous run that readahead would
/// treat as sequential (YCSB's "scrambled Zipfian" has the same aim).
const SCATTER: u128 = (1 << 61) - 1;

/// How a generator chooses its next slot.
#[derive(Clone, Debug)]
pub(crate) enum Pattern {
    Sequential,
    Reverse,
    Strided {
        stride: u64,
    },
    Random,
    Zipfian(Zipf),
    /// The first `hot_slots` slots receive `hot_share` of the ops.
    HotCold {
        hot_slots: u64,
        hot_share: f64,
    },
    /// `streams` sequential streams over equal parts of the range, one op from each in turn.
    Interleaved {
        streams: u64,
    },
}

/// What a generator's I/O ops act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Fd(Fd),
    Map(MapId),
}

/// When a generator stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    Ops(u64),
    Bytes(u64),
}

/// A resolved `Generate(...)`: everything checked, every default filled in.
#[derive(Clone, Debug)]
pub(crate) struct GenSpec {
    pub target: Target,
    pub pattern: Pattern,
    pub block: u64,
    pub off: u64,
    pub len: u64,
    pub limit: Limit,
    pub think_ns: u64,
    pub read_pct: u64,
    pub fsync_every: u64,
    /// read(2)/write(2) at the file position instead of pread/pwrite.
    pub use_file_pos: bool,
    pub offsets_key: u64,
    pub mix_key: u64,
}

impl GenSpec {
    /// Slots in the range (the last may be short).
    pub fn slots(&self) -> u64 {
        self.len.div_ceil(self.block)
    }
    /// Ops in one pass: every slot, or every stride position.
    pub fn pass_ops(&self) -> u64 {
        match self.pattern {
            Pattern::Strided { stride } => self.len.div_ceil(stride),
            Pattern::Interleaved { streams } => self.slots() / streams * streams,
            _ => self.slots(),
        }
    }
}

/// A generator's random streams; they outlive one entry into the generator (see the module doc).
#[derive(Clone, Debug)]
pub(crate) struct GenRng {
    offsets: ChaCha8Rng,
    mix: ChaCha8Rng,
}

impl GenRng {
    pub fn new(spec: &GenSpec) -> GenRng {
        GenRng { offsets: chacha(spec.offsets_key), mix: chacha(spec.mix_key) }
    }
}

/// Progress through one entry into a generator.
#[derive(Clone, Debug, Default)]
pub(crate) struct GenState {
    ops: u64,
    bytes: u64,
    pending: VecDeque<Op>,
    /// The spec's slot count and `below`'s threshold for it, computed at the first op (two divisions per op saved).
    slots: Option<(u64, u64)>,
}

impl GenState {
    fn done(&self, limit: Limit) -> bool {
        match limit {
            Limit::Ops(n) => self.ops >= n,
            Limit::Bytes(b) => self.bytes >= b,
        }
    }

    /// The byte offset of the `k`-th op.
    fn offset(&mut self, spec: &GenSpec, rng: &mut ChaCha8Rng) -> u64 {
        let k = self.ops;
        let (n, threshold) = *self.slots.get_or_insert_with(|| {
            let n = spec.slots();
            (n, below_threshold(n.max(1)))
        });
        let slot = match &spec.pattern {
            Pattern::Sequential => k % n,
            Pattern::Reverse => n - 1 - k % n,
            Pattern::Strided { stride } => return spec.off + (k % spec.pass_ops()) * stride,
            Pattern::Interleaved { streams } => {
                let per = n / streams;
                (k % streams) * per + (k / streams) % per
            }
            Pattern::Random => below_with(rng, n, threshold),
            Pattern::Zipfian(z) => ((u128::from(z.sample(rng) - 1) * SCATTER) % u128::from(n)) as u64,
            Pattern::HotCold { hot_slots, hot_share } => {
                if *hot_slots >= n {
                    below(rng, n)
                } else if unit_f64(rng) < *hot_share {
                    below(rng, *hot_slots)
                } else {
                    hot_slots + below(rng, n - hot_slots)
                }
            }
        };
        spec.off + slot * spec.block
    }

    /// The next op of this entry into the generator, or `None` when its count or byte budget is spent.
    pub fn next(&mut self, spec: &GenSpec, rng: &mut GenRng) -> Option<Op> {
        if let Some(op) = self.pending.pop_front() {
            return Some(op);
        }
        if self.done(spec.limit) {
            return None;
        }
        let off = self.offset(spec, &mut rng.offsets);
        let len = spec.block.min(spec.off + spec.len - off);
        let write = match spec.read_pct {
            100.. => false,
            0 => true,
            pct => below(&mut rng.mix, 100) >= pct,
        };
        let io = match (spec.target, spec.use_file_pos, write) {
            (Target::Map(map), _, write) => Op::Touch { map, off, len, write },
            (Target::Fd(fd), true, false) => Op::Read { fd, len },
            (Target::Fd(fd), true, true) => Op::Write { fd, len },
            (Target::Fd(fd), false, false) => Op::Pread { fd, off, len },
            (Target::Fd(fd), false, true) => Op::Pwrite { fd, off, len },
        };
        if let (Target::Fd(fd), true) = (spec.target, spec.use_file_pos) {
            if self.ops % spec.pass_ops() == 0 {
                self.pending.push_back(Op::Lseek { fd, off: spec.off as i64, whence: crate::trace::op::Whence::Set });
            }
        }
        self.ops += 1;
        self.bytes += len;
        let fsync_due = spec.fsync_every > 0 && self.ops % spec.fsync_every == 0;
        // The common case, a lone read or write: handed out without the queue.
        if self.pending.is_empty() && !fsync_due && spec.think_ns == 0 {
            return Some(io);
        }
        self.pending.push_back(io);
        if fsync_due {
            self.pending.push_back(match spec.target {
                Target::Fd(fd) => Op::Fsync { fd },
                Target::Map(map) => Op::Msync { map, off: 0, len: 0, mode: MsyncMode::Sync },
            });
        }
        if spec.think_ns > 0 {
            self.pending.push_back(Op::Sleep { ns: spec.think_ns });
        }
        self.pending.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream_key;

    fn spec(pattern: Pattern, off: u64, len: u64, limit: Limit) -> GenSpec {
        GenSpec {
            target: Target::Fd(Fd(0)),
            pattern,
            block: 4096,
            off,
            len,
            limit,
            think_ns: 0,
            read_pct: 100,
            fsync_every: 0,
            use_file_pos: false,
            offsets_key: stream_key(1, 0, 0, PURPOSE_OFFSETS),
            mix_key: stream_key(1, 0, 0, PURPOSE_MIX),
        }
    }

    fn run(s: &GenSpec) -> Vec<Op> {
        let mut rng = GenRng::new(s);
        let mut st = GenState::default();
        std::iter::from_fn(|| st.next(s, &mut rng)).collect()
    }

    fn offsets(ops: &[Op]) -> Vec<u64> {
        ops.iter()
            .filter_map(|op| match op {
                Op::Pread { off, .. } | Op::Pwrite { off, .. } | Op::Touch { off, .. } => Some(*off),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn sequential_reverse_and_strided_windows() {
        let seq = run(&spec(Pattern::Sequential, 8192, 5 * 4096 + 100, Limit::Ops(7)));
        assert_eq!(offsets(&seq), [8192, 12288, 16384, 20480, 24576, 28672, 8192]);
        // The short last slot is clipped to the range.
        assert_eq!(seq[5], Op::Pread { fd: Fd(0), off: 28672, len: 100 });
        let rev = run(&spec(Pattern::Reverse, 0, 4 * 4096, Limit::Ops(5)));
        assert_eq!(offsets(&rev), [12288, 8192, 4096, 0, 12288]);
        let s = spec(Pattern::Strided { stride: 65536 }, 0, 256 * 1024, Limit::Ops(5));
        assert_eq!(s.pass_ops(), 4);
        assert_eq!(offsets(&run(&s)), [0, 65536, 131072, 196608, 0]);
        // Two streams over 5 slots: parts of 2 slots, the fifth slot unused.
        let s = spec(Pattern::Interleaved { streams: 2 }, 0, 5 * 4096, Limit::Ops(6));
        assert_eq!(s.pass_ops(), 4);
        assert_eq!(offsets(&run(&s)), [0, 8192, 4096, 12288, 0, 8192]);
    }

    #[test]
    fn random_offsets_stay_aligned_in_range_and_repeat_with_the_seed() {
        let s = spec(Pattern::Random, 1 << 20, 1 << 20, Limit::Bytes(400 * 4096));
        let a = offsets(&run(&s));
        assert_eq!(a.len(), 400);
        assert!(a.iter().all(|&o| (1 << 20..2 << 20).contains(&o) && o % 4096 == 0));
        assert_eq!(a, offsets(&run(&s)));
        let mut other = s.clone();
        other.offsets_key = stream_key(1, 1, 0, PURPOSE_OFFSETS);
        assert_ne!(a, offsets(&run(&other)));
    }

    #[test]
    fn stream_keys_differ_per_part() {
        let base = stream_key(7, 0, 0, PURPOSE_OFFSETS);
        assert_ne!(base, stream_key(8, 0, 0, PURPOSE_OFFSETS));
        assert_ne!(base, stream_key(7, 1, 0, PURPOSE_OFFSETS));
        assert_ne!(base, stream_key(7, 0, 1, PURPOSE_OFFSETS));
        assert_ne!(base, stream_key(7, 0, 0, PURPOSE_MIX));
    }

    #[test]
    fn zipf_matches_the_exact_distribution() {
        let (n, theta) = (10u64, 0.99);
        let z = Zipf::new(n, theta);
        let mut rng = chacha(42);
        let draws = 200_000;
        let mut hist = vec![0u64; n as usize];
        for _ in 0..draws {
            let k = z.sample(&mut rng);
            assert!((1..=n).contains(&k));
            hist[k as usize - 1] += 1;
        }
        let norm: f64 = (1..=n).map(|k| (k as f64).powf(-theta)).sum();
        for (i, &c) in hist.iter().enumerate() {
            let want = ((i + 1) as f64).powf(-theta) / norm;
            let got = c as f64 / draws as f64;
            assert!((got - want).abs() < 0.005, "rank {}: {got} vs {want}", i + 1);
        }
        // Huge ranges cost nothing up front and stay in range.
        let big = Zipf::new(1 << 40, 1.2);
        assert!((0..1000).all(|_| (1..=1u64 << 40).contains(&big.sample(&mut rng))));
    }

    #[test]
    fn hot_cold_sends_the_hot_share_to_the_prefix() {
        let s = spec(Pattern::HotCold { hot_slots: 10, hot_share: 0.9 }, 0, 100 * 4096, Limit::Ops(20_000));
        let hot = offsets(&run(&s)).iter().filter(|&&o| o < 10 * 4096).count();
        assert!((17_600..18_400).contains(&hot), "{hot}");
    }

    #[test]
    fn mix_think_and_fsync_are_interleaved() {
        let mut s = spec(Pattern::Sequential, 0, 4 * 4096, Limit::Ops(4));
        s.read_pct = 0;
        s.fsync_every = 2;
        s.think_ns = 5;
        let ops = run(&s);
        let names: Vec<_> = ops.iter().map(Op::name).collect();
        assert_eq!(
            names,
            ["pwrite", "sleep", "pwrite", "fsync", "sleep", "pwrite", "sleep", "pwrite", "fsync", "sleep"]
        );
        s.read_pct = 50;
        s.fsync_every = 0;
        s.think_ns = 0;
        s.limit = Limit::Ops(1000);
        let reads = run(&s).iter().filter(|op| matches!(op, Op::Pread { .. })).count();
        assert!((430..570).contains(&reads), "{reads}");
    }

    #[test]
    fn file_position_generators_seek_at_each_pass() {
        let mut s = spec(Pattern::Sequential, 4096, 2 * 4096, Limit::Ops(3));
        s.use_file_pos = true;
        let names: Vec<_> = run(&s).iter().map(Op::name).collect();
        assert_eq!(names, ["lseek", "read", "read", "lseek", "read"]);
    }
}
