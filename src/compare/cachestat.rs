//! Comparing cachestat(2) results of the model and the kernel, op by op (records: `trace::cachestat`).

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::trace::cachestat::{Record, FIELDS};

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
