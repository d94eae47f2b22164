//! Sequence alignment of two event streams (already reduced to interned symbols, one per event).
//!
//! The score is the length of a longest common subsequence (LCS): the events both sides have, in the same relative
//! order, so one inserted or missing event costs one event and not the rest of the stream. It is computed as
//! `(N + M - D) / 2` from the insert/delete edit distance `D` found by Myers' greedy O((N+M)·D) algorithm
//! ("An O(ND) Difference Algorithm and Its Variations", 1986), after the usual reductions that do not change the
//! LCS: the common prefix and suffix are matched directly, and symbols that occur on one side only are dropped
//! (they can never be matched).
//!
//! When the streams differ so much that Myers would exceed a work budget (D in the tens of thousands), the
//! alignment falls back to a greedy walk that, at each mismatch, skips to the nearer next occurrence of either
//! side's current symbol on the other side. That walk yields a valid common subsequence, so its score is a lower
//! bound of the true agreement; the result says `exact: false` and the report carries a note.
//!
//! The first disagreement is where the common prefix ends: some optimal alignment always matches the whole
//! common prefix, so that position is where every optimal alignment first departs from "event by event".

/// Default work budget for Myers (diagonal steps plus snake steps), about a second of work in a release build.
pub const DEFAULT_WORK_LIMIT: u64 = 50_000_000;

/// The alignment of two symbol streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alignment {
    /// Events matched in order (the LCS length; a lower bound when `exact` is false).
    pub matched: usize,
    /// Length of the common prefix: the position (0-based) of the first disagreement, if the streams differ.
    pub first_diff: Option<usize>,
    /// Whether `matched` is the exact LCS (Myers) or the greedy fallback's lower bound.
    pub exact: bool,
}

impl Alignment {
    /// matched / max(len_a, len_b); 1.0 for two empty streams.
    pub fn agreement(&self, len_a: usize, len_b: usize) -> f64 {
        ratio(self.matched, len_a.max(len_b))
    }
}

/// `num / den`, with 0/0 = 1 (two empty streams agree).
pub fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

/// Aligns `a` and `b` with the default work budget.
pub fn align(a: &[u32], b: &[u32]) -> Alignment {
    align_with_limit(a, b, DEFAULT_WORK_LIMIT)
}

/// Aligns `a` and `b`; Myers gives up after `work_limit` steps and the greedy fallback takes over.
/// Symbols must be small dense integers (they index tables of size max symbol + 1).
pub fn align_with_limit(a: &[u32], b: &[u32], work_limit: u64) -> Alignment {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let first_diff = (prefix < a.len().max(b.len())).then_some(prefix);
    let (a1, b1) = (&a[prefix..], &b[prefix..]);
    let suffix = a1.iter().rev().zip(b1.iter().rev()).take_while(|(x, y)| x == y).count();
    let (a2, b2) = (&a1[..a1.len() - suffix], &b1[..b1.len() - suffix]);
    let base = prefix + suffix;
    if a2.is_empty() || b2.is_empty() {
        return Alignment { matched: base, first_diff, exact: true };
    }
    // Drop symbols that occur on one side only.
    let nsym = a2.iter().chain(b2).max().map_or(0, |&m| m as usize + 1);
    let mut seen = vec![0u8; nsym];
    for &x in a2 {
        seen[x as usize] |= 1;
    }
    for &x in b2 {
        seen[x as usize] |= 2;
    }
    let a3: Vec<u32> = a2.iter().copied().filter(|&x| seen[x as usize] == 3).collect();
    let b3: Vec<u32> = b2.iter().copied().filter(|&x| seen[x as usize] == 3).collect();
    match myers_distance(&a3, &b3, work_limit) {
        Some(d) => Alignment { matched: base + (a3.len() + b3.len() - d) / 2, first_diff, exact: true },
        None => Alignment { matched: base + greedy_matches(&a3, &b3, nsym), first_diff, exact: false },
    }
}

/// Myers' forward greedy search for the insert/delete edit distance; `None` past `work_limit` steps.
fn myers_distance(a: &[u32], b: &[u32], work_limit: u64) -> Option<usize> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    if max == 0 {
        return Some(0);
    }
    // Each round d costs at least 2d+1 steps, so the budget bounds d by about sqrt(work_limit).
    let d_cap = max.min((work_limit as f64).sqrt() as usize + 2);
    let off = d_cap as isize + 1;
    let mut v = vec![0isize; 2 * d_cap + 3];
    let mut work: u64 = 0;
    for d in 0..=d_cap as isize {
        let mut k = -d;
        while k <= d {
            let i = (k + off) as usize;
            let mut x = if k == -d || (k != d && v[i - 1] < v[i + 1]) { v[i + 1] } else { v[i - 1] + 1 };
            let mut y = x - k;
            let start = x;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            work += 1 + (x - start) as u64;
            v[i] = x;
            if x >= n && y >= m {
                return Some(d as usize);
            }
            k += 2;
        }
        if work > work_limit {
            return None;
        }
    }
    None
}

/// Greedy common subsequence: on a mismatch, skip to the nearer next occurrence of either current symbol on the
/// other side (or drop both when neither recurs). Linear time; a lower bound of the LCS.
fn greedy_matches(a: &[u32], b: &[u32], nsym: usize) -> usize {
    let pos_a = positions(a, nsym);
    let pos_b = positions(b, nsym);
    let mut cur_a = vec![0usize; nsym];
    let mut cur_b = vec![0usize; nsym];
    // Next position >= from of `sym` in a side, advancing that symbol's cursor (positions only move forward).
    fn next(pos: &[Vec<usize>], cur: &mut [usize], sym: u32, from: usize) -> Option<usize> {
        let (p, c) = (&pos[sym as usize], &mut cur[sym as usize]);
        while *c < p.len() && p[*c] < from {
            *c += 1;
        }
        p.get(*c).copied()
    }
    let (mut i, mut j, mut matched) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            matched += 1;
            i += 1;
            j += 1;
            continue;
        }
        let in_b = next(&pos_b, &mut cur_b, a[i], j);
        let in_a = next(&pos_a, &mut cur_a, b[j], i);
        match (in_b, in_a) {
            (Some(jb), Some(ia)) if jb - j <= ia - i => j = jb,
            (Some(_), Some(ia)) | (None, Some(ia)) => i = ia,
            (Some(jb), None) => j = jb,
            (None, None) => {
                i += 1;
                j += 1;
            }
        }
    }
    matched
}

fn positions(s: &[u32], nsym: usize) -> Vec<Vec<usize>> {
    let mut pos = vec![Vec::new(); nsym];
    for (i, &x) in s.iter().enumerate() {
        pos[x as usize].push(i);
    }
    pos
}

/// Events matched regardless of order (multiset intersection size).
pub fn multiset_matches(a: &[u32], b: &[u32]) -> usize {
    let nsym = a.iter().chain(b).max().map_or(0, |&m| m as usize + 1);
    let mut count = vec![0i64; nsym];
    for &x in a {
        count[x as usize] += 1;
    }
    let mut matched = 0;
    for &x in b {
        if count[x as usize] > 0 {
            count[x as usize] -= 1;
            matched += 1;
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference LCS by dynamic programming, O(N·M).
    fn lcs_dp(a: &[u32], b: &[u32]) -> usize {
        let mut row = vec![0usize; b.len() + 1];
        for &x in a {
            let mut diag = 0;
            for (j, &y) in b.iter().enumerate() {
                let up = row[j + 1];
                row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
                diag = up;
            }
        }
        row[b.len()]
    }

    /// A small deterministic generator (xorshift), enough for test data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn identical_and_empty_streams() {
        let a = [1, 2, 3];
        assert_eq!(align(&a, &a), Alignment { matched: 3, first_diff: None, exact: true });
        assert_eq!(align(&[], &[]), Alignment { matched: 0, first_diff: None, exact: true });
        assert_eq!(align(&[], &[]).agreement(0, 0), 1.0);
        let one_empty = align(&a, &[]);
        assert_eq!(one_empty, Alignment { matched: 0, first_diff: Some(0), exact: true });
        assert_eq!(one_empty.agreement(3, 0), 0.0);
        assert_eq!(align(&[], &a).first_diff, Some(0));
    }

    #[test]
    fn one_insertion_costs_one_event() {
        let a: Vec<u32> = (0..1000).collect();
        let mut b = a.clone();
        b.insert(10, 5000);
        let al = align(&a, &b);
        assert_eq!((al.matched, al.first_diff, al.exact), (1000, Some(10), true));
        assert!((al.agreement(a.len(), b.len()) - 1000.0 / 1001.0).abs() < 1e-12);
        // Inserting a copy of an existing symbol (not droppable as one-sided) also costs one.
        let mut c = a.clone();
        c.insert(10, 500);
        assert_eq!(align(&a, &c).matched, 1000);
        assert_eq!(align(&c, &a).matched, 1000);
    }

    #[test]
    fn deletion_and_substitution() {
        let a: Vec<u32> = (0..100).collect();
        let mut del = a.clone();
        del.remove(0);
        assert_eq!(align(&a, &del), Alignment { matched: 99, first_diff: Some(0), exact: true });
        let mut sub = a.clone();
        sub[50] = 7;
        let al = align(&a, &sub);
        assert_eq!((al.matched, al.first_diff), (99, Some(50)));
        let mut tail = a.clone();
        tail.push(3);
        assert_eq!(align(&a, &tail), Alignment { matched: 100, first_diff: Some(100), exact: true });
    }

    #[test]
    fn swapped_pair_costs_one() {
        let a = [1, 2, 3, 4, 5];
        let b = [1, 3, 2, 4, 5];
        assert_eq!(align(&a, &b).matched, 4);
        assert_eq!(multiset_matches(&a, &b), 5);
    }

    #[test]
    fn myers_equals_dynamic_programming_on_random_streams() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..300 {
            let alphabet = 1 + rng.below(6) as u32;
            let a: Vec<u32> = (0..rng.below(40)).map(|_| rng.below(alphabet as u64) as u32).collect();
            let b: Vec<u32> = (0..rng.below(40)).map(|_| rng.below(alphabet as u64) as u32).collect();
            let al = align(&a, &b);
            assert!(al.exact);
            assert_eq!(al.matched, lcs_dp(&a, &b), "case {case}: {a:?} vs {b:?}");
            // The greedy fallback is a lower bound.
            let g = align_with_limit(&a, &b, 0);
            assert!(g.matched <= al.matched, "case {case}");
        }
    }

    #[test]
    fn multiset_counts_duplicates_once_each() {
        assert_eq!(multiset_matches(&[1, 1, 2], &[1, 2, 2]), 2);
        assert_eq!(multiset_matches(&[], &[1]), 0);
    }

    #[test]
    fn large_streams_with_few_edits_are_exact_and_fast() {
        let mut rng = Rng(42);
        let a: Vec<u32> = (0..200_000).map(|i| (i % 5000) as u32).collect();
        let mut b = a.clone();
        for _ in 0..50 {
            let at = rng.below(b.len() as u64) as usize;
            match rng.below(3) {
                0 => {
                    b.insert(at, rng.below(5000) as u32);
                }
                1 => {
                    b.remove(at);
                }
                _ => b[at] = rng.below(5000) as u32,
            }
        }
        let al = align(&a, &b);
        assert!(al.exact);
        assert!(al.matched >= a.len() - 100 && al.matched <= a.len(), "{al:?}");
    }

    #[test]
    fn huge_distance_falls_back_to_greedy_in_bounded_time() {
        // Reversed stream over a small alphabet: D is about N + M, far past the budget.
        let a: Vec<u32> = (0..100_000).map(|i| (i % 1000) as u32).collect();
        let b: Vec<u32> = a.iter().rev().copied().collect();
        let al = align_with_limit(&a, &b, 5_000_000);
        assert!(!al.exact);
        assert!(al.matched > 0 && al.matched <= a.len());
        // A shifted copy (three events in front, one changed at the end) recovers all of it greedily.
        let mut c = vec![7u32; 3];
        c.extend_from_slice(&a);
        c.push(3);
        let g = align_with_limit(&a, &c, 0);
        assert!(!g.exact);
        assert_eq!(g.matched, a.len());
    }
}
