//! The RON schema of a scenario file, exactly as written: names are still strings, sizes are [`Size`], defaults are
//! still `Option`s. [`super::validate`] turns this into the resolved [`super::Scenario`].
//!
//! Every struct and enum denies unknown fields, so a misspelt field is an error (with the expected fields as hint)
//! rather than a silently ignored line. Field docs live in docs/SCENARIO.md; keep the two in step.

use crate::trace::op::{DropWhat, Fadvice, FallocMode, Madvice, MsyncMode, Whence};
use crate::units::{Nanos, Size};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub(crate) struct ScenarioDoc {
    pub name: String,
    #[serde(default)]
    pub seed: Option<u64>,
    pub machine: MachineDoc,
    pub devices: Vec<DeviceDoc>,
    #[serde(default)]
    pub sysctls: BTreeMap<String, SysctlInt>,
    pub files: Vec<FileDoc>,
    pub tasks: Vec<TaskDoc>,
}

/// A sysctl's value: an integer, as the kernel's proc handlers take it; a float, a negative number or a string is
/// refused in words that say so (ron alone would stop at the `.` of `2.5` with "expected comma").
#[derive(Clone, Copy, Debug)]
pub(crate) struct SysctlInt(pub u64);

impl<'de> Deserialize<'de> for SysctlInt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SysctlInt;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "an integer (sysctl values are integers)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SysctlInt, E> {
                Ok(SysctlInt(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SysctlInt, E> {
                u64::try_from(v).map(SysctlInt).map_err(|_| {
                    E::custom(format!("sysctl value {v} is negative: the vm knobs take unsigned integers"))
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<SysctlInt, E> {
                if v.fract() == 0.0 && v >= u64::MAX as f64 {
                    return Err(E::custom(format!("sysctl value {v:e} is too large (does not fit in 64 bits)")));
                }
                Err(E::custom(format!(
                    "sysctl value {v} is not an integer: the kernel takes whole numbers (a finer dirty limit than 1% is \
                     set in bytes: vm.dirty_bytes, vm.dirty_background_bytes)"
                )))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SysctlInt, E> {
                Err(E::custom(format!(
                    "sysctl value \"{v}\" is a string: write the integer without quotes (bytes for the *_bytes knobs)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Machine")]
pub(crate) struct MachineDoc {
    pub memory: Size,
    #[serde(default)]
    pub cpus: Option<u32>,
    #[serde(default)]
    pub memcg_limit: Option<Size>,
    #[serde(default)]
    pub memcg_used: Option<Size>,
    #[serde(default)]
    pub memcg_flush: Option<Nanos>,
    #[serde(default)]
    pub used: Option<Size>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename = "Fs")]
pub(crate) enum FsDoc {
    #[serde(alias = "ext4")]
    Ext4,
    #[serde(alias = "xfs")]
    Xfs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Device")]
pub(crate) struct DeviceDoc {
    pub name: String,
    #[serde(default)]
    pub fs: Option<FsDoc>,
    #[serde(default)]
    pub size: Option<Size>,
    #[serde(default)]
    pub read_ahead_kb: Option<u32>,
    #[serde(default)]
    pub max_sectors_kb: Option<u32>,
    #[serde(default)]
    pub nr_requests: Option<u32>,
    #[serde(default)]
    pub read_bw: Option<Size>,
    #[serde(default)]
    pub write_bw: Option<Size>,
    #[serde(default)]
    pub read_latency: Option<Nanos>,
    #[serde(default)]
    pub write_latency: Option<Nanos>,
    #[serde(default)]
    pub queue_depth: Option<u32>,
    #[serde(default)]
    pub write_bps: Option<Size>,
    /// How much a write batch's rate varies around `write_bw` (block/write_batch.rs): a fraction.
    #[serde(default)]
    pub write_bw_spread: Option<f64>,
    /// A file holding a device section (what `pcsim calibrate --out` writes), relative to the scenario's
    /// directory: its fields fill the ones this section leaves out.
    #[serde(default)]
    pub profile: Option<String>,
    /// A rotating disk's positioning times (block/seek.rs).
    #[serde(default)]
    pub seek: Option<SeekDoc>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Seek")]
pub(crate) struct SeekDoc {
    /// Track-to-track seek.
    pub min: Nanos,
    /// Full-stroke seek.
    pub max: Nanos,
    pub rpm: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "File")]
pub(crate) struct FileDoc {
    pub name: String,
    #[serde(default)]
    pub device: Option<String>,
    pub size: Size,
    #[serde(default)]
    pub state: Option<StateDoc>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
#[serde(rename = "State")]
pub(crate) enum StateDoc {
    Cold,
    Cached,
    CachedRange { off: Size, len: Size },
    DirtyRange { off: Size, len: Size },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Task")]
pub(crate) struct TaskDoc {
    pub name: String,
    #[serde(default)]
    pub start: Option<Nanos>,
    pub ops: Vec<OpDoc>,
}

/// open(2) flag names as written in `flags: [...]`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
#[serde(rename = "OpenFlag")]
pub(crate) enum OpenFlagDoc {
    RDONLY,
    WRONLY,
    RDWR,
    CREAT,
    TRUNC,
    APPEND,
    DIRECT,
    SYNC,
    DSYNC,
    NOATIME,
}

/// sync_file_range(2) flag names.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[serde(rename = "SyncRangeFlag")]
pub(crate) enum SyncRangeFlagDoc {
    WAIT_BEFORE,
    WRITE,
    WAIT_AFTER,
}

/// A signed offset for lseek(2): an integer or a size string with an optional leading `-`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedSize(pub i64);

impl<'de> Deserialize<'de> for SignedSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "an offset: an integer or a size string such as \"4k\" or \"-4k\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::custom("offset does not fit in 63 bits"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
                let (neg, body) = match v.trim().strip_prefix('-') {
                    Some(b) => (true, b),
                    None => (false, v),
                };
                let n = crate::units::parse_size(body).map_err(E::custom)?;
                let n = i64::try_from(n).map_err(|_| E::custom("offset does not fit in 63 bits"))?;
                Ok(if neg { -n } else { n })
            }
        }
        d.deserialize_any(V).map(SignedSize)
    }
}

fn yes() -> bool {
    true
}

/// One item of a task's `ops: [...]` list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Op")]
pub(crate) enum OpDoc {
    Open {
        file: String,
        #[serde(default)]
        fd: Option<String>,
        #[serde(default)]
        flags: Option<Vec<OpenFlagDoc>>,
    },
    Close {
        fd: String,
    },
    Read {
        fd: String,
        len: Size,
    },
    Pread {
        fd: String,
        off: Size,
        len: Size,
    },
    Readv {
        fd: String,
        lens: Vec<Size>,
    },
    Preadv {
        fd: String,
        off: Size,
        lens: Vec<Size>,
        #[serde(default)]
        nowait: bool,
        #[serde(default)]
        hipri: bool,
        #[serde(default)]
        dsync: bool,
        #[serde(default)]
        sync: bool,
    },
    Write {
        fd: String,
        len: Size,
    },
    Pwrite {
        fd: String,
        off: Size,
        len: Size,
    },
    Writev {
        fd: String,
        lens: Vec<Size>,
    },
    Pwritev {
        fd: String,
        off: Size,
        lens: Vec<Size>,
        #[serde(default)]
        nowait: bool,
        #[serde(default)]
        hipri: bool,
        #[serde(default)]
        dsync: bool,
        #[serde(default)]
        sync: bool,
    },
    Lseek {
        fd: String,
        off: SignedSize,
        #[serde(default = "whence_set")]
        whence: Whence,
    },
    Mmap {
        fd: String,
        #[serde(default)]
        map: Option<String>,
        #[serde(default)]
        off: Size,
        #[serde(default)]
        len: Option<Size>,
        #[serde(default)]
        write: bool,
        #[serde(default = "yes")]
        shared: bool,
    },
    Munmap {
        map: String,
    },
    Touch {
        map: String,
        #[serde(default)]
        off: Size,
        #[serde(default)]
        len: Option<Size>,
        #[serde(default)]
        write: bool,
    },
    Madvise {
        map: String,
        #[serde(default)]
        off: Size,
        #[serde(default)]
        len: Size,
        advice: Madvice,
    },
    Msync {
        map: String,
        #[serde(default)]
        off: Size,
        #[serde(default)]
        len: Size,
        #[serde(default = "msync_sync")]
        mode: MsyncMode,
    },
    Fsync {
        fd: String,
    },
    Fdatasync {
        fd: String,
    },
    SyncFileRange {
        fd: String,
        #[serde(default)]
        off: Size,
        #[serde(default)]
        len: Size,
        #[serde(default)]
        flags: Option<Vec<SyncRangeFlagDoc>>,
    },
    Fadvise {
        fd: String,
        #[serde(default)]
        off: Size,
        #[serde(default)]
        len: Size,
        advice: Fadvice,
    },
    Readahead {
        fd: String,
        #[serde(default)]
        off: Size,
        len: Size,
    },
    Fallocate {
        fd: String,
        #[serde(default = "falloc_allocate")]
        mode: FallocMode,
        #[serde(default)]
        off: Size,
        len: Size,
    },
    Ftruncate {
        fd: String,
        len: Size,
    },
    Sendfile {
        fd: String,
        #[serde(default)]
        off: Size,
        len: Size,
    },
    Cachestat {
        fd: String,
        #[serde(default)]
        off: Size,
        #[serde(default)]
        len: Size,
    },
    Sleep(Nanos),
    DropCaches(DropWhat),
    Sync,
    Repeat {
        count: u64,
        ops: Vec<OpDoc>,
    },
    Generate {
        #[serde(default)]
        fd: Option<String>,
        #[serde(default)]
        map: Option<String>,
        #[serde(default)]
        pattern: Option<PatternDoc>,
        #[serde(default)]
        block: Option<Size>,
        #[serde(default)]
        range: Option<RangeDoc>,
        #[serde(default)]
        count: Option<u64>,
        #[serde(default)]
        bytes: Option<Size>,
        #[serde(default)]
        think: Nanos,
        #[serde(default)]
        read_pct: Option<u64>,
        #[serde(default)]
        fsync_every: u64,
        #[serde(default)]
        syscall: Option<SyscallDoc>,
    },
}

/// `range: (off: ..., len: ...)` of a generator.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Range")]
pub(crate) struct RangeDoc {
    #[serde(default)]
    pub off: Size,
    #[serde(default)]
    pub len: Option<Size>,
}

/// A generator's offset pattern.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Pattern")]
pub(crate) enum PatternDoc {
    Sequential,
    Reverse,
    Strided { stride: Size },
    Random,
    Zipfian { theta: f64 },
    HotCold { hot_fraction: f64, hot_share: f64 },
    Interleaved { streams: u64 },
}

/// Which system call a file generator issues.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename = "Syscall")]
pub(crate) enum SyscallDoc {
    Pread,
    Read,
}

fn whence_set() -> Whence {
    Whence::Set
}
fn msync_sync() -> MsyncMode {
    MsyncMode::Sync
}
fn falloc_allocate() -> FallocMode {
    FallocMode::Allocate
}
