//! A run's outputs as files, in the probe's formats so `pcsim compare` reads either side: the event log, and a run
//! directory (`events.log`, `residency.txt`, `vmstat.txt`, `vmstat_series.txt`, `cachestat.txt`).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use crate::trace::log::LogWriter;

use super::result::SimResult;

impl SimResult {
    /// Writes the event log (`trace::log` format, header `source=sim`, the scenario, the seed) to `w`.
    pub fn write_events<W: Write>(&self, w: W) -> io::Result<W> {
        let mut lw = LogWriter::new(w, &self.header())?;
        if let Some(sp) = &self.spill {
            sp.merge_events(&mut |line| lw.write_line(line))?;
        }
        for e in &self.events {
            lw.write(e)?;
        }
        lw.finish()
    }

    /// The run's event log, as [`crate::trace::log::read_log`] would read its written form (header `source=sim`, the
    /// scenario, the seed): what [`crate::compare()`] takes.
    pub fn log(&self) -> crate::trace::log::Log {
        crate::trace::log::Log { header: self.header(), events: self.events.clone() }
    }

    fn header(&self) -> BTreeMap<String, String> {
        let mut header = BTreeMap::new();
        header.insert("source".to_string(), "sim".to_string());
        header.insert("scenario".to_string(), self.scenario.clone());
        header.insert("seed".to_string(), self.seed.to_string());
        header.insert("pcsim".to_string(), env!("CARGO_PKG_VERSION").to_string());
        header.insert("duration_ns".to_string(), self.end.0.to_string());
        header
    }

    /// Writes the run's directory in the probe's layout: events.log, residency.txt, vmstat.txt, and
    /// vmstat_series.txt and cachestat.txt when the run has them. `dir` must be new or empty; the files are written
    /// into a temporary directory beside it, renamed to `dir` once all are complete (a failed write leaves nothing
    /// that looks like a run). Errors name the file.
    pub fn write_dir(&self, dir: &Path) -> Result<(), String> {
        crate::files::prepare_out_dir(dir)?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
        let tmp = dir.with_file_name(format!(".{name}.pcsim-tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(|e| format!("{}: cannot create: {e}", tmp.display()))?;
        let r = self.write_files(&tmp).and_then(|()| {
            std::fs::rename(&tmp, dir).map_err(|e| format!("{}: cannot write the output directory: {e}", dir.display()))
        });
        if r.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        r
    }

    /// write_dir's files, into `dir`.
    fn write_files(&self, dir: &Path) -> Result<(), String> {
        let err = |p: &Path, e: io::Error| format!("{}: cannot write: {e}", p.display());
        let p = dir.join("events.log");
        let f = std::fs::File::create(&p).map_err(|e| err(&p, e))?;
        self.write_events(io::BufWriter::new(f))
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .and_then(|f| f.sync_all())
            .map_err(|e| err(&p, e))?;
        if let Some(sp) = self.spill.as_ref().filter(|sp| sp.has_series()) {
            let p = dir.join(crate::trace::series::FILE_NAME);
            let f = std::fs::File::create(&p).map_err(|e| err(&p, e))?;
            let mut w = io::BufWriter::new(f);
            sp.copy_series(&mut w)
                .and_then(|()| w.into_inner().map_err(|e| e.into_error()))
                .and_then(|f| f.sync_all())
                .map_err(|e| err(&p, e))?;
        }
        let mut files = vec![("residency.txt", self.residency_text()), ("vmstat.txt", self.vmstat_text())];
        if let Some(series) = &self.series {
            files.push((crate::trace::series::FILE_NAME, crate::trace::series::write_series(series)));
        }
        if let Some(text) = self.cachestat_text() {
            files.push(("cachestat.txt", text));
        }
        for (name, text) in files {
            let p = dir.join(name);
            let f = std::fs::File::create(&p).map_err(|e| err(&p, e))?;
            let mut w = io::BufWriter::new(f);
            w.write_all(text.as_bytes())
                .and_then(|()| w.into_inner().map_err(|e| e.into_error()))
                .and_then(|f| f.sync_all())
                .map_err(|e| err(&p, e))?;
        }
        Ok(())
    }
}
