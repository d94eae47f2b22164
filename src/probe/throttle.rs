//! A slower scratch device: a blk-throttle write limit on the loop device (`devices[].write_bps`).
//!
//! The limit is a rule in the **root** cgroup v1 blkio controller, `blkio.throttle.write_bps_device`
//! (`MAJ:MIN BYTES_PER_SECOND`). Cgroup v1 has no cgroup writeback, so the flusher's writeback bios are charged to
//! the root blkcg and the rule throttles them as well as the tasks' own writes (O_DIRECT, fsync): measured on this
//! host, 256 MiB of buffered `dd` plus `sync -f` under a 50 MiB/s rule took 5.12 s, 50.0 MiB/s (without a rule,
//! 1 GiB took 1.6 s). blk-throttle delays bios before they become requests, so block_rq_issue shows the limited rate.
//! The rule is removed (written as `MAJ:MIN 0`) by the undo stack, while it is still the probe's; a rule already
//! present for the device is put back as it was.

use std::path::{Path, PathBuf};

use super::change::Change;
use super::guard::Undo;
use super::host;
use super::ProbeError;

pub use super::change::rule_in;

/// The root cgroup v1 blkio throttle file.
pub const V1_WRITE_BPS: &str = "/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device";

/// The throttle file, or why there is none.
pub fn write_bps_file() -> Result<PathBuf, ProbeError> {
    let p = Path::new(V1_WRITE_BPS);
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    Err(ProbeError::Missing(
        "the scenario sets a device's write_bps but this host has no cgroup v1 blkio controller \
         (/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device); under cgroup v2 the root cgroup takes no io.max"
            .into(),
    ))
}

/// Limits writes to `major:minor` to `bps` bytes per second until the undo stack runs. Returns the rate read back.
pub fn limit_writes(major: u32, minor: u32, bps: u64, undo: &mut Undo) -> Result<u64, ProbeError> {
    let file = write_bps_file()?;
    let dev = format!("{major}:{minor}");
    let before = rule_in(&host::read(&file)?, &dev);
    undo.record(Change::Throttle { file: file.clone(), dev: dev.clone(), before, bps })?;
    host::write(&file, &format!("{dev} {bps}"))?;
    let now = rule_in(&host::read(&file)?, &dev);
    if now != bps {
        return Err(ProbeError::Host(format!("{} reads {now} for {dev} after writing {bps}", file.display())));
    }
    Ok(now)
}
