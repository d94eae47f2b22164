//! cachestat(2) results, one line per `Cachestat` op, as both the simulator (`pcsim run --out`) and the probe write
//! them to `cachestat.txt`:
//!
//! ```text
//! # time_ns task file off len nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted
//! 1503211 reader data 0 0 4096 0 0 0 0
//! ```
//! `time_ns` is the op's start from the start of the run (the model's virtual clock, the probe's CLOCK_MONOTONIC),
//! so the two sides are aligned by task and by the op's position among that task's cachestat ops, never by time.
//! Counts are compared exactly; over several probe runs each count is also set against the kernel's range.

use std::collections::BTreeMap;

use serde::Serialize;

/// The header line of cachestat.txt.
pub const HEADER: &str = "# time_ns task file off len nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted";

/// The five counts, in cachestat.txt's (and struct cachestat's) order.
pub const FIELDS: [&str; 5] = ["nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted"];

/// One cachestat op's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    pub time_ns: u64,
    pub task: String,
    pub file: String,
    pub off: u64,
    pub len: u64,
    /// nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted.
    pub counts: [u64; 5],
}

impl Record {
    /// The record's line (without a newline).
    pub fn line(&self) -> String {
        let [c, d, w, e, r] = self.counts;
        format!("{} {} {} {} {} {c} {d} {w} {e} {r}", self.time_ns, self.task, self.file, self.off, self.len)
    }
}

/// cachestat.txt with its header.
pub fn format(records: &[Record]) -> String {
    let mut s = format!("{HEADER}\n");
    for r in records {
        s.push_str(&r.line());
        s.push('\n');
    }
    s
}

/// Parses a cachestat.txt; errors give the 1-based line.
pub fn parse(text: &str) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for (line, cols) in super::table_rows(text, HEADER)? {
        let err = |msg: String| format!("line {line}: {msg}");
        let num = |k: usize| {
            cols[k]
                .parse::<u64>()
                .map_err(|_| err(format!("column {}: `{}` is not an unsigned integer", k + 1, cols[k])))
        };
        let mut counts = [0u64; 5];
        for (j, c) in counts.iter_mut().enumerate() {
            *c = num(5 + j)?;
        }
        out.push(Record {
            time_ns: num(0)?,
            task: cols[1].to_string(),
            file: cols[2].to_string(),
            off: num(3)?,
            len: num(4)?,
            counts,
        });
    }
    Ok(out)
}

/// One cachestat op on both sides: the `n`-th (from 1) of its task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpReport {
    pub task: String,
    pub n: usize,
    pub file: String,
    pub off: u64,
    pub len: u64,
    /// `None`: the op is missing on that side.
    pub sim: Option<[u64; 5]>,
    pub probe: Option<[u64; 5]>,
}

impl OpReport {
    pub fn equal(&self) -> bool {
        self.sim.is_some() && self.sim == self.probe
    }
}

/// Pairs the two sides' records by task and position.
pub fn compare(sim: &[Record], probe: &[Record]) -> Vec<OpReport> {
    let mut by_task: BTreeMap<&str, [Vec<&Record>; 2]> = BTreeMap::new();
    for (side, list) in [sim, probe].into_iter().enumerate() {
        for r in list {
            by_task.entry(r.task.as_str()).or_default()[side].push(r);
        }
    }
    let mut out = Vec::new();
    for (task, [s, p]) in by_task {
        for n in 0..s.len().max(p.len()) {
            let any = s.get(n).or(p.get(n)).expect("one side has the n-th op");
            out.push(OpReport {
                task: task.to_string(),
                n: n + 1,
                file: any.file.clone(),
                off: any.off,
                len: any.len,
                sim: s.get(n).map(|r| r.counts),
                probe: p.get(n).map(|r| r.counts),
            });
        }
    }
    out
}

/// One count of one op over several probe runs: the model's value and the kernel's range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldRange {
    pub task: String,
    pub n: usize,
    pub field: &'static str,
    pub sim: Option<u64>,
    /// The kernel's smallest and largest value over the runs that have the op.
    pub probe_min: u64,
    pub probe_max: u64,
    /// The kernel gave the same value in every run.
    pub repeatable: bool,
    /// The model's value lies inside the kernel's range.
    pub within: bool,
}

/// Per op and count: the model against the kernel's range over the runs (each run already paired by `compare`).
pub fn ranges(runs: &[Vec<OpReport>]) -> Vec<FieldRange> {
    // (task, n) -> (the model's counts, the kernel's counts per run).
    type Sides = (Option<[u64; 5]>, Vec<[u64; 5]>);
    let mut acc: BTreeMap<(String, usize), Sides> = BTreeMap::new();
    for run in runs {
        for op in run {
            let e = acc.entry((op.task.clone(), op.n)).or_default();
            e.0 = e.0.or(op.sim);
            e.1.extend(op.probe);
        }
    }
    let mut out = Vec::new();
    for ((task, n), (sim, probe)) in acc {
        if probe.is_empty() {
            continue;
        }
        for (f, field) in FIELDS.iter().enumerate() {
            let (lo, hi) = probe.iter().fold((u64::MAX, 0), |(lo, hi), c| (lo.min(c[f]), hi.max(c[f])));
            let s = sim.map(|c| c[f]);
            out.push(FieldRange {
                task: task.clone(),
                n,
                field,
                sim: s,
                probe_min: lo,
                probe_max: hi,
                repeatable: lo == hi && probe.len() == runs.len(),
                within: s.is_some_and(|v| lo <= v && v <= hi),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(task: &str, time_ns: u64, counts: [u64; 5]) -> Record {
        Record { time_ns, task: task.into(), file: "data".into(), off: 0, len: 0, counts }
    }

    #[test]
    fn lines_round_trip_and_errors_name_the_line() {
        let rs = vec![rec("reader", 10, [4096, 0, 0, 0, 0]), rec("other", 20, [1, 2, 3, 4, 5])];
        let text = format(&rs);
        assert!(text.starts_with(HEADER));
        assert_eq!(parse(&text).unwrap(), rs);
        let e = parse("# x\n1 t f 0 0 1 2 3 4\n").unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("10 columns"), "{e}");
        let e = parse("1 t f 0 0 1 2 x 4 5\n").unwrap_err();
        assert!(e.contains("column 8") && e.contains("`x`"), "{e}");
    }

    #[test]
    fn ops_pair_by_task_and_position_not_time() {
        let sim = vec![rec("a", 5, [1, 0, 0, 0, 0]), rec("b", 6, [2, 0, 0, 0, 0]), rec("a", 7, [3, 0, 0, 0, 0])];
        let probe = vec![rec("a", 900, [1, 0, 0, 0, 0]), rec("a", 901, [4, 0, 0, 0, 0])];
        let r = compare(&sim, &probe);
        assert_eq!(r.len(), 3);
        assert!(r[0].equal() && (r[0].task.as_str(), r[0].n) == ("a", 1));
        assert!(!r[1].equal() && r[1].n == 2);
        assert_eq!((r[2].task.as_str(), r[2].probe), ("b", None));
    }

    #[test]
    fn ranges_over_runs() {
        let sim = vec![rec("a", 1, [10, 0, 0, 5, 2])];
        let runs: Vec<Vec<OpReport>> =
            [[10, 0, 0, 5, 1], [10, 0, 0, 5, 3]].iter().map(|c| compare(&sim, &[rec("a", 1, *c)])).collect();
        let r = ranges(&runs);
        assert_eq!(r.len(), 5);
        let cache = &r[0];
        assert!(cache.repeatable && cache.within && cache.probe_min == 10);
        let recent = &r[4];
        assert_eq!((recent.field, recent.probe_min, recent.probe_max), ("nr_recently_evicted", 1, 3));
        assert!(!recent.repeatable && recent.within);
    }
}
