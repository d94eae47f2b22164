//! A sweep's results: one row per configuration, each metric as the median over the seeds (the lower middle, so
//! an integer stays one) with its minimum and maximum, and the kernel's runs the same way; written as
//! `results.json` (what `sweep-merge` and `plot` read back) and `results.csv`, and shown as a table.
//!
//! The CSV is derived from the rows alone, so a merge of shards writes the same bytes as one run: the columns are
//! the union of the rows' metrics, in the order the rows (in configuration order) first name them.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::grid::SweepSpec;
use super::metrics::Metrics;

/// A metric over the seeds (or the kernel's runs): median, min, max.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stat {
    pub name: String,
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// One configuration's row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub config: usize,
    pub id: String,
    /// Per axis, the value's label.
    pub settings: Vec<String>,
    /// The model's metrics over the seeds.
    pub model: Vec<Stat>,
    /// The kernel's over the probe runs (empty without `--probe`).
    pub kernel: Vec<Stat>,
    /// Why a run failed, if one did.
    pub error: Option<String>,
}

/// `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Results {
    pub sweep: SweepSpec,
    pub rows: Vec<Row>,
}

impl Row {
    pub fn get(&self, name: &str) -> Option<&Stat> {
        self.model.iter().find(|s| s.name == name)
    }

    pub fn kernel(&self, name: &str) -> Option<&Stat> {
        self.kernel.iter().find(|s| s.name == name)
    }
}

/// Median (lower middle), min and max of each metric over several runs' metrics (same names, any order).
pub fn aggregate(runs: &[Metrics]) -> Vec<Stat> {
    let mut names: Vec<&str> = Vec::new();
    for m in runs {
        for (n, _) in m {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
    }
    names
        .into_iter()
        .map(|n| {
            let mut v: Vec<f64> =
                runs.iter().filter_map(|m| m.iter().find(|(k, _)| k == n).and_then(|(_, x)| *x)).collect();
            v.sort_by(f64::total_cmp);
            Stat {
                name: n.to_string(),
                median: (!v.is_empty()).then(|| v[(v.len() - 1) / 2]),
                min: v.first().copied(),
                max: v.last().copied(),
            }
        })
        .collect()
}

/// A number as the CSV and the table show it: integers without decimals, others as Rust prints them (shortest
/// text that reads back the same value), nothing for no value.
pub fn fmt_num(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => format!("{x}"),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The metric columns in order (see the module doc).
fn columns(rows: &[Row], kernel: bool) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        for s in if kernel { &r.kernel } else { &r.model } {
            if !cols.contains(&s.name) {
                cols.push(s.name.clone());
            }
        }
    }
    cols
}

/// `results.csv`.
pub fn csv(res: &Results) -> String {
    let spec = &res.sweep;
    let spread = spec.seeds.len() > 1;
    let model_cols = columns(&res.rows, false);
    let kernel_cols = columns(&res.rows, true);
    let mut head: Vec<String> = vec!["config".into()];
    head.extend(spec.axes.iter().map(|a| a.path.clone()));
    head.push("seeds".into());
    for c in &model_cols {
        head.push(c.clone());
        if spread {
            head.push(format!("{c}_min"));
            head.push(format!("{c}_max"));
        }
    }
    for c in &kernel_cols {
        head.extend([format!("k.{c}"), format!("k.{c}_min"), format!("k.{c}_max")]);
    }
    head.push("error".into());
    let mut out = head.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    let seeds = seeds_label(&spec.seeds);
    for r in &res.rows {
        let mut f: Vec<String> = vec![r.id.clone()];
        f.extend(r.settings.iter().cloned());
        f.push(seeds.clone());
        for c in &model_cols {
            let s = r.get(c);
            f.push(fmt_num(s.and_then(|s| s.median)));
            if spread {
                f.push(fmt_num(s.and_then(|s| s.min)));
                f.push(fmt_num(s.and_then(|s| s.max)));
            }
        }
        for c in &kernel_cols {
            let s = r.kernel(c);
            f.push(fmt_num(s.and_then(|s| s.median)));
            f.push(fmt_num(s.and_then(|s| s.min)));
            f.push(fmt_num(s.and_then(|s| s.max)));
        }
        f.push(r.error.clone().unwrap_or_default());
        let _ = writeln!(out, "{}", f.iter().map(|x| csv_field(x)).collect::<Vec<_>>().join(","));
    }
    out
}

/// `1..5` for consecutive seeds, else `1;4;9`.
pub fn seeds_label(seeds: &[u64]) -> String {
    let consecutive = seeds.windows(2).all(|w| w[1] == w[0] + 1);
    match seeds {
        [one] => one.to_string(),
        [a, .., b] if consecutive => format!("{a}..{b}"),
        _ => seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(";"),
    }
}

/// `results.json`.
pub fn json(res: &Results) -> String {
    let mut s = serde_json::to_string_pretty(res).unwrap_or_default();
    s.push('\n');
    s
}

/// The metrics the terminal table shows, in this order, when some row has a value other than 0.
const TABLE: &[&str] = &[
    "elapsed_s",
    "mib_s",
    "write_mib_s",
    "op_p99_us",
    "sync_p99_us",
    "pauses",
    "pause_p90_ms",
    "steady_nr_dirty",
    "at_risk_max_mib",
    "oldest_dirty_s",
    "hit_ratio",
    "pages_read",
    "read_amp",
    "ra_events",
    "refaults",
];

/// The terminal table: the settings and up to 8 metrics (model, and the kernel's median beside it with --probe).
pub fn table(res: &Results) -> String {
    let shown: Vec<&str> = TABLE
        .iter()
        .copied()
        .filter(|m| res.rows.iter().any(|r| r.get(m).and_then(|s| s.median).is_some_and(|v| v != 0.0)))
        .take(8)
        .collect();
    let kernel = res.rows.iter().any(|r| !r.kernel.is_empty());
    let mut head: Vec<String> = vec!["config".into()];
    head.extend(res.sweep.axes.iter().map(|a| a.path.clone()));
    for m in &shown {
        head.push(m.to_string());
        if kernel {
            head.push(format!("k.{m}"));
        }
    }
    let mut lines = vec![head];
    for r in &res.rows {
        let mut l = vec![r.id.clone()];
        l.extend(r.settings.iter().cloned());
        for m in &shown {
            l.push(r.error.as_ref().map_or_else(|| fmt_num(r.get(m).and_then(|s| s.median)), |_| "error".into()));
            if kernel {
                l.push(fmt_num(r.kernel(m).and_then(|s| s.median)));
            }
        }
        lines.push(l);
    }
    let widths: Vec<usize> =
        (0..lines[0].len()).map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (v, w))| if c == 0 { format!("{v:<w$}") } else { format!("{v:>w$}") })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// Reads `results.json` from a sweep directory.
pub fn load(dir: &std::path::Path) -> Result<Results, String> {
    let p = dir.join("results.json");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e} (is it a sweep directory?)", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}
