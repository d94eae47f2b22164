//! The dirty-page time series (`vmstat_series.txt`): counters sampled at a fixed interval during a run.
//!
//! ```text
//! # pcsim vmstat series v1
//! # devices=disk0 interval_ns=100000000 scenario=w source=probe
//! 0 disk0.reclaimable_kb=48 disk0.writeback_kb=0 nr_dirtied=1000 nr_dirty=12 nr_written=990 nr_writeback=0
//! 100000000 disk0.reclaimable_kb=32816 disk0.writeback_kb=1240 nr_dirtied=9200 nr_dirty=8204 nr_written=1010 ...
//! ```
//! - The first line is the magic; `# key=value ...` lines before the first sample form the header.
//! - Each sample is `TIME_NS key=value...`, time in nanoseconds since the start of the run (the event log's clock),
//!   values unsigned integers, keys in byte order. Keys without a dot are `/proc/vmstat` counters (pages, host-wide): `nr_dirty`,
//!   `nr_writeback`, `nr_dirtied`, `nr_written`. Keys `DEV.x` are per scenario device, from the probe's
//!   `/sys/kernel/debug/bdi/MAJ:MIN/stats` (kB; cumulative counters since the bdi was created, so use differences):
//!   `writeback_kb` (BdiWriteback), `reclaimable_kb` (BdiReclaimable, dirty), `wb_thresh_kb` (BdiDirtyThresh),
//!   `dirtied_kb` (BdiDirtied), `written_kb` (BdiWritten), `write_bw_kbps` (BdiWriteBandwidth); and the global
//!   `dirty_thresh_kb` (DirtyThresh), `background_thresh_kb` (BackgroundThresh) from the first device's file.
//! - A key may be missing from a sample (debugfs unavailable): readers treat it as absent, not as 0.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;

use crate::units::Nanos;

/// The first line of every series file.
pub const MAGIC: &str = "# pcsim vmstat series v1";

/// The file name the probe writes.
pub const FILE_NAME: &str = "vmstat_series.txt";

/// One sample.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// When it was taken, from the start of the run.
    pub time: Nanos,
    /// The counters (`nr_dirty`, `nr_writeback`, ..., `DEVICE.writeback_kb`).
    pub values: BTreeMap<String, u64>,
}

impl Sample {
    /// The value of counter `key`, if sampled.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.values.get(key).copied()
    }
}

/// A whole series.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    /// The header's `key=value` pairs (devices, interval_ns, scenario, source).
    pub header: BTreeMap<String, String>,
    /// The samples, in time order.
    pub samples: Vec<Sample>,
}

impl Series {
    /// The values of `key` with their times, skipping samples without it.
    pub fn column(&self, key: &str) -> Vec<(Nanos, u64)> {
        self.samples.iter().filter_map(|s| s.get(key).map(|v| (s.time, v))).collect()
    }
}

/// The series as text.
pub fn write_series(s: &Series) -> String {
    let mut out = format!("{MAGIC}\n");
    if !s.header.is_empty() {
        out.push('#');
        for (k, v) in &s.header {
            let _ = write!(out, " {k}={}", super::log::sanitize(v));
        }
        out.push('\n');
    }
    for sample in &s.samples {
        let _ = write!(out, "{}", sample.time.0);
        for (k, v) in &sample.values {
            let _ = write!(out, " {k}={v}");
        }
        out.push('\n');
    }
    out
}

/// Reads a series; errors name the line.
pub fn read_series<R: BufRead>(r: R) -> Result<Series, String> {
    let mut s = Series::default();
    for (i, line) in r.lines().enumerate() {
        let line = line.map_err(|e| format!("reading the series: {e}"))?;
        let n = i + 1;
        if n == 1 {
            if line.trim_end() != MAGIC {
                return Err(format!("line 1: not a pcsim vmstat series: the first line must be `{MAGIC}`"));
            }
            continue;
        }
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix('#') {
            if s.samples.is_empty() {
                for tok in rest.split_ascii_whitespace() {
                    if let Some((k, v)) = tok.split_once('=') {
                        s.header.insert(k.to_string(), v.to_string());
                    }
                }
            }
            continue;
        }
        let mut it = t.split_ascii_whitespace();
        let time = it.next().unwrap_or_default();
        let time: u64 = time.parse().map_err(|_| format!("line {n}: time `{time}` is not integer nanoseconds"))?;
        if let Some(prev) = s.samples.last() {
            if time < prev.time.0 {
                return Err(format!("line {n}: time {time} goes back (previous sample at {})", prev.time.0));
            }
        }
        let mut values = BTreeMap::new();
        for tok in it {
            let (k, v) = tok.split_once('=').ok_or_else(|| format!("line {n}: `{tok}` is not key=value"))?;
            let v: u64 = v.parse().map_err(|_| format!("line {n}: `{tok}`: value is not an unsigned integer"))?;
            values.insert(k.to_string(), v);
        }
        s.samples.push(Sample { time: Nanos(time), values });
    }
    Ok(s)
}

/// Reads a series file (plain or gzip); errors name the file.
pub fn read_series_file(path: &std::path::Path) -> Result<Series, String> {
    let r = super::log::open_maybe_gzip(path).map_err(|e| format!("{}: {e}", path.display()))?;
    read_series(r).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a debugfs `bdi/MAJ:MIN/stats` text into this format's per-device keys (without the `DEV.` prefix).
pub fn bdi_stats_values(text: &str) -> Vec<(&'static str, u64)> {
    const KEYS: &[(&str, &str)] = &[
        ("BdiWriteback", "writeback_kb"),
        ("BdiReclaimable", "reclaimable_kb"),
        ("BdiDirtyThresh", "wb_thresh_kb"),
        ("DirtyThresh", "dirty_thresh_kb"),
        ("BackgroundThresh", "background_thresh_kb"),
        ("BdiDirtied", "dirtied_kb"),
        ("BdiWritten", "written_kb"),
        ("BdiWriteBandwidth", "write_bw_kbps"),
    ];
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let Some((_, key)) = KEYS.iter().find(|(name, _)| *name == k.trim()) else { continue };
        if let Some(v) = v.split_ascii_whitespace().next().and_then(|v| v.parse().ok()) {
            out.push((*key, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_columns() {
        let text = format!(
            "{MAGIC}\n# devices=disk0 interval_ns=100000000\n0 disk0.writeback_kb=0 nr_dirty=5\n\
             100000000 nr_dirty=9 nr_writeback=2\n"
        );
        let s = read_series(text.as_bytes()).unwrap();
        assert_eq!(s.header["interval_ns"], "100000000");
        assert_eq!(s.samples.len(), 2);
        assert_eq!(s.column("nr_dirty"), vec![(Nanos(0), 5), (Nanos(100_000_000), 9)]);
        assert_eq!(s.column("nr_writeback"), vec![(Nanos(100_000_000), 2)]);
        assert_eq!(s.samples[0].get("disk0.writeback_kb"), Some(0));
        assert_eq!(write_series(&s), text);
    }

    #[test]
    fn errors_name_the_line() {
        assert!(read_series("x\n".as_bytes()).unwrap_err().contains("line 1"));
        let e = read_series(format!("{MAGIC}\n5 a=1\n3 a=2\n").as_bytes()).unwrap_err();
        assert!(e.contains("line 3") && e.contains("goes back"), "{e}");
        assert!(read_series(format!("{MAGIC}\n5 a=-1\n").as_bytes()).unwrap_err().contains("line 2"));
    }

    #[test]
    fn reads_debugfs_bdi_stats() {
        let t = "BdiWriteback:             1240 kB\nBdiReclaimable:             48 kB\nBdiDirtyThresh:  63764 kB\n\
                 DirtyThresh:             65536 kB\nBackgroundThresh:        32768 kB\nBdiDirtied:  28635756 kB\n\
                 BdiWritten:           28635756 kB\nBdiWriteBandwidth:      149300 kBps\nb_dirty:  2\nstate:   5\n";
        let v = bdi_stats_values(t);
        assert_eq!(v.len(), 8);
        assert_eq!(v[0], ("writeback_kb", 1240));
        assert_eq!(v[3], ("dirty_thresh_kb", 65536));
        assert_eq!(v[7], ("write_bw_kbps", 149300));
    }
}
