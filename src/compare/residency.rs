//! Residency agreement: which pages of each file are cached at the end of the run, from `residency.txt` in the
//! probe's format (`probe::collect`):
//!
//! ```text
//! # file size_pages nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted resident_ranges
//! data 16384 1027 0 0 0 0 0-3,16,32
//! ```
//! Per file, the Jaccard index |S ∩ P| / |S ∪ P| of the resident page sets (1.0 when both are empty), and each
//! side's cachestat `nr_cache`. A file listed on one side only counts as having no resident pages on the other.

use std::collections::BTreeMap;

use serde::Serialize;

/// One file's line of `residency.txt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileResidency {
    pub file: String,
    pub size_pages: u64,
    pub nr_cache: u64,
    pub nr_dirty: u64,
    pub nr_writeback: u64,
    pub nr_evicted: u64,
    pub nr_recently_evicted: u64,
    /// Resident pages as sorted, disjoint, inclusive ranges.
    pub ranges: Vec<(u64, u64)>,
}

/// Parses `a-b,c,d-e` (or `-` for none) into sorted, merged inclusive ranges.
/// The header line of residency.txt.
pub const HEADER: &str =
    "# file size_pages nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted resident_ranges";

/// One residency.txt line: the file, its size in pages, cachestat's five counts, the resident ranges.
pub fn format_line(file: &str, size_pages: u64, counts: [u64; 5], ranges: &[(u64, u64)]) -> String {
    let [c, d, w, e, r] = counts;
    format!("{file} {size_pages} {c} {d} {w} {e} {r} {}", format_ranges(ranges))
}

/// `a-b,c-d` (or `-` when empty), the inverse of `parse_ranges`.
pub fn format_ranges(r: &[(u64, u64)]) -> String {
    if r.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = r.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
    parts.join(",")
}

/// Parses `a-b,c-d` (or `-`) into sorted, merged inclusive ranges.
pub fn parse_ranges(s: &str) -> Result<Vec<(u64, u64)>, String> {
    if s == "-" {
        return Ok(Vec::new());
    }
    let mut out: Vec<(u64, u64)> = Vec::new();
    for part in s.split(',') {
        let num = |t: &str| t.parse::<u64>().map_err(|_| format!("`{t}` in `{s}` is not a page number"));
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if a > b {
            return Err(format!("range `{part}` ends before it starts"));
        }
        if b >= 1 << 52 {
            return Err(format!("range `{part}` is beyond any file (page indices stop below 2^52)"));
        }
        out.push((a, b));
    }
    out.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(out.len());
    for (a, b) in out {
        match merged.last_mut() {
            Some((_, e)) if a <= e.saturating_add(1) => *e = (*e).max(b),
            _ => merged.push((a, b)),
        }
    }
    Ok(merged)
}

/// Parses a whole `residency.txt`; errors give the 1-based line.
pub fn parse(text: &str) -> Result<Vec<FileResidency>, String> {
    let mut out = Vec::new();
    for (line, cols) in super::table_rows(text, HEADER)? {
        let err = |msg: String| format!("line {line}: {msg}");
        let mut n = [0u64; 6];
        for (k, c) in cols[1..7].iter().enumerate() {
            n[k] = c.parse().map_err(|_| err(format!("column {}: `{c}` is not an unsigned integer", k + 2)))?;
        }
        let ranges = parse_ranges(cols[7]).map_err(err)?;
        out.push(FileResidency {
            file: cols[0].to_string(),
            size_pages: n[0],
            nr_cache: n[1],
            nr_dirty: n[2],
            nr_writeback: n[3],
            nr_evicted: n[4],
            nr_recently_evicted: n[5],
            ranges,
        });
    }
    Ok(out)
}

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

    #[test]
    fn ranges_parse_merge_and_refuse_nonsense() {
        assert_eq!(parse_ranges("-").unwrap(), vec![]);
        assert_eq!(parse_ranges("0-99,200").unwrap(), vec![(0, 99), (200, 200)]);
        assert_eq!(parse_ranges("5,0-4,7-9,8").unwrap(), vec![(0, 5), (7, 9)]);
        assert!(parse_ranges("3-1").is_err());
        assert!(parse_ranges("a-4").unwrap_err().contains("`a`"));
        assert!(parse_ranges("").is_err());
    }

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
