//! Residency agreement: per file, the Jaccard index |S ∩ P| / |S ∪ P| of the resident page sets of `residency.txt`
//! (`trace::residency`; 1.0 when both are empty), and each side's cachestat `nr_cache`. A file listed on one side
//! only counts as having no resident pages on the other.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::trace::residency::{parse, FileResidency};

/// Number of pages in sorted, disjoint inclusive ranges.
pub fn count(r: &[(u64, u64)]) -> u64 {
    r.iter().map(|(a, b)| b - a + 1).sum()
}

/// Pages in both sets of sorted, disjoint inclusive ranges.
pub fn intersection(a: &[(u64, u64)], b: &[(u64, u64)]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let (lo, hi) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if lo <= hi {
            n += hi - lo + 1;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    n
}

/// Jaccard index of two page sets; 1.0 when both are empty.
pub fn jaccard(a: &[(u64, u64)], b: &[(u64, u64)]) -> f64 {
    let inter = intersection(a, b);
    let union = count(a) + count(b) - inter;
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// The residency agreement of one file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResidencyReport {
    pub file: String,
    /// cachestat nr_cache (`None`: the file is not listed on that side).
    pub sim_nr_cache: Option<u64>,
    pub probe_nr_cache: Option<u64>,
    /// Resident pages (mincore) on each side.
    pub sim_resident: u64,
    pub probe_resident: u64,
    pub common: u64,
    pub jaccard: f64,
}

/// Compares two residency listings file by file (sorted by file name).
pub fn compare(sim: &[FileResidency], probe: &[FileResidency]) -> Vec<ResidencyReport> {
    let mut files: BTreeMap<&str, [Option<&FileResidency>; 2]> = BTreeMap::new();
    for (side, list) in [sim, probe].into_iter().enumerate() {
        for f in list {
            files.entry(f.file.as_str()).or_default()[side] = Some(f);
        }
    }
    files
        .into_iter()
        .map(|(file, [s, p])| {
            let none: &[(u64, u64)] = &[];
            let (sr, pr) = (s.map_or(none, |f| &f.ranges), p.map_or(none, |f| &f.ranges));
            ResidencyReport {
                file: file.to_string(),
                sim_nr_cache: s.map(|f| f.nr_cache),
                probe_nr_cache: p.map(|f| f.nr_cache),
                sim_resident: count(sr),
                probe_resident: count(pr),
                common: intersection(sr, pr),
                jaccard: jaccard(sr, pr),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::residency::parse_ranges;

    #[test]
    fn jaccard_of_hand_made_sets() {
        let a = parse_ranges("0-99,200").unwrap(); // 101 pages
        let b = parse_ranges("50-149").unwrap(); // 100 pages, 50 in common
        assert_eq!(intersection(&a, &b), 50);
        assert!((jaccard(&a, &b) - 50.0 / 151.0).abs() < 1e-12);
        assert_eq!(jaccard(&a, &a), 1.0);
        assert_eq!(jaccard(&[], &[]), 1.0);
        assert_eq!(jaccard(&a, &[]), 0.0);
    }

    #[test]
    fn parse_the_probe_format_and_compare() {
        let sim = parse("# file size_pages ...\ndata 16 8 0 0 0 0 0-7\nlog 4 0 0 0 0 0 -\n").unwrap();
        let probe = parse("data 16 4 1 0 0 0 4-7\n").unwrap();
        assert_eq!(sim[0].nr_cache, 8);
        let r = compare(&sim, &probe);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].file.as_str(), r[0].sim_nr_cache, r[0].probe_nr_cache), ("data", Some(8), Some(4)));
        assert_eq!((r[0].common, r[0].jaccard), (4, 0.5));
        assert_eq!((r[1].file.as_str(), r[1].probe_nr_cache, r[1].jaccard), ("log", None, 1.0));
        let e = parse("data 16 8 0 0 0 0\n").unwrap_err();
        assert!(e.starts_with("line 1:") && e.contains("8 columns"), "{e}");
        let e = parse("#\ndata 16 x 0 0 0 0 -\n").unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("`x`"), "{e}");
    }
}
