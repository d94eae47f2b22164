//! A memory cgroup for the workload threads, when the scenario sets `machine.memcg_limit`.
//!
//! Page cache is charged to the memory cgroup of the faulting process's mm owner, not of the thread, so moving task
//! threads alone limits nothing (checked on this host with cgroup v1). The workload therefore runs in a worker
//! process (`pcsim __probe-worker`) that joins the cgroup through `cgroup.procs` (v1 `/sys/fs/cgroup/memory` or a
//! cgroup2 tree with the memory controller), while the probe itself, its trace reader and its output stay outside.
//! The cgroup is removed at the end (with the worker, should it outlive the probe: `change::Change::Cgroup`).

use std::path::{Path, PathBuf};

use super::change::Change;
use super::guard::Undo;
use super::host;
use super::ProbeError;

/// The workload's memory cgroup.
#[derive(Clone, Debug)]
pub struct Memcg {
    pub dir: PathBuf,
    pub version: u8,
    pub limit: u64,
}

impl Memcg {
    /// The file the worker process writes its pid to.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// What the cgroup is charged now (memory.usage_in_bytes, v1; memory.current, v2), in bytes.
    pub fn usage(&self) -> Option<u64> {
        let f = if self.version == 1 { "memory.usage_in_bytes" } else { "memory.current" };
        std::fs::read_to_string(self.dir.join(f)).ok()?.trim().parse().ok()
    }

    /// The cgroup's own memory.stat counters (v1: without the hierarchical `total_` ones), by name.
    pub fn stat(&self) -> std::collections::BTreeMap<String, u64> {
        let text = std::fs::read_to_string(self.dir.join("memory.stat")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(k, _)| !k.starts_with("total_"))
            .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
            .collect()
    }
}

/// The cgroup's charges when the workload starts: its usage and memory.stat (the worker's own memory, before any
/// page of the scenario's files), recorded in the manifest.
#[derive(Clone, Debug, Default)]
pub struct StartCharge {
    pub usage: Option<u64>,
    pub stat: std::collections::BTreeMap<String, u64>,
}

fn v2_root() -> Option<PathBuf> {
    for p in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        let ctl = Path::new(p).join("cgroup.controllers");
        if std::fs::read_to_string(&ctl).map(|s| s.split_whitespace().any(|c| c == "memory")).unwrap_or(false) {
            return Some(PathBuf::from(p));
        }
    }
    None
}

/// Creates the cgroup with its limit; undone by `undo`.
pub fn create(name: &str, limit: u64, undo: &mut Undo) -> Result<Memcg, ProbeError> {
    let v1 = Path::new("/sys/fs/cgroup/memory");
    let (dir, version) = if v1.join("memory.limit_in_bytes").exists() {
        (v1.join(name), 1u8)
    } else if let Some(root) = v2_root() {
        (root.join(name), 2u8)
    } else {
        return Err(ProbeError::Missing(
            "the scenario sets machine.memcg_limit but no memory cgroup controller is mounted \
             (neither /sys/fs/cgroup/memory nor a cgroup2 tree with the memory controller)"
                .into(),
        ));
    };
    undo.record(Change::Cgroup { dir: dir.clone() })?;
    std::fs::create_dir(&dir).map_err(|e| ProbeError::Host(format!("creating cgroup {}: {e}", dir.display())))?;
    let limit_file = if version == 1 { "memory.limit_in_bytes" } else { "memory.max" };
    host::write(dir.join(limit_file), &limit.to_string())?;
    Ok(Memcg { dir, version, limit })
}
