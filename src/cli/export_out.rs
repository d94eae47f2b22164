//! `--blktrace DIR` and `--blkparse FILE` of `pcsim run`: the model's block events in blktrace's formats
//! (replay::export), each scenario device given a dev_t: a device named `devMAJ_MIN` (a replayed block trace's)
//! keeps that number, the others are 8:0, 8:16, ... in order (sda, sdb, ...).

use std::path::Path;

use super::failure::{fail, Failure};
use crate::replay::export::{write_blkparse, write_blktrace, ExportDevice};
use crate::scenario::Scenario;
use crate::sim::SimResult;

/// The dev_t of each of the scenario's devices.
pub(crate) fn export_devices(sc: &Scenario) -> Vec<ExportDevice> {
    sc.devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let parsed = d.name.strip_prefix("dev").and_then(|r| r.split_once('_')).and_then(|(a, b)| {
                let (major, minor) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
                (major < 1 << 12 && minor < 1 << 20).then_some((major, minor))
            });
            let (major, minor) = parsed.unwrap_or((8, 16 * i as u32));
            ExportDevice { name: d.name.clone(), major, minor }
        })
        .collect()
}

/// Writes the exports asked for; `name` names the blktrace files (`DIR/NAME.blktrace.0`).
pub(crate) fn write_exports(
    res: &SimResult,
    sc: &Scenario,
    name: &str,
    blktrace: Option<&Path>,
    blkparse: Option<&Path>,
) -> Result<(), Failure> {
    let devices = export_devices(sc);
    if let Some(dir) = blktrace {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("creating {}: {e}", dir.display())))?;
        let s = write_blktrace(&res.events, &devices, dir, name)
            .map_err(|e| fail(format!("writing {}/{name}.blktrace.0: {e}", dir.display())))?;
        let d = dir.display();
        eprintln!(
            "blktrace: {} records in {d}/{name}.blktrace.0 (read with: blkparse -i {name} -D {d}; for btt: blkparse -i \
             {name} -D {d} -d {name}.bin -O && btt -i {name}.bin)",
            s.written
        );
    }
    if let Some(p) = blkparse {
        let w: Box<dyn std::io::Write> = if p.as_os_str() == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(std::fs::File::create(p).map_err(|e| fail(format!("creating {}: {e}", p.display())))?)
        };
        write_blkparse(&res.events, &devices, w).map_err(|e| fail(format!("writing {}: {e}", p.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_from_names() {
        let text = "Scenario(name: \"s\", machine: (memory: \"1g\"), devices: [(name: \"dev7_3\"), (name: \"disk\"), \
                    (name: \"dev9999_1\")], files: [(name: \"f\", device: \"disk\", size: 4096)], \
                    tasks: [(name: \"t\", ops: [Sync])])";
        let sc = Scenario::parse(text, "t").unwrap();
        let d: Vec<(u32, u32)> = export_devices(&sc).iter().map(|d| (d.major, d.minor)).collect();
        assert_eq!(d, [(7, 3), (8, 16), (8, 32)]);
    }
}
