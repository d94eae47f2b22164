//! `Op`: the one operation vocabulary shared by scenarios, importers, the simulator and the probe.
//!
//! An `Op` is one system call (or one page touch through a mapping) issued by one task. Files, descriptors and
//! mappings are small integer ids resolved when a scenario is compiled: `FileId` indexes the scenario's `files`,
//! `Fd` and `MapId` index a task's own descriptor and mapping tables (named in scenarios, so two descriptors on one
//! file are easy to write). Offsets and lengths are bytes.

use serde::{Deserialize, Serialize};

/// MAX_RW_COUNT (include/linux/fs.h): the most one read or write call moves, INT_MAX rounded down to a page.
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// Index into the scenario's `files`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FileId(pub u32);

/// A task's file descriptor slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fd(pub u32);

/// A task's mapping slot (one `mmap` result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MapId(pub u32);

/// open(2) flags that matter to the page cache. Access mode is one of RDONLY, WRONLY, RDWR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpenFlags {
    /// Read, write or both.
    pub access: Access,
    /// O_CREAT.
    pub creat: bool,
    /// O_TRUNC.
    pub trunc: bool,
    /// O_APPEND.
    pub append: bool,
    /// O_DIRECT.
    pub direct: bool,
    /// O_SYNC.
    pub sync: bool,
    /// O_DSYNC.
    pub dsync: bool,
    /// O_NOATIME.
    pub noatime: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
/// open(2)'s access mode.
pub enum Access {
    #[default]
    /// O_RDONLY.
    ReadOnly,
    /// O_WRONLY.
    WriteOnly,
    /// O_RDWR.
    ReadWrite,
}

impl OpenFlags {
    /// The host's open(2) flag bits (Linux x86_64/aarch64 values).
    pub fn to_linux(self) -> i32 {
        let mut f = match self.access {
            Access::ReadOnly => 0o0,
            Access::WriteOnly => 0o1,
            Access::ReadWrite => 0o2,
        };
        if self.creat {
            f |= 0o100;
        }
        if self.trunc {
            f |= 0o1000;
        }
        if self.append {
            f |= 0o2000;
        }
        if self.dsync {
            f |= 0o10000;
        }
        if self.sync {
            f |= 0o4010000; // O_SYNC = __O_SYNC | O_DSYNC
        }
        if self.direct {
            f |= 0o40000;
        }
        if self.noatime {
            f |= 0o1000000;
        }
        f
    }
    /// Whether the descriptor may read.
    pub fn can_read(self) -> bool {
        self.access != Access::WriteOnly
    }
    /// Whether the descriptor may write.
    pub fn can_write(self) -> bool {
        self.access != Access::ReadOnly
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
/// lseek(2)'s whence.
pub enum Whence {
    /// SEEK_SET.
    Set,
    /// SEEK_CUR.
    Cur,
    /// SEEK_END.
    End,
    /// SEEK_DATA.
    Data,
    /// SEEK_HOLE.
    Hole,
}

/// posix_fadvise(2) advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fadvice {
    /// POSIX_FADV_NORMAL.
    Normal,
    /// POSIX_FADV_RANDOM.
    Random,
    /// POSIX_FADV_SEQUENTIAL.
    Sequential,
    /// POSIX_FADV_WILLNEED.
    WillNeed,
    /// POSIX_FADV_DONTNEED.
    DontNeed,
    /// POSIX_FADV_NOREUSE.
    NoReuse,
}

impl Fadvice {
    /// The advice's value in Linux's uapi.
    pub fn to_linux(self) -> i32 {
        match self {
            Fadvice::Normal => 0,
            Fadvice::Random => 1,
            Fadvice::Sequential => 2,
            Fadvice::WillNeed => 3,
            Fadvice::DontNeed => 4,
            Fadvice::NoReuse => 5,
        }
    }
}

/// madvise(2) advice that touches file-backed memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Madvice {
    /// MADV_NORMAL.
    Normal,
    /// MADV_RANDOM.
    Random,
    /// MADV_SEQUENTIAL.
    Sequential,
    /// MADV_WILLNEED.
    WillNeed,
    /// MADV_DONTNEED.
    DontNeed,
    /// MADV_COLD.
    Cold,
    /// MADV_PAGEOUT.
    PageOut,
    /// MADV_HUGEPAGE.
    HugePage,
    /// MADV_NOHUGEPAGE.
    NoHugePage,
    /// MADV_POPULATE_READ.
    PopulateRead,
}

impl Madvice {
    /// The advice's value in Linux's uapi.
    pub fn to_linux(self) -> i32 {
        match self {
            Madvice::Normal => 0,
            Madvice::Random => 1,
            Madvice::Sequential => 2,
            Madvice::WillNeed => 3,
            Madvice::DontNeed => 4,
            Madvice::Cold => 20,
            Madvice::PageOut => 21,
            Madvice::HugePage => 14,
            Madvice::NoHugePage => 15,
            Madvice::PopulateRead => 22,
        }
    }
}

/// sync_file_range(2) flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SyncRangeFlags {
    /// SYNC_FILE_RANGE_WAIT_BEFORE.
    pub wait_before: bool,
    /// SYNC_FILE_RANGE_WRITE.
    pub write: bool,
    /// SYNC_FILE_RANGE_WAIT_AFTER.
    pub wait_after: bool,
}

impl SyncRangeFlags {
    /// The flags' value in Linux's uapi.
    pub fn to_linux(self) -> u32 {
        (self.wait_before as u32) | ((self.write as u32) << 1) | ((self.wait_after as u32) << 2)
    }
}

/// msync(2) mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MsyncMode {
    /// MS_ASYNC.
    Async,
    /// MS_SYNC.
    Sync,
    /// MS_INVALIDATE.
    Invalidate,
}

/// fallocate(2) mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FallocMode {
    /// Allocate and extend i_size.
    Allocate,
    /// FALLOC_FL_KEEP_SIZE.
    KeepSize,
    /// FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE.
    PunchHole,
    /// FALLOC_FL_ZERO_RANGE.
    ZeroRange,
}

impl FallocMode {
    /// The mode's value in Linux's uapi.
    pub fn to_linux(self) -> i32 {
        match self {
            FallocMode::Allocate => 0,
            FallocMode::KeepSize => 0x01,
            FallocMode::PunchHole => 0x02 | 0x01,
            FallocMode::ZeroRange => 0x10,
        }
    }
}

/// /proc/sys/vm/drop_caches value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DropWhat {
    /// 1: page cache.
    PageCache,
    /// 2: slab (dentries and inodes).
    Slab,
    /// 3: both.
    All,
}

/// preadv2/pwritev2 flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RwFlags {
    /// RWF_NOWAIT.
    pub nowait: bool,
    /// RWF_HIPRI.
    pub hipri: bool,
    /// RWF_DSYNC.
    pub dsync: bool,
    /// RWF_SYNC.
    pub sync: bool,
}

impl RwFlags {
    /// The flags' value in Linux's uapi.
    pub fn to_linux(self) -> i32 {
        (self.hipri as i32) | ((self.dsync as i32) << 1) | ((self.sync as i32) << 2) | ((self.nowait as i32) << 3)
    }
}

/// One operation of one task.
///
/// The fields are the call's arguments and follow one convention throughout: `fd` is a descriptor slot of the task
/// (`Fd`), `map` a mapping slot (`MapId`), `file` a scenario file (`FileId`); `off` and `len` are bytes (`len` 0
/// means "to the end" where the variant says so); `lens` are the lengths of an iovec array; `flags`, `advice`,
/// `mode`, `whence` and `what` are the call's flags; `write` and `shared` are mmap's PROT_WRITE and MAP_SHARED, or
/// a touch's kind of access; `ns` is a duration.
#[allow(missing_docs)] // the fields: see the convention above.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// open(2) `file` into descriptor slot `fd`.
    Open { fd: Fd, file: FileId, flags: OpenFlags },
    /// close(2).
    Close { fd: Fd },
    /// read(2) at the file position, which advances.
    Read { fd: Fd, len: u64 },
    /// pread64(2) at `off`.
    Pread { fd: Fd, off: u64, len: u64 },
    /// readv(2) at the file position: one buffer per length.
    Readv { fd: Fd, lens: Vec<u64> },
    /// preadv2(2) at `off` (flags: RWF_NOWAIT ...).
    Preadv { fd: Fd, off: u64, lens: Vec<u64>, flags: RwFlags },
    /// write(2) at the file position (or the end with O_APPEND).
    Write { fd: Fd, len: u64 },
    /// pwrite64(2) at `off`.
    Pwrite { fd: Fd, off: u64, len: u64 },
    /// writev(2) at the file position.
    Writev { fd: Fd, lens: Vec<u64> },
    /// pwritev2(2) at `off`.
    Pwritev { fd: Fd, off: u64, lens: Vec<u64>, flags: RwFlags },
    /// lseek(2).
    Lseek { fd: Fd, off: i64, whence: Whence },
    /// mmap(2) `len` bytes of the file from `off` into mapping slot `map` (MAP_SHARED if `shared`).
    Mmap { fd: Fd, map: MapId, off: u64, len: u64, write: bool, shared: bool },
    /// munmap(2) the whole mapping.
    Munmap { map: MapId },
    /// Touch one byte in each page of [off, off+len) of a mapping: a read or write fault where not mapped.
    Touch { map: MapId, off: u64, len: u64, write: bool },
    /// madvise(2) over [off, off+len) of a mapping (len 0 = to its end).
    Madvise { map: MapId, off: u64, len: u64, advice: Madvice },
    /// msync(2) over [off, off+len) of a mapping (len 0 = to its end).
    Msync { map: MapId, off: u64, len: u64, mode: MsyncMode },
    /// fsync(2).
    Fsync { fd: Fd },
    /// fdatasync(2).
    Fdatasync { fd: Fd },
    /// sync_file_range(2); len 0 = to EOF.
    SyncFileRange { fd: Fd, off: u64, len: u64, flags: SyncRangeFlags },
    /// posix_fadvise(2); len 0 = to EOF.
    Fadvise { fd: Fd, off: u64, len: u64, advice: Fadvice },
    /// readahead(2).
    Readahead { fd: Fd, off: u64, len: u64 },
    /// fallocate(2).
    Fallocate { fd: Fd, mode: FallocMode, off: u64, len: u64 },
    /// ftruncate(2).
    Ftruncate { fd: Fd, len: u64 },
    /// sendfile(2) from `fd` (through the page cache) to a sink that discards the data.
    Sendfile { fd: Fd, off: u64, len: u64 },
    /// cachestat(2) of the pages holding bytes [off, off+len) (len 0 = to the end of the file): counts of
    /// cached, dirty, writeback, evicted and recently evicted pages, recorded in the run's `cachestat.txt`.
    Cachestat { fd: Fd, off: u64, len: u64 },
    /// Sleep (think time).
    Sleep { ns: u64 },
    /// echo N > /proc/sys/vm/drop_caches (the probe confines this to the scratch filesystem: see README).
    DropCaches { what: DropWhat },
    /// sync(2).
    Sync,
}

impl Op {
    /// The name used in logs and per-op latency tables (the syscall's name).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Open { .. } => "open",
            Op::Close { .. } => "close",
            Op::Read { .. } => "read",
            Op::Pread { .. } => "pread",
            Op::Readv { .. } => "readv",
            Op::Preadv { .. } => "preadv",
            Op::Write { .. } => "write",
            Op::Pwrite { .. } => "pwrite",
            Op::Writev { .. } => "writev",
            Op::Pwritev { .. } => "pwritev",
            Op::Lseek { .. } => "lseek",
            Op::Mmap { .. } => "mmap",
            Op::Munmap { .. } => "munmap",
            Op::Touch { write: false, .. } => "touch_read",
            Op::Touch { write: true, .. } => "touch_write",
            Op::Madvise { .. } => "madvise",
            Op::Msync { .. } => "msync",
            Op::Fsync { .. } => "fsync",
            Op::Fdatasync { .. } => "fdatasync",
            Op::SyncFileRange { .. } => "sync_file_range",
            Op::Fadvise { .. } => "fadvise",
            Op::Readahead { .. } => "readahead",
            Op::Fallocate { .. } => "fallocate",
            Op::Ftruncate { .. } => "ftruncate",
            Op::Sendfile { .. } => "sendfile",
            Op::Cachestat { .. } => "cachestat",
            Op::Sleep { .. } => "sleep",
            Op::DropCaches { .. } => "drop_caches",
            Op::Sync => "sync",
        }
    }

    /// Whether this is one of the calls that write data back and wait (by name, so the probe's op tables classify
    /// alike): fsync, fdatasync, sync, msync and sync_file_range.
    #[inline]
    pub fn is_sync(&self) -> bool {
        // The same calls as `is_sync_name(self.name())` (a test checks), without the string compares per op.
        matches!(self, Op::Fsync { .. } | Op::Fdatasync { .. } | Op::Sync | Op::Msync { .. } | Op::SyncFileRange { .. })
    }

    /// Bytes this op asks to move through the read or write path (0 for the rest).
    pub fn io_bytes(&self) -> u64 {
        match self {
            Op::Read { len, .. } | Op::Pread { len, .. } | Op::Write { len, .. } | Op::Pwrite { len, .. } => *len,
            Op::Sendfile { len, .. } => *len,
            Op::Readv { lens, .. } | Op::Preadv { lens, .. } | Op::Writev { lens, .. } | Op::Pwritev { lens, .. } => {
                lens.iter().sum()
            }
            Op::Touch { len, .. } => *len,
            _ => 0,
        }
    }
}

/// Whether an op of this name (`Op::name`) is a sync call ([`Op::is_sync`]).
pub fn is_sync_name(name: &str) -> bool {
    matches!(name, "fsync" | "fdatasync" | "sync" | "msync" | "sync_file_range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_sync_agrees_with_the_names() {
        let fd = Fd(3);
        let ops = [
            Op::Fsync { fd },
            Op::Fdatasync { fd },
            Op::Sync,
            Op::Msync { map: MapId(0), off: 0, len: 1, mode: MsyncMode::Async },
            Op::SyncFileRange { fd, off: 0, len: 0, flags: SyncRangeFlags::default() },
            Op::Close { fd },
            Op::Pread { fd, off: 0, len: 1 },
            Op::Write { fd, len: 1 },
            Op::Sleep { ns: 1 },
        ];
        for op in &ops {
            assert_eq!(op.is_sync(), is_sync_name(op.name()), "{op:?}");
        }
        assert_eq!(ops.iter().filter(|o| o.is_sync()).count(), 5);
    }

    #[test]
    fn open_flags_match_linux_headers() {
        let f = OpenFlags { access: Access::ReadWrite, creat: true, trunc: true, direct: true, ..Default::default() };
        assert_eq!(f.to_linux(), libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_DIRECT);
        let s = OpenFlags { sync: true, ..Default::default() };
        assert_eq!(s.to_linux(), libc::O_SYNC);
        let d = OpenFlags { dsync: true, access: Access::WriteOnly, ..Default::default() };
        assert_eq!(d.to_linux(), libc::O_DSYNC | libc::O_WRONLY);
    }

    #[test]
    fn advice_matches_linux_headers() {
        assert_eq!(Fadvice::DontNeed.to_linux(), libc::POSIX_FADV_DONTNEED);
        assert_eq!(Fadvice::NoReuse.to_linux(), libc::POSIX_FADV_NOREUSE);
        assert_eq!(Madvice::Cold.to_linux(), libc::MADV_COLD);
        assert_eq!(Madvice::PageOut.to_linux(), libc::MADV_PAGEOUT);
        assert_eq!(Madvice::HugePage.to_linux(), libc::MADV_HUGEPAGE);
        assert_eq!(Madvice::PopulateRead.to_linux(), libc::MADV_POPULATE_READ);
        assert_eq!(FallocMode::PunchHole.to_linux(), libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE);
        assert_eq!(RwFlags { nowait: true, ..Default::default() }.to_linux(), libc::RWF_NOWAIT);
        assert_eq!(
            SyncRangeFlags { wait_before: true, write: true, wait_after: true }.to_linux(),
            libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER
        );
    }
}
