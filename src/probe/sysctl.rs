//! vm sysctls: read the host's values, apply a scenario's (only with --allow-sysctl), restore on every exit path.
//!
//! `vm.dirty_bytes` and `vm.dirty_ratio` are twins (writing one zeroes the other), as are the two background knobs;
//! restoring writes back the twin that was non-zero, which puts both back as they were.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::guard::Undo;
use super::host;
use super::ProbeError;

/// `/proc/sys/...` path of a dotted sysctl name.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(name.replace('.', "/"))
}

/// Reads one sysctl as an integer.
pub fn read(name: &str) -> Result<u64, ProbeError> {
    let s = host::read_trim(path(name))?;
    s.split_ascii_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ProbeError::Host(format!("sysctl {name} = `{s}` is not an integer")))
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

const TWINS: &[(&str, &str)] =
    &[("vm.dirty_ratio", "vm.dirty_bytes"), ("vm.dirty_background_ratio", "vm.dirty_background_bytes")];

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
    let restore = saved.clone();
    undo.push("restore vm sysctls", move || restore_all(&restore));
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

/// Writes saved values back; for twins, only the non-zero one (which zeroes its partner, as it was).
pub fn restore_all(saved: &BTreeMap<String, u64>) -> Result<(), String> {
    let mut errors = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for (a, b) in TWINS {
        if let (Some(&va), Some(&vb)) = (saved.get(*a), saved.get(*b)) {
            let (name, v) = if vb != 0 { (*b, vb) } else { (*a, va) };
            if let Err(e) = std::fs::write(path(name), v.to_string()) {
                errors.push(format!("{name}: {e}"));
            } else if read(a).ok() != Some(va) || read(b).ok() != Some(vb) {
                errors.push(format!("{a}/{b} read back differently from the saved {va}/{vb}"));
            }
            done.push(a);
            done.push(b);
        }
    }
    for (name, v) in saved {
        if done.contains(&name.as_str()) {
            continue;
        }
        if let Err(e) = std::fs::write(path(name), v.to_string()) {
            errors.push(format!("{name}: {e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}
