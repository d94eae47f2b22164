//! `pcsim sweep-merge SHARD_DIR... --out DIR`: joins the outputs of `sweep --shard I/N` into what one unsharded
//! sweep writes, byte for byte: the shards must be of the same sweep (`sweep.json` identical) and together hold
//! every configuration exactly once; rows are put back in configuration order, and `configs/`, `runs/` and
//! `probe/` are copied.

use std::path::{Path, PathBuf};

use super::outdir::Staged;
use super::results::{self, Results};

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let mut entries: Vec<_> =
        std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let dest = to.join(p.file_name().unwrap_or_default());
        if p.is_dir() {
            copy_tree(&p, &dest)?;
        } else {
            if dest.exists() {
                return Err(format!("{} is in two shards", dest.display()));
            }
            std::fs::copy(&p, &dest).map_err(|e| format!("copying {}: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// Merges the shard directories into `out`.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<Results, String> {
    if shards.is_empty() {
        return Err("sweep-merge: give the shard directories to merge".into());
    }
    let mut all: Vec<Results> = Vec::new();
    for s in shards {
        all.push(results::load(s)?);
    }
    let spec = all[0].sweep.clone();
    for (r, s) in all.iter().zip(shards).skip(1) {
        if r.sweep != spec {
            return Err(format!(
                "{} is a shard of another sweep than {} (their sweep.json differ: scenario, axes, seeds or probe runs)",
                s.display(),
                shards[0].display()
            ));
        }
    }
    let mut rows = Vec::new();
    let mut owner: Vec<Option<&PathBuf>> = vec![None; spec.configs];
    for (r, s) in all.iter().zip(shards) {
        for row in &r.rows {
            let slot = owner
                .get_mut(row.config)
                .ok_or_else(|| format!("{}: configuration {} is outside the grid", s.display(), row.id))?;
            if let Some(other) = slot {
                return Err(format!("configuration {} is in both {} and {}", row.id, other.display(), s.display()));
            }
            *slot = Some(s);
            rows.push(row.clone());
        }
    }
    let missing: Vec<String> =
        owner.iter().enumerate().filter(|(_, o)| o.is_none()).map(|(i, _)| super::grid::SweepSpec::id(i)).collect();
    if !missing.is_empty() {
        let shown = missing.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
        return Err(format!(
            "the shards hold {} of {} configurations: missing {shown}{} (a shard did not finish, or was not given)",
            spec.configs - missing.len(),
            spec.configs,
            if missing.len() > 8 { ", ..." } else { "" }
        ));
    }
    rows.sort_by_key(|r| r.config);
    let staged = Staged::new(out)?;
    for s in shards {
        for sub in ["configs", "runs", "probe"] {
            if s.join(sub).is_dir() {
                copy_tree(&s.join(sub), &staged.path().join(sub))?;
            }
        }
    }
    let res = Results { sweep: spec, rows };
    super::write_results(staged.path(), &res, None).map_err(|e| format!("writing into {}: {e}", out.display()))?;
    staged.commit()?;
    Ok(res)
}
