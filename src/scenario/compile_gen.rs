//! Compiles a `Generate(...)` op's parameters into a [`GenSpec`]: its block, range, read mix, pattern, syscall and
//! limit checked against the target it walks (the descriptor or mapping `compile` resolved), in that order, every
//! error pointing at the offending field.

use super::diag::{error, fmt_size};
use super::generate::{GenSpec, Limit, Pattern, Target, Zipf};
use super::locate::Loc;
use super::schema::{OpDoc, PatternDoc, RangeDoc, SyscallDoc};
use super::ScenarioError;
use crate::units::Size;

/// What a generator walks: its target, the length of the target's file or mapping, and how messages name it.
pub(super) struct Walked {
    pub target: Target,
    pub len: u64,
    pub what: String,
}

/// Checks the Generate op `op` (at `l` in `origin`) against what it walks; `keys`: its offsets and read/write mix
/// stream keys.
pub(super) fn gen_spec(
    origin: &str,
    op: &OpDoc,
    l: Loc,
    walked: Walked,
    keys: [u64; 2],
) -> Result<GenSpec, ScenarioError> {
    let OpDoc::Generate { pattern, block, range, count, bytes, think, read_pct, fsync_every, syscall, .. } = op else {
        unreachable!("gen_spec() is called on Generate ops");
    };
    let c = Checks { origin, l };
    let block = c.block(*block)?;
    let (off, len) = c.range(*range, &walked)?;
    let read_pct = c.read_pct(*read_pct)?;
    c.inside(&walked, off, len, read_pct)?;
    let slots = len.div_ceil(block);
    let pattern = c.pattern(pattern.unwrap_or(PatternDoc::Sequential), block, slots)?;
    let use_file_pos = c.syscall(*syscall, &walked.target, &pattern)?;
    let limit = c.limit(*count, *bytes, &pattern, len, slots)?;
    Ok(GenSpec {
        target: walked.target,
        pattern,
        block,
        off,
        len,
        limit,
        think_ns: think.0,
        read_pct,
        fsync_every: *fsync_every,
        use_file_pos,
        offsets_key: keys[0],
        mix_key: keys[1],
    })
}

/// The checks of one Generate op: where its errors point.
struct Checks<'a> {
    origin: &'a str,
    /// The op.
    l: Loc<'a>,
}

impl Checks<'_> {
    /// An error at the op's field `field`.
    fn err(&self, field: &str, msg: String, hint: Option<String>) -> ScenarioError {
        error(self.origin, self.l.field(field).pos(), msg, hint)
    }

    /// The block size (4k when left out), not 0.
    fn block(&self, block: Option<Size>) -> Result<u64, ScenarioError> {
        let block = block.map_or(4096, |b| b.0);
        if block == 0 {
            return Err(self.err("block", "block size is 0".into(), Some("use e.g. block: \"4k\"".into())));
        }
        Ok(block)
    }

    /// The range's offset and length (to the end of the target when left out), not empty.
    fn range(&self, range: Option<RangeDoc>, walked: &Walked) -> Result<(u64, u64), ScenarioError> {
        let off = range.map_or(0, |r| r.off.0);
        let len = match range.and_then(|r| r.len) {
            Some(len) => len.0,
            None => walked.len.saturating_sub(off),
        };
        if len == 0 {
            return Err(self.err(
                "range",
                format!("the generator's range is empty (the {} is {})", walked.what, fmt_size(walked.len)),
                Some("give `range: (off: ..., len: ...)`".into()),
            ));
        }
        Ok((off, len))
    }

    /// The percentage of ops that read (100 when left out), at most 100.
    fn read_pct(&self, read_pct: Option<u64>) -> Result<u64, ScenarioError> {
        let read_pct = read_pct.unwrap_or(100);
        if read_pct > 100 {
            return Err(self.err(
                "read_pct",
                format!("read_pct = {read_pct} is above 100"),
                Some("read_pct is the percentage of ops that read, 0..=100".into()),
            ));
        }
        Ok(read_pct)
    }

    /// Checks that the range lies inside the target, unless it is a file some ops write (writes extend it).
    fn inside(&self, walked: &Walked, off: u64, len: u64, read_pct: u64) -> Result<(), ScenarioError> {
        let past_end = off.checked_add(len).is_none_or(|end| end > walked.len);
        let is_map = matches!(walked.target, Target::Map(_));
        if past_end && (is_map || read_pct == 100) {
            return Err(self.err(
                "range",
                format!(
                    "range [{}, +{}) is past the end of the {} ({})",
                    fmt_size(off),
                    fmt_size(len),
                    walked.what,
                    fmt_size(walked.len)
                ),
                Some(if is_map {
                    "touching outside a mapping is SIGSEGV on the real kernel".into()
                } else {
                    "reads past the end of a file return nothing".into()
                }),
            ));
        }
        Ok(())
    }

    /// The access pattern over the range's `slots` blocks, its parameters checked.
    fn pattern(&self, pattern: PatternDoc, block: u64, slots: u64) -> Result<Pattern, ScenarioError> {
        Ok(match pattern {
            PatternDoc::Sequential => Pattern::Sequential,
            PatternDoc::Reverse => Pattern::Reverse,
            PatternDoc::Strided { stride } => {
                if stride.0 == 0 || stride.0 % block != 0 {
                    return Err(self.err(
                        "pattern",
                        format!(
                            "stride {} is not a non-zero multiple of block ({})",
                            fmt_size(stride.0),
                            fmt_size(block)
                        ),
                        Some("offsets stay block-aligned, so the stride must be a multiple of the block".into()),
                    ));
                }
                Pattern::Strided { stride: stride.0 }
            }
            PatternDoc::Random => Pattern::Random,
            PatternDoc::Zipfian { theta } => {
                if !(theta > 0.0 && theta <= 10.0) {
                    return Err(self.err(
                        "pattern",
                        format!("Zipfian theta = {theta} is outside (0, 10]"),
                        Some("YCSB's default is 0.99".into()),
                    ));
                }
                Pattern::Zipfian(Zipf::new(slots, theta))
            }
            PatternDoc::HotCold { hot_fraction, hot_share } => {
                if !(hot_fraction > 0.0 && hot_fraction <= 1.0 && (0.0..=1.0).contains(&hot_share)) {
                    return Err(self.err(
                        "pattern",
                        format!("HotCold(hot_fraction: {hot_fraction}, hot_share: {hot_share}) is out of range"),
                        Some("hot_fraction is in (0, 1], hot_share in [0, 1]".into()),
                    ));
                }
                let hot_slots = ((slots as f64 * hot_fraction).round() as u64).clamp(1, slots);
                Pattern::HotCold { hot_slots, hot_share }
            }
            PatternDoc::Interleaved { streams } => {
                if streams == 0 || streams > slots {
                    return Err(self.err(
                        "pattern",
                        format!("Interleaved streams = {streams} is outside 1..={slots} (the range's blocks)"),
                        None,
                    ));
                }
                Pattern::Interleaved { streams }
            }
        })
    }

    /// Whether the generator uses the file position (`syscall: Read`), which needs a descriptor and a sequential
    /// walk.
    fn syscall(&self, syscall: Option<SyscallDoc>, target: &Target, pattern: &Pattern) -> Result<bool, ScenarioError> {
        let use_file_pos = syscall == Some(SyscallDoc::Read);
        if use_file_pos && (matches!(target, Target::Map(_)) || !matches!(pattern, Pattern::Sequential)) {
            return Err(self.err(
                "syscall",
                "syscall: Read needs `fd:` and pattern: Sequential".into(),
                Some("read(2) uses the file position, so only a sequential walk makes sense; use Pread".into()),
            ));
        }
        Ok(use_file_pos)
    }

    /// When the generator stops: after `count` ops or `bytes` of I/O (not both, neither 0), by default after one
    /// pass over the range.
    fn limit(
        &self,
        count: Option<u64>,
        bytes: Option<Size>,
        pattern: &Pattern,
        len: u64,
        slots: u64,
    ) -> Result<Limit, ScenarioError> {
        Ok(match (count, bytes) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "bytes",
                    "count and bytes are both given".into(),
                    Some("give one: count (ops) or bytes (total I/O)".into()),
                ))
            }
            (Some(0), None) => return Err(self.err("count", "count is 0".into(), None)),
            (None, Some(b)) if b.0 == 0 => return Err(self.err("bytes", "bytes is 0".into(), None)),
            (Some(n), None) => Limit::Ops(n),
            (None, Some(b)) => Limit::Bytes(b.0),
            (None, None) => Limit::Ops(match *pattern {
                Pattern::Strided { stride } => len.div_ceil(stride),
                Pattern::Interleaved { streams } => slots / streams * streams,
                _ => slots,
            }),
        })
    }
}
