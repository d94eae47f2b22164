//! `residency.txt`: which pages of each file are cached at the end of a run, as the probe (mincore and cachestat)
//! and the model (`pcsim run --out`) write it:
//!
//! ```text
//! # file size_pages nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted resident_ranges
//! data 16384 1027 0 0 0 0 0-3,16,32
//! ```

use serde::Serialize;

/// One file's line of `residency.txt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileResidency {
    /// The file.
    pub file: String,
    /// Its size in pages.
    pub size_pages: u64,
    /// Pages cached (cachestat's nr_cache).
    pub nr_cache: u64,
    /// Pages dirty.
    pub nr_dirty: u64,
    /// Pages under writeback.
    pub nr_writeback: u64,
    /// Pages evicted (shadow entries).
    pub nr_evicted: u64,
    /// Evicted pages whose refault would activate them.
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
    for (line, cols) in super::table::table_rows(text, HEADER)? {
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
}
