//! A memory cgroup for the workload threads, when the scenario sets `machine.memcg_limit`.
//!
//! cgroup v1 (`/sys/fs/cgroup/memory`): each task thread writes its tid to `tasks`, so only the workload is
//! limited. cgroup v2 (memory in `cgroup.controllers`): memory is not a threaded controller, so the probe process
//! itself joins for the run and returns to its old cgroup afterwards. The cgroup is removed at the end.

use std::path::{Path, PathBuf};

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
    /// The file a task thread writes its tid to (v1 only; v2 moves the whole process in `create`).
    pub fn thread_file(&self) -> Option<PathBuf> {
        (self.version == 1).then(|| self.dir.join("tasks"))
    }
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
    std::fs::create_dir(&dir).map_err(|e| ProbeError::Host(format!("creating cgroup {}: {e}", dir.display())))?;
    let d = dir.clone();
    undo.push(format!("remove cgroup {}", dir.display()), move || {
        // Threads have exited by now; rmdir may race with their exit, so retry briefly.
        for _ in 0..50 {
            if std::fs::remove_dir(&d).is_ok() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::remove_dir(&d).map_err(|e| e.to_string())
    });
    if version == 1 {
        host::write(dir.join("memory.limit_in_bytes"), &limit.to_string())?;
    } else {
        host::write(dir.join("memory.max"), &limit.to_string())?;
        let old = own_v2_cgroup().ok_or_else(|| ProbeError::Host("cannot read /proc/self/cgroup".into()))?;
        let root = dir.parent().unwrap().to_path_buf();
        let back = root.join(old.trim_start_matches('/')).join("cgroup.procs");
        host::write(dir.join("cgroup.procs"), &std::process::id().to_string())?;
        undo.push("return the probe to its cgroup", move || {
            std::fs::write(&back, std::process::id().to_string()).map_err(|e| e.to_string())
        });
    }
    Ok(Memcg { dir, version, limit })
}

fn own_v2_cgroup() -> Option<String> {
    let s = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    s.lines().find_map(|l| l.strip_prefix("0::").map(|p| p.to_string()))
}
