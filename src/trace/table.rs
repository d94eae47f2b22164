//! The whitespace-separated tables the probe and the model write (`residency.txt`, `cachestat.txt`).

/// The data rows of a whitespace-separated table file (residency.txt, cachestat.txt): blank and `#` lines
/// skipped, each row split into exactly as many columns as `header` (`# name name ...`) names. Returns each row's
/// 1-based line number and columns; errors give the line.
pub(crate) fn table_rows<'a>(text: &'a str, header: &str) -> Result<Vec<(usize, Vec<&'a str>)>, String> {
    let names = header.trim_start_matches('#').trim();
    let want = names.split_ascii_whitespace().count();
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = t.split_ascii_whitespace().collect();
        if cols.len() != want {
            return Err(format!("line {}: expected {want} columns ({names}), found {}", i + 1, cols.len()));
        }
        rows.push((i + 1, cols));
    }
    Ok(rows)
}
