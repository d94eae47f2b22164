//! A probe run's file layout for the model: extents.txt / extents_start.txt (FIEMAP, bytes) read into page extents.

use std::collections::BTreeMap;

use crate::block::Extent;

/// The layout a probe run's files had, for the model: the extents before the run (`extents_start.txt`: where the
/// workload read from, before any truncate or hole punch freed blocks), completed with the extents the run itself
/// allocated (`extents.txt` after the run: where a file growing during the run was written), beyond the end of each
/// file's start extents.
pub fn merge_extents(start: &str, end: &str) -> String {
    let mut covered: BTreeMap<&str, u64> = BTreeMap::new();
    let mut out = String::from("# file logical_bytes physical_bytes length_bytes flags (start, then run-allocated)\n");
    for l in start.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let t: Vec<&str> = l.split_whitespace().collect();
        if let (Some(f), Some(lo), Some(len)) = (t.first(), t.get(1), t.get(3)) {
            let e = lo.parse::<u64>().unwrap_or(0).saturating_add(len.parse::<u64>().unwrap_or(0));
            let c = covered.entry(f).or_default();
            *c = (*c).max(e);
        }
        out.push_str(l);
        out.push('\n');
    }
    for l in end.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let t: Vec<&str> = l.split_whitespace().collect();
        let (Some(f), Some(lo)) = (t.first(), t.get(1).and_then(|v| v.parse::<u64>().ok())) else { continue };
        if lo >= covered.get(f).copied().unwrap_or(0) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Reads a probe's extents.txt (`file logical_bytes physical_bytes length_bytes flags`) into extent maps; extents
/// starting inside a page are skipped.
pub fn read_extents(text: &str) -> Result<BTreeMap<String, Vec<Extent>>, String> {
    let mut out: BTreeMap<String, Vec<Extent>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let t: Vec<&str> = l.split_whitespace().collect();
        let num = |s: &str| s.parse::<u64>().map_err(|_| format!("line {}: `{s}` is not a number", i + 1));
        if t.len() < 4 {
            return Err(format!("line {}: expected `file logical physical length flags`", i + 1));
        }
        let (logical, physical, length) = (num(t[1])?, num(t[2])?, num(t[3])?);
        if physical % 512 != 0 {
            return Err(format!("line {}: extent not aligned to sectors", i + 1));
        }
        if logical % 4096 != 0 {
            // A 1 KiB-block filesystem allocated this inside a page during the run (a write's tail): the model
            // places I/O by pages, so the page keeps its mapping from the extent before.
            continue;
        }
        out.entry(t[0].to_string()).or_default().push(Extent {
            logical: logical / 4096,
            sector: physical / 512,
            pages: length.div_ceil(4096),
        });
    }
    for (name, v) in out.iter_mut() {
        v.sort_by_key(|e| e.logical);
        for w in v.windows(2) {
            if w[0].logical + w[0].pages > w[1].logical {
                return Err(format!("extents of `{name}` overlap at file page {}", w[1].logical));
            }
        }
        if v[0].logical != 0 {
            return Err(format!(
                "the extents of `{name}` do not start at offset 0 (a hole at the start is not supported)"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod merge_tests {
    #[test]
    fn run_allocated_extents_complete_the_start_layout() {
        let start = "# h\nread 0 1048576 65536 0x0\n";
        let end = "# h\nread 0 1048576 65536 0x0\nout 0 138412032 125829120 0x0\nout 125829120 268435456 4096 0x1\n";
        let m = super::merge_extents(start, end);
        let lines: Vec<&str> = m.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            ["read 0 1048576 65536 0x0", "out 0 138412032 125829120 0x0", "out 125829120 268435456 4096 0x1"]
        );
        // A file truncated during the run keeps its start layout; what the run allocated past it is added.
        let m = super::merge_extents("f 0 4096 8192 0x0\n", "f 4096 4096 4096 0x0\nf 8192 90000384 4096 0x0\n");
        assert_eq!(m.lines().filter(|l| !l.starts_with('#')).count(), 2);
    }
}
