//! `pcsim plot`: a sweep's plots (src/sweep/plot).

use std::path::Path;

use super::failure::Failure;

/// Draws the plots of the sweep in `dir` into `out` and lists them.
pub(crate) fn plot(dir: &Path, out: &Path, png: bool) -> Result<(), Failure> {
    let files = crate::sweep::plot::plot_sweep(dir, out, png).map_err(|msg| Failure { code: 2, msg })?;
    for f in files {
        super::failure::outln!("{}", f.display())?;
    }
    Ok(())
}
