//! Which event fields the kernel repeats exactly from run to run: compares the event logs of several probe runs of
//! one scenario, per tracepoint and field, as the sequence of values in log order per file (per device for block
//! events). A field identical in every run is one the model is held to exactly.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::trace::event::Value;
use crate::trace::log::Log;

/// Per event name: its field names and, per run, the value sequence of each field.
/// One event's field rows, grouped by (event name, file or device).
type Streams = BTreeMap<(&'static str, String), Vec<Vec<(&'static str, Value)>>>;

type Table = BTreeMap<&'static str, (Vec<&'static str>, Vec<Vec<Vec<String>>>)>;

/// A per-(event, field) stability table over the runs, as text.
pub fn report(logs: &[Log]) -> String {
    let mut table: Table = BTreeMap::new();
    for (r, log) in logs.iter().enumerate() {
        // Group by event name and key (file or device) to keep per-stream order.
        let mut by_key: Streams = BTreeMap::new();
        for e in &log.events {
            let fields = e.kind.fields();
            let key = fields
                .iter()
                .find(|(k, _)| *k == "file" || *k == "device")
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            by_key.entry((e.kind.name(), key)).or_default().push(fields);
        }
        for ((name, key), rows) in by_key {
            let entry = table
                .entry(name)
                .or_insert_with(|| (rows[0].iter().map(|(k, _)| *k).collect(), vec![Vec::new(); logs.len()]));
            let nf = entry.0.len();
            let runs = &mut entry.1;
            if runs[r].is_empty() {
                runs[r] = vec![Vec::new(); nf];
            }
            for row in rows {
                for (fi, (_, v)) in row.iter().enumerate() {
                    runs[r][fi].push(format!("{key}/{v}"));
                }
            }
        }
    }
    let mut out = String::new();
    let _ =
        writeln!(out, "# stability of event fields over {} runs (sequence per file/device, in log order)", logs.len());
    let _ = writeln!(out, "# event counts per run | fields identical in every run | fields that differ");
    for (name, (fields, runs)) in &table {
        let counts: Vec<String> = runs.iter().map(|r| r.first().map(|c| c.len()).unwrap_or(0).to_string()).collect();
        let mut same = Vec::new();
        let mut differ = Vec::new();
        for (fi, f) in fields.iter().enumerate() {
            let first = runs[0].get(fi);
            if runs.iter().all(|r| r.get(fi) == first) {
                same.push(*f);
            } else {
                differ.push(*f);
            }
        }
        let _ = writeln!(
            out,
            "{name} counts={} identical=[{}] differ=[{}]",
            counts.join(","),
            same.join(" "),
            differ.join(" ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::log::read_log;

    #[test]
    fn finds_identical_and_differing_fields() {
        let a = "# pcsim event log v1\n1 t mm_filemap_add_to_page_cache file=f index=0 order=2\n";
        let b = "# pcsim event log v1\n5 u mm_filemap_add_to_page_cache file=f index=0 order=3\n";
        let logs = vec![read_log(a.as_bytes()).unwrap(), read_log(b.as_bytes()).unwrap()];
        let r = report(&logs);
        assert!(r.contains("mm_filemap_add_to_page_cache counts=1,1 identical=[file index] differ=[order]"), "{r}");
    }
}
