//! Loading the two sides of `pcsim compare`: a run's output directory (`events.log` or `events.log.gz`, and
//! `residency.txt`, `vmstat.txt`, `cachestat.txt` when present) or a single event-log file; a probe directory with
//! `run-K/` subdirectories gives one input per run, in run order. Errors name the file (and, for unreadable logs, the line).

use std::path::{Path, PathBuf};

use super::residency::{self, FileResidency};
use crate::trace::log::{read_log_file, Log};

/// One side of a comparison.
#[derive(Clone, Debug)]
pub struct Input {
    /// The directory or file it was read from, as given.
    pub path: PathBuf,
    pub log: Log,
    /// The event log file actually read.
    pub log_path: PathBuf,
    /// `residency.txt`, when the input is a directory that has one.
    pub residency: Option<Vec<FileResidency>>,
    /// `vmstat.txt` (`name value` per line), when the input is a directory that has one.
    pub vmstat: Option<Vec<(String, i64)>>,
    /// `vmstat_series.txt(.gz)`: the dirty-page time series, when the run has one.
    pub series: Option<crate::trace::series::Series>,
    /// `cachestat.txt`, when the input is a directory that has one.
    pub cachestat: Option<Vec<super::cachestat::Record>>,
    /// How long the workload ran (ns): the log header's `duration_ns` (a simulated run), else the `duration_ns` of
    /// the run's `manifest.ron` (a probe run).
    pub duration_ns: Option<u64>,
}

/// Parses a vmstat.txt (probe: /proc/vmstat deltas; model: its counters); errors give the line.
pub fn parse_vmstat(text: &str) -> Result<Vec<(String, i64)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (k, v) = t.split_once(' ').ok_or_else(|| format!("line {}: expected `name value`", i + 1))?;
        let v: i64 = v.trim().parse().map_err(|_| format!("line {}: `{}` is not an integer", i + 1, v.trim()))?;
        out.push((k.to_string(), v));
    }
    Ok(out)
}

/// The event log inside a run directory: `events.log` or `events.log.gz` (`None` when neither exists); refused when
/// both exist (which one is the run's?) or when the one there is not a regular file.
pub fn events_file(dir: &Path) -> Result<Option<PathBuf>, String> {
    let there: Vec<PathBuf> =
        ["events.log", "events.log.gz"].iter().map(|n| dir.join(n)).filter(|p| p.symlink_metadata().is_ok()).collect();
    match there.as_slice() {
        [] => Ok(None),
        [p] if p.is_file() => Ok(Some(p.clone())),
        [p] => Err(format!("{}: the event log is not a regular file (a directory, FIFO or device?)", p.display())),
        _ => Err(format!(
            "{}: both events.log and events.log.gz are here: remove the one that is not this run's",
            dir.display()
        )),
    }
}

/// Reads a small text input of a run directory (residency, vmstat, cachestat), refusing what is not a regular text
/// file or is over 64 MiB.
fn read_small(p: &Path, what: &str) -> Result<String, String> {
    crate::files::read_text(p, what, crate::files::MAX_TEXT_INPUT)
}

/// Reads one run: a directory with an event log (and maybe residency.txt), or an event-log file.
pub fn load_run(path: &Path) -> Result<Input, String> {
    if path.symlink_metadata().is_ok() && !path.is_dir() {
        let log = read_log_file(path)?;
        let duration_ns = header_duration(&log);
        return Ok(Input {
            path: path.to_path_buf(),
            log,
            log_path: path.to_path_buf(),
            residency: None,
            vmstat: None,
            series: None,
            cachestat: None,
            duration_ns,
        });
    }
    if !path.is_dir() {
        return Err(format!("{}: no such file or directory", path.display()));
    }
    let log_path = events_file(path)?
        .ok_or_else(|| format!("{}: no events.log or events.log.gz in this directory", path.display()))?;
    let log = read_log_file(&log_path)?;
    let res_path = path.join("residency.txt");
    let residency = if res_path.symlink_metadata().is_ok() {
        let text = read_small(&res_path, "residency file")?;
        Some(residency::parse(&text).map_err(|e| format!("{}: {e}", res_path.display()))?)
    } else {
        None
    };
    let vm_path = path.join("vmstat.txt");
    let vmstat = if vm_path.symlink_metadata().is_ok() {
        let text = read_small(&vm_path, "vmstat file")?;
        Some(parse_vmstat(&text).map_err(|e| format!("{}: {e}", vm_path.display()))?)
    } else {
        None
    };
    let series = ["vmstat_series.txt", "vmstat_series.txt.gz"]
        .iter()
        .map(|n| path.join(n))
        .find(|p| p.symlink_metadata().is_ok())
        .map(|p| crate::trace::series::read_series_file(&p))
        .transpose()?;
    let cs_path = path.join("cachestat.txt");
    let cachestat = if cs_path.symlink_metadata().is_ok() {
        let text = read_small(&cs_path, "cachestat file")?;
        Some(crate::trace::cachestat::parse(&text).map_err(|e| format!("{}: {e}", cs_path.display()))?)
    } else {
        None
    };
    let duration_ns = match header_duration(&log) {
        Some(d) => Some(d),
        None => manifest_duration(&path.join("manifest.ron"))?,
    };
    Ok(Input { path: path.to_path_buf(), log, log_path, residency, vmstat, series, cachestat, duration_ns })
}

/// The `duration_ns` of a log's header.
fn header_duration(log: &Log) -> Option<u64> {
    log.header.get("duration_ns")?.parse().ok()
}

/// A probe manifest's `duration_ns` (the other fields are not read here).
#[derive(serde::Deserialize)]
#[serde(rename = "Manifest")]
struct ManifestDuration {
    #[serde(default)]
    duration_ns: u64,
}

/// The `duration_ns` of the manifest at `p`, if there is one.
fn manifest_duration(p: &Path) -> Result<Option<u64>, String> {
    if p.symlink_metadata().is_err() {
        return Ok(None);
    }
    let text = read_small(p, "probe manifest")?;
    let m: ManifestDuration =
        ron::from_str(&text).map_err(|e| format!("{}: not a probe manifest: {e}", p.display()))?;
    Ok((m.duration_ns > 0).then_some(m.duration_ns))
}

/// The `run-K` subdirectories of a probe output directory, sorted by K (empty when there are none).
pub fn run_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut runs: Vec<(u64, PathBuf)> = rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Some((name.strip_prefix("run-")?.parse().ok()?, e.path()))
        })
        .collect();
    runs.sort();
    Ok(runs.into_iter().map(|(_, p)| p).collect())
}

/// Reads the probe side: the directory itself when it holds an event log (or is a log file), else each `run-K/`.
pub fn load_probe(path: &Path) -> Result<Vec<Input>, String> {
    if (path.symlink_metadata().is_ok() && !path.is_dir()) || (path.is_dir() && events_file(path)?.is_some()) {
        return Ok(vec![load_run(path)?]);
    }
    if !path.is_dir() {
        return Err(format!("{}: no such file or directory", path.display()));
    }
    let runs = run_dirs(path)?;
    if runs.is_empty() {
        return Err(format!(
            "{}: neither an event log (events.log, events.log.gz) nor run-K/ subdirectories",
            path.display()
        ));
    }
    runs.iter().map(|r| load_run(r)).collect()
}

/// What a probe run's `manifest.ron` says of the scenario it ran (the other fields are not read here).
#[derive(serde::Deserialize)]
#[serde(rename = "Manifest")]
struct ManifestScenario {
    scenario: String,
    scenario_sha256: String,
}

/// The manifests of a probe directory (its own `manifest.ron`, or each `run-K/manifest.ron`): per run, the file read,
/// the scenario's name and its sha256. Empty when no manifest exists (an event log given alone).
pub fn captured_scenarios(dir: &Path) -> Result<Vec<(PathBuf, String, String)>, String> {
    let mut paths = vec![dir.join("manifest.ron")];
    if dir.is_dir() {
        paths.extend(run_dirs(dir)?.into_iter().map(|r| r.join("manifest.ron")));
    }
    let mut out = Vec::new();
    for p in paths.into_iter().filter(|p| p.symlink_metadata().is_ok()) {
        let text = read_small(&p, "probe manifest")?;
        let m: ManifestScenario =
            ron::from_str(&text).map_err(|e| format!("{}: not a probe manifest: {e}", p.display()))?;
        out.push((p, m.scenario, m.scenario_sha256));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::log::MAGIC;

    #[test]
    fn loads_dirs_files_and_runs_and_names_what_is_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let log = format!("{MAGIC}\n10 t mm_filemap_fault file=a index=3\n");
        let one = tmp.path().join("one");
        std::fs::create_dir(&one).unwrap();
        std::fs::write(one.join("events.log"), &log).unwrap();
        std::fs::write(one.join("residency.txt"), "a 4 1 0 0 0 0 3\n").unwrap();
        let inp = load_run(&one).unwrap();
        assert_eq!(inp.log.events.len(), 1);
        assert_eq!(inp.residency.as_ref().unwrap()[0].ranges, vec![(3, 3)]);
        assert_eq!(load_run(&one.join("events.log")).unwrap().residency, None);

        let multi = tmp.path().join("multi");
        for k in [10, 2] {
            let d = multi.join(format!("run-{k}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("events.log"), &log).unwrap();
        }
        let runs = load_probe(&multi).unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs[0].path.ends_with("run-2") && runs[1].path.ends_with("run-10"));

        let e = load_probe(&tmp.path().join("nope")).unwrap_err();
        assert!(e.contains("nope") && e.contains("no such file"), "{e}");
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(load_run(&empty).unwrap_err().contains("no events.log"));
        assert!(load_probe(&empty).unwrap_err().contains("run-K"));
        std::fs::write(one.join("events.log"), format!("{MAGIC}\n10 t mm_filemap_fault file=a\n")).unwrap();
        let e = load_run(&one).unwrap_err();
        assert!(e.contains("events.log: line 2:"), "{e}");
        std::fs::write(one.join("events.log"), &log).unwrap();
        std::fs::write(one.join("residency.txt"), "a 4 1 0 0 0 0 x\n").unwrap();
        let e = load_run(&one).unwrap_err();
        assert!(e.contains("residency.txt: line 1:"), "{e}");
    }

    #[test]
    fn the_duration_comes_from_the_log_header_else_the_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("events.log"), format!("{MAGIC}\n10 t mm_filemap_fault file=a index=3\n")).unwrap();
        assert_eq!(load_run(d).unwrap().duration_ns, None);
        std::fs::write(d.join("manifest.ron"), "Manifest(scenario: \"s\", duration_ns: 39429098, run: 1)").unwrap();
        assert_eq!(load_run(d).unwrap().duration_ns, Some(39429098));
        let header = format!("{MAGIC}\n# duration_ns=5000 source=sim\n10 t mm_filemap_fault file=a index=3\n");
        std::fs::write(d.join("events.log"), header).unwrap();
        assert_eq!(load_run(d).unwrap().duration_ns, Some(5000));
        std::fs::write(d.join("manifest.ron"), "Manifest(duration_ns: \"x\")").unwrap();
        std::fs::write(d.join("events.log"), format!("{MAGIC}\n")).unwrap();
        assert!(load_run(d).unwrap_err().contains("manifest.ron: not a probe manifest"));
    }
}
