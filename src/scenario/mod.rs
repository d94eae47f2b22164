//! Scenarios: a RON file describing a machine, its devices, vm sysctls, files and tasks, compiled to one lazy
//! [`Op`](crate::trace::Op) stream per task.
//!
//! The format is documented field by field in docs/SCENARIO.md. Loading goes in three steps:
//!
//! 1. `schema`: ron deserialises the text into the as-written schema (unknown fields, bad sizes and syntax are
//!    refused here, at ron's position);
//! 2. `locate`: the text is re-read into a tree of token positions;
//! 3. `validate` (and `compile` for task op lists): names are resolved, defaults filled in and every semantic rule
//!    checked, each error pointing at the offending token through the position tree. Task op lists compile to a
//!    `stream::Program` that an [`OpStream`] expands lazily; generators live in `generate`, sysctls in `sysctl`.
//!
//! Every error is a [`ScenarioError`]: `origin:line:col: message` and usually a hint.

mod compile;
mod compile_gen;
mod diag;
pub(crate) mod generate;
mod load;
mod locate;
mod schema;
mod stream;
mod sysctl;
mod validate;

pub use crate::rng::stream_key;
pub use stream::{OpFeed, OpStream};
pub use sysctl::{default_min_free_kbytes, Sysctls};
pub use validate::default_device_size;

use crate::trace::op::FileId;
use crate::units::Nanos;
use std::fmt;
use std::sync::Arc;

/// The seed used when a scenario gives none.
pub const DEFAULT_SEED: u64 = 1;

/// A loaded, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The scenario's name (names the probe's threads' files and the logs' headers).
    pub name: String,
    /// The root seed every random stream derives from.
    pub seed: u64,
    /// The machine: memory, CPUs, memory cgroup.
    pub machine: Machine,
    /// The block devices, each with one filesystem.
    pub devices: Vec<Device>,
    /// The vm sysctls in force (kernel defaults for those the scenario leaves out).
    pub sysctls: Sysctls,
    /// The files that exist when the tasks start.
    pub files: Vec<FileSpec>,
    /// The tasks, each a thread issuing its op stream.
    pub tasks: Vec<TaskSpec>,
    /// Where the scenario came from (the path as given, or the origin passed to [`Scenario::parse`]).
    pub source: String,
    /// SHA-256 of the scenario text, in lowercase hex.
    pub sha256: String,
    /// Why the model cannot run this scenario although the probe can (a start state the model does not represent),
    /// located in the scenario's text: `pcsim run` and `check` refuse it, `pcsim probe` runs it.
    pub model_refusal: Option<ScenarioError>,
}

/// The simulated machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// RAM in bytes.
    pub memory: u64,
    /// Online CPUs (the per-CPU ratelimits and batches scale with them).
    pub cpus: u32,
    /// A memory cgroup limit (memory.max) on the tasks, in bytes.
    pub memcg_limit: Option<u64>,
    /// With a memory cgroup: what it holds besides the page cache of the scenario's files (anon memory, kernel
    /// memory, other files), in bytes, held constant; `None`: the probe's worker (192 pages on this host).
    pub memcg_used: Option<u64>,
    /// With a memory cgroup: when the first periodic memcg stats flush (flush_memcg_stats_dwork, every 2 s) comes
    /// after the start, in 0..=2 s; `None`: 2 s (a new cgroup's statistics read 0 until then).
    pub memcg_flush: Option<u64>,
    /// Memory in use outside the page cache (processes, slab, page tables), in bytes: the model holds it constant.
    pub used: u64,
}

/// The filesystem on a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FsType {
    #[default]
    /// ext4 (the default).
    Ext4,
    /// xfs.
    Xfs,
}

impl FsType {
    /// The name mkfs and /proc/mounts use.
    /// The smallest filesystem its mkfs accepts (mkfs.xfs refuses less than 300 MiB), rounded up.
    pub fn min_size(&self) -> u64 {
        match self {
            FsType::Ext4 => 16 << 20,
            FsType::Xfs => 320 << 20,
        }
    }

    /// The name mkfs and /proc/mounts use.
    pub fn name(&self) -> &'static str {
        match self {
            FsType::Ext4 => "ext4",
            FsType::Xfs => "xfs",
        }
    }
}

/// A block device with one filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The device's name (the event log's `device=`).
    pub name: String,
    /// Its filesystem.
    pub fs: FsType,
    /// Bytes.
    pub size: u64,
    /// /sys/block/X/queue/read_ahead_kb.
    pub read_ahead_kb: u32,
    /// /sys/block/X/queue/max_sectors_kb.
    pub max_sectors_kb: u32,
    /// /sys/block/X/queue/nr_requests.
    pub nr_requests: u32,
    /// Bytes per second.
    pub read_bw: u64,
    /// Bytes per second.
    pub write_bw: u64,
    /// Time from issue to the first byte of a read.
    pub read_latency: Nanos,
    /// An idle device's delay before it starts on a write batch.
    pub write_latency: Nanos,
    /// Requests the device serves at once (reads).
    pub queue_depth: u32,
    /// A blk-throttle limit on writes to the device, bytes per second (cgroup v1 root
    /// `blkio.throttle.write_bps_device`, which also throttles the flusher's writeback). `None`: no limit.
    pub write_bps: Option<u64>,
    /// Each write batch's rate is `write_bw` times a factor drawn uniformly from 1 +- this many thousandths
    /// (block/write_batch.rs).
    pub write_bw_spread_permille: u32,
    /// A rotating disk's positioning times (model only: the probe's device is what the host has).
    pub seek: Option<crate::block::seek::Seek>,
}

/// A file that exists before the tasks start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// The file's name (the event log's `file=`).
    pub name: String,
    /// Index into [`Scenario::devices`].
    pub device: usize,
    /// Bytes.
    pub size: u64,
    /// What of it is cached when the tasks start.
    pub state: InitialState,
}

/// What of a file is in the page cache when the tasks start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InitialState {
    /// Nothing cached.
    #[default]
    Cold,
    /// The whole file cached and clean.
    Cached,
    /// Bytes [off, off+len) cached and clean.
    CachedRange {
        /// Start of the cached range, bytes.
        off: u64,
        /// Length of the cached range, bytes.
        len: u64,
    },
    /// Bytes [off, off+len) cached and dirty (written, not yet written back).
    DirtyRange {
        /// Start of the dirty range, bytes.
        off: u64,
        /// Length of the dirty range, bytes.
        len: u64,
    },
}

/// One task (a Linux thread in the probe).
#[derive(Clone, Debug)]
pub struct TaskSpec {
    /// At most 15 characters (the kernel's TASK_COMM_LEN - 1).
    pub name: String,
    /// When the task starts, from the start of the run.
    pub start: Nanos,
    /// `Fd(i)` is `fds[i]`, the name the scenario gave the descriptor.
    pub fds: Vec<String>,
    /// `MapId(i)` is `maps[i]`.
    pub maps: Vec<String>,
    program: Arc<stream::Program>,
}

/// A scenario refused: where, why, and usually what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The scenario's file (or the origin given to `Scenario::parse`).
    pub origin: String,
    /// 1-based; 0 when there is no position (e.g. the file could not be read).
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    /// What is wrong.
    pub msg: String,
    /// What to do about it, when there is something to say.
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin.is_empty() {
            // The message names its file itself.
            write!(f, "{}", self.msg)?;
        } else if self.line == 0 {
            write!(f, "{}: {}", self.origin, self.msg)?;
        } else {
            write!(f, "{}:{}:{}: {}", self.origin, self.line, self.col, self.msg)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// The ops of task `task`, in order, produced lazily. Panics if `task` is out of range.
    pub fn ops(&self, task: usize) -> OpStream {
        OpStream::new(Arc::clone(&self.tasks[task].program))
    }

    /// Whether a task writes (write, pwrite, writev, pwritev or a write touch among the first 10000 ops of each
    /// task): such scenarios are validated on the write-side figures.
    pub fn writes(&self) -> bool {
        (0..self.tasks.len()).any(|t| {
            self.ops(t).take(10_000).any(|op| {
                matches!(
                    op,
                    crate::trace::op::Op::Write { .. }
                        | crate::trace::op::Op::Pwrite { .. }
                        | crate::trace::op::Op::Writev { .. }
                        | crate::trace::op::Op::Pwritev { .. }
                        | crate::trace::op::Op::Touch { write: true, .. }
                )
            })
        })
    }

    /// The id of the file named `name`.
    pub fn file_index(&self, name: &str) -> Option<FileId> {
        self.files.iter().position(|f| f.name == name).map(|i| FileId(i as u32))
    }

    /// The device holding file `f`. Panics if `f` is not one of this scenario's files.
    pub fn device_of(&self, f: FileId) -> &Device {
        &self.devices[self.files[f.0 as usize].device]
    }

    /// The index of the task named `name`.
    pub fn task_index(&self, name: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::op::Op;

    fn scenario(seed: u64, tasks: &[&str]) -> Scenario {
        let tasks: Vec<String> = tasks
            .iter()
            .enumerate()
            .map(|(i, ops)| format!("(name: \"t{i}\", ops: [Open(file: \"data\"), {ops}])"))
            .collect();
        let text = format!(
            "Scenario(name: \"s\", seed: {seed}, machine: (memory: \"1g\"), devices: [(name: \"d\")], \
             files: [(name: \"data\", size: \"64m\")], tasks: [{}])",
            tasks.join(", ")
        );
        Scenario::parse(&text, "test").unwrap_or_else(|e| panic!("{e}"))
    }

    const RANDOM: &str = "Generate(fd: \"data\", pattern: Random, count: 50)";

    #[test]
    fn same_seed_same_ops_other_seed_other_ops() {
        let a: Vec<Op> = scenario(7, &[RANDOM]).ops(0).collect();
        assert_eq!(a.len(), 51);
        assert_eq!(a, scenario(7, &[RANDOM]).ops(0).collect::<Vec<_>>());
        assert_ne!(a, scenario(8, &[RANDOM]).ops(0).collect::<Vec<_>>());
    }

    #[test]
    fn streams_are_independent_across_tasks_and_generators() {
        let alone: Vec<Op> = scenario(7, &[RANDOM]).ops(0).collect();
        // Another task with generators of its own does not move task 0's draws.
        let two = scenario(7, &[RANDOM, &format!("{RANDOM}, {RANDOM}")]);
        assert_eq!(alone, two.ops(0).collect::<Vec<_>>());
        // The same program in another task draws differently.
        let other: Vec<Op> = scenario(7, &[RANDOM, RANDOM]).ops(1).collect();
        assert_ne!(alone, other);
        // A generator added after this one in the same task leaves this one's ops as they were.
        let longer: Vec<Op> = scenario(7, &[&format!("{RANDOM}, {RANDOM}")]).ops(0).take(51).collect();
        assert_eq!(alone, longer);
    }

    #[test]
    fn generators_continue_their_stream_across_repeats() {
        let s = scenario(7, &["Repeat(count: 2, ops: [Generate(fd: \"data\", pattern: Random, count: 20)])"]);
        let ops: Vec<Op> = s.ops(0).skip(1).collect();
        assert_eq!(ops.len(), 40);
        assert_ne!(ops[..20], ops[20..]);
    }

    #[test]
    fn huge_repeats_stream_without_materialising() {
        let s = scenario(7, &["Repeat(count: 1000000000, ops: [Read(fd: \"data\", len: \"4k\")])"]);
        let mut ops = s.ops(0);
        assert_eq!(ops.nth(100_000), Some(Op::Read { fd: crate::trace::op::Fd(0), len: 4096 }));
        assert!(std::mem::size_of_val(&ops) < 256);
    }

    #[test]
    fn lookups() {
        let s = scenario(1, &[RANDOM]);
        assert_eq!(s.file_index("data"), Some(FileId(0)));
        assert_eq!(s.file_index("nope"), None);
        assert_eq!(s.device_of(FileId(0)).name, "d");
        assert_eq!(s.device_of(FileId(0)).size, 256 << 20);
        assert_eq!(s.task_index("t0"), Some(0));
        assert_eq!(s.tasks[0].fds, ["data"]);
        assert_eq!(s.sha256.len(), 64);
        assert_eq!(FsType::Xfs.name(), "xfs");
    }
}
