//! The sweep's grid: axes from `--set`, combined as a cartesian product (the last axis fastest) or zipped, each
//! configuration's scenario text edited and checked by the scenario loader before anything runs; seeds; shards.

use serde::{Deserialize, Serialize};

use super::{path, values};
use crate::scenario::Scenario;

/// The most configurations a sweep may have: each is edited and checked before anything runs, and kept in memory
/// (about a kilobyte of scenario text each).
pub const MAX_CONFIGS: usize = 100_000;

/// One `--set` axis.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Axis {
    /// The path as given.
    pub path: String,
    /// Each value's label (CSV, plots).
    pub labels: Vec<String>,
    /// Each value's RON text.
    pub ron: Vec<String>,
    /// Each value as a number (bytes, ns, itself) where it is one.
    pub nums: Vec<Option<f64>>,
}

/// What a sweep is: written as `sweep.json`, identical in every shard and in the merged directory.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SweepSpec {
    /// The scenario's name (titles).
    pub scenario: String,
    /// The scenario file as given on the command line.
    pub source: String,
    /// SHA-256 of its text.
    pub sha256: String,
    pub axes: Vec<Axis>,
    pub zip: bool,
    pub seeds: Vec<u64>,
    /// Number of configurations.
    pub configs: usize,
    /// Probe runs per configuration (0: model only).
    pub probe_runs: u32,
}

/// One configuration: a value per axis.
#[derive(Clone, Debug)]
pub struct Config {
    pub index: usize,
    /// Per axis, the value's index.
    pub choice: Vec<usize>,
    /// The edited scenario text.
    pub text: String,
}

impl SweepSpec {
    /// The configuration's id: `c0007`.
    pub fn id(index: usize) -> String {
        format!("c{index:04}")
    }

    /// A run's directory name: `c0007-s1`.
    pub fn run_id(index: usize, seed: u64) -> String {
        format!("c{index:04}-s{seed}")
    }

    /// The value choices of configuration `index`.
    pub fn choice(&self, index: usize) -> Vec<usize> {
        if self.zip {
            return vec![index; self.axes.len()];
        }
        let mut rest = index;
        let mut c = vec![0; self.axes.len()];
        for (k, a) in self.axes.iter().enumerate().rev() {
            c[k] = rest % a.labels.len();
            rest /= a.labels.len();
        }
        c
    }

    /// "path=label, path=label" of a configuration.
    pub fn setting(&self, choice: &[usize]) -> String {
        self.axes.iter().zip(choice).map(|(a, &i)| format!("{}={}", a.path, a.labels[i])).collect::<Vec<_>>().join(", ")
    }
}

/// Which configurations a shard runs: `I/N` takes those with `index % N == I - 1` (round robin, so neighbouring
/// configurations, which cost alike, spread over the shards).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub i: usize,
    pub n: usize,
}

impl Shard {
    /// Parses `I/N` (1 <= I <= N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s}: expected I/N with 1 <= I <= N (e.g. 2/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if i == 0 || n == 0 || i > n {
            return Err(bad());
        }
        Ok(Shard { i, n })
    }

    pub fn takes(&self, index: usize) -> bool {
        index % self.n == self.i - 1
    }
}

/// Builds the grid: parses every `--set`, edits and checks each configuration's scenario.
pub fn build(
    source: &str,
    text: &str,
    sets: &[String],
    zip: bool,
    seeds: Option<&str>,
) -> Result<(SweepSpec, Vec<Config>), String> {
    let base = Scenario::parse(text, source).map_err(|e| e.to_string())?;
    if sets.is_empty() {
        return Err("no --set PATH=VALUES given: a sweep needs at least one axis".into());
    }
    let mut axes = Vec::new();
    for s in sets {
        let (p, v) = split_set(s)?;
        path::check(text, p)?;
        let vals = values::parse_values(v).map_err(|e| format!("--set {s}: {e}"))?;
        let plain = check_numeric(text, p, &vals)?;
        axes.push(Axis {
            path: p.to_string(),
            labels: vals.iter().map(|v| v.label.clone()).collect(),
            ron: vals.iter().map(|v| if plain { plain_ron(v) } else { v.ron.clone() }).collect(),
            nums: vals.iter().map(|v| v.num).collect(),
        });
    }
    if let Some(dup) = axes.iter().enumerate().find(|(i, a)| axes[..*i].iter().any(|b| b.path == a.path)) {
        return Err(format!("--set {}: the same path is given twice", dup.1.path));
    }
    let configs = if zip {
        let n = axes[0].labels.len();
        if let Some(a) = axes.iter().find(|a| a.labels.len() != n) {
            return Err(format!(
                "--zip: every axis needs the same number of values: {} has {n}, {} has {}",
                axes[0].path,
                a.path,
                a.labels.len()
            ));
        }
        n
    } else {
        axes.iter().try_fold(1usize, |acc, a| acc.checked_mul(a.labels.len())).filter(|&n| n <= MAX_CONFIGS).ok_or(
            format!("the grid has more than {MAX_CONFIGS} configurations: narrow the ranges, or pair axes with --zip"),
        )?
    };
    let seeds = match seeds {
        Some(s) => values::parse_seeds(s)?,
        None => vec![base.seed],
    };
    if seeds.is_empty() || configs == 0 {
        return Err("the grid is empty".into());
    }
    let spec = SweepSpec {
        scenario: base.name.clone(),
        source: source.to_string(),
        sha256: base.sha256.clone(),
        axes,
        zip,
        seeds,
        configs,
        probe_runs: 0,
    };
    let mut out = Vec::with_capacity(configs);
    for index in 0..configs {
        let choice = spec.choice(index);
        let mut t = text.to_string();
        for (a, &c) in spec.axes.iter().zip(&choice) {
            t = path::set(&t, &a.path, &a.ron[c])?;
        }
        if let Err(e) = Scenario::parse(&t, source) {
            let hint = e.hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default();
            return Err(format!(
                "configuration {} ({}): the scenario is refused: {}{hint}",
                SweepSpec::id(index),
                spec.setting(&choice),
                e.msg
            ));
        }
        out.push(Config { index, choice, text: t });
    }
    Ok((spec, out))
}

/// `PATH=VALUES` split at the first `=` outside quotes.
fn split_set(s: &str) -> Result<(&str, &str), String> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '=' if !quoted => return Ok((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    Err(format!("--set {s}: expected PATH=VALUES (e.g. devices.disk0.read_ahead_kb=128..4096:x2)"))
}

/// A size or time given for a field the scenario writes as a plain integer (a sysctl such as `vm.dirty_bytes`,
/// which takes bytes): the integer itself (`8m` -> `8388608`); the label stays `8m`.
fn plain_ron(v: &values::Value) -> String {
    match v.num {
        Some(n) if v.ron.starts_with('"') && n.fract() == 0.0 && n >= 0.0 => format!("{}", n as u64),
        _ => v.ron.clone(),
    }
}

/// A field that holds a number (or a size or time) takes numbers only. Returns whether the field is a plain
/// integer (its current value is one, or it is a sysctl, all of which are integers), so sizes are written as
/// integers there.
fn check_numeric(text: &str, p: &str, vals: &[values::Value]) -> Result<bool, String> {
    let old = path::current(text, p)?;
    let sysctl = path::split_path(p)?.first().is_some_and(|s| s == "sysctls");
    let numeric_old = match &old {
        Some(o) => {
            o.parse::<f64>().is_ok()
                || (o.starts_with('"')
                    && values::parse_values(o.trim_matches('"')).is_ok_and(|v| v.len() == 1 && v[0].num.is_some()))
        }
        None => sysctl,
    };
    if numeric_old {
        if let Some(v) = vals.iter().find(|v| v.num.is_none()) {
            let there = old.as_deref().map_or_else(|| "a sysctl, an integer".to_string(), |o| format!("{o} there"));
            return Err(format!("--set {p}: `{}` is not a number (the scenario has {there})", v.label));
        }
    }
    Ok(sysctl || old.is_some_and(|o| o.parse::<u64>().is_ok()))
}
