//! `pcsim check`: validate a scenario and print what it describes.

use std::path::Path;

use super::failure::{load, Failure};

/// Loads the scenario (errors at file:line:col) and prints its devices, files and tasks (op counts; every op with
/// `ops`).
pub(crate) fn check(scenario: &Path, ops: bool) -> Result<(), Failure> {
    let sc = load(scenario)?;
    println!("scenario {} (seed {}, sha256 {})", sc.name, sc.seed, &sc.sha256[..16.min(sc.sha256.len())]);
    for d in &sc.devices {
        println!(
            "device {}: {} {} bytes, read_ahead_kb {}, max_sectors_kb {}",
            d.name,
            d.fs.name(),
            d.size,
            d.read_ahead_kb,
            d.max_sectors_kb
        );
    }
    for f in &sc.files {
        println!("file {}: {} bytes on {}, {:?}", f.name, f.size, sc.devices[f.device].name, f.state);
    }
    for (t, task) in sc.tasks.iter().enumerate() {
        // Ops are counted by walking the stream, up to a limit so a Repeat of 10^12 does not hang `check`.
        const LIMIT: u64 = 50_000_000;
        let mut n = 0u64;
        let mut bytes = 0u64;
        for op in sc.ops(t).take(LIMIT as usize + 1) {
            if n == LIMIT {
                n += 1;
                break;
            }
            if ops {
                println!("  {} {:?}", task.name, op);
            }
            n += 1;
            bytes = bytes.saturating_add(op.io_bytes());
        }
        if n > LIMIT {
            println!(
                "task {}: starts at {}, more than {LIMIT} ops (counted {bytes} bytes of I/O in the first {LIMIT})",
                task.name, task.start
            );
        } else {
            println!("task {}: starts at {}, {n} ops, {bytes} bytes of I/O requested", task.name, task.start);
        }
    }
    Ok(())
}
