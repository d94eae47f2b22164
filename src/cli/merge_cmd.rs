//! `pcsim sweep-merge`: joins sweep shards (src/sweep/merge.rs).

use std::path::{Path, PathBuf};

use super::failure::Failure;

/// Merges the shards into `out` and prints the table.
pub(crate) fn merge(shards: &[PathBuf], out: &Path) -> Result<(), Failure> {
    let res = crate::sweep::merge::merge(shards, out).map_err(|msg| Failure { code: 2, msg })?;
    super::failure::out!("{}", crate::sweep::results::table(&res))?;
    super::failure::outln!("{}", out.join("results.csv").display())?;
    Ok(())
}
