//! vm sysctls: read the host's values, apply a scenario's (only with --allow-sysctl), restore on every exit path.
//!
//! `vm.dirty_bytes` and `vm.dirty_ratio` are twins (writing one zeroes the other), as are the two background knobs;
//! restoring writes back the twin that was non-zero, which puts both back as they were. A knob is restored only
//! while it still has the probe's value (`change::Change::Sysctls`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::change::{self, Change, Knob, TWINS};
use super::guard::Undo;
use super::host;
use super::ProbeError;

/// `/proc/sys/...` path of a dotted sysctl name.
pub fn path(name: &str) -> PathBuf {
    change::sysctl_path(name)
}

/// Reads one sysctl as an integer.
pub fn read(name: &str) -> Result<u64, ProbeError> {
    change::sysctl_read(name).map_err(ProbeError::Host)
}

/// Every readable `vm.*` sysctl, as text (for the manifest and for the restore check).
pub fn snapshot_vm() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc/sys/vm") {
        for e in rd.flatten() {
            let name = format!("vm.{}", e.file_name().to_string_lossy());
            if let Ok(v) = std::fs::read_to_string(e.path()) {
                out.insert(name, v.split_ascii_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
    }
    out
}

/// The scenario's sysctls that differ from the host's, with (host value, wanted value).
pub fn differences(wanted: &BTreeMap<String, u64>) -> Result<BTreeMap<String, (u64, u64)>, ProbeError> {
    let mut out = BTreeMap::new();
    for (name, &want) in wanted {
        let have = read(name)?;
        if have != want {
            out.insert(name.clone(), (have, want));
        }
    }
    Ok(out)
}

/// Fails, naming each, when the scenario's sysctls differ from the host's.
pub fn refuse_differences(wanted: &BTreeMap<String, u64>) -> Result<(), ProbeError> {
    let diff = differences(wanted)?;
    if diff.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = diff.iter().map(|(n, (h, w))| format!("{n}={w} (host has {h})")).collect();
    Err(ProbeError::Refused(format!(
        "the scenario sets {} which differ from this host; pass --allow-sysctl to apply them for the run (they are restored afterwards)",
        list.join(", ")
    )))
}

/// Applies the scenario's sysctls; refuses unless `allow`. Restores are queued on `undo` before any write.
pub fn apply(wanted: &BTreeMap<String, u64>, allow: bool, undo: &mut Undo) -> Result<Vec<String>, ProbeError> {
    if !allow {
        refuse_differences(wanted)?;
        return Ok(Vec::new());
    }
    let diff = differences(wanted)?;
    if diff.is_empty() {
        return Ok(Vec::new());
    }
    // Save every knob we may touch, twins included, before writing any.
    let mut saved: BTreeMap<String, u64> = BTreeMap::new();
    for name in diff.keys() {
        saved.insert(name.clone(), read(name)?);
        for (a, b) in TWINS {
            if name == a || name == b {
                saved.insert(a.to_string(), read(a)?);
                saved.insert(b.to_string(), read(b)?);
            }
        }
    }
    let knobs = saved.iter().map(|(n, &old)| Knob { name: n.clone(), old, new: diff.get(n).map(|d| d.1) }).collect();
    undo.record(Change::Sysctls { knobs })?;
    let mut applied = Vec::new();
    // Write the scenario's values: `*_bytes` after `*_ratio`, so a scenario that sets bytes wins as in the kernel.
    let mut order: Vec<(&String, &(u64, u64))> = diff.iter().collect();
    order.sort_by_key(|(n, _)| n.ends_with("_bytes"));
    for (name, (_, want)) in order {
        host::write(path(name), &want.to_string())?;
        applied.push(format!("{name}={want}"));
    }
    Ok(applied)
}
