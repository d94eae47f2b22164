//! The shared reading of block traces (blktrace binary and blkparse text): each queued bio (a `Q` record) becomes a
//! call on the block device's own file, the way fio replays blktrace.
//!
//! - One [`TraceFile`] per traced device, named `devMAJ_MIN` after its dev_t, sized to the largest sector end seen
//!   (or the size given in [`BlockOptions::device_sizes`], if larger); it existed before the trace.
//! - Each pid is its own process and thread (blktrace records the thread's pid and nothing groups them).
//! - Before a process's first I/O on a device, an `Open` of the device (read-write) into slot `Fd(2 * device)`;
//!   a FUA write goes through a second descriptor `Fd(2 * device + 1)` opened with `O_DSYNC` (what the kernel turns
//!   into a FUA write: `dio_bio_write_op` adds REQ_FUA under IOCB_DSYNC; through the cache, O_DSYNC makes the write
//!   durable before it returns). With [`Through::Device`] both are `O_DIRECT`.
//! - A read becomes `Pread`, a write `Pwrite`, at byte offset `sector * 512` for `bytes` bytes; a write with a
//!   preflush (`F` before the letter) is an `Fdatasync` then the `Pwrite`; an empty flush (no data) is an
//!   `Fdatasync`; discards are skipped (`discard`), as are SCSI passthrough requests (`pc_request`) and bios with
//!   no data and no flush (`no_data`).

use std::collections::BTreeMap;
use std::collections::VecDeque;

use super::{checked_end, Counters, DenseIds, Partition, ProcessInfo, Record, ThreadInfo, TraceFile};
use crate::trace::op::{Access, Fd, FileId, Op, OpenFlags};

/// How a block trace is replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Through {
    /// Buffered calls on the device file: the replay goes through the page cache (the bdev's own cache), which
    /// the traced I/O had already passed (a Q record is below the cache).
    Cache,
    /// O_DIRECT calls on the device file: the replay issues the traced bios again, bypassing the cache.
    #[default]
    Device,
}

/// Options of the block-trace importers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockOptions {
    /// Buffered or direct replay.
    pub through: Through,
    /// Device sizes in bytes by dev_t (`major << 20 | minor`), when known; otherwise the largest sector end seen.
    pub device_sizes: BTreeMap<u32, u64>,
    /// Replay only the I/O of this partition (dev_t), at offsets from the partition's start: the bios a remap (`A`)
    /// record shows coming from it. `None`: every bio, at whole-device offsets.
    pub partition: Option<u32>,
}

/// blktrace's category bits (`BLK_TC_*`, before the shift).
pub(crate) mod tc {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
    pub const FLUSH: u32 = 1 << 2;
    pub const SYNC: u32 = 1 << 3;
    pub const QUEUE: u32 = 1 << 4;
    pub const REQUEUE: u32 = 1 << 5;
    pub const ISSUE: u32 = 1 << 6;
    pub const COMPLETE: u32 = 1 << 7;
    pub const FS: u32 = 1 << 8;
    pub const PC: u32 = 1 << 9;
    pub const NOTIFY: u32 = 1 << 10;
    pub const AHEAD: u32 = 1 << 11;
    pub const META: u32 = 1 << 12;
    pub const DISCARD: u32 = 1 << 13;
    pub const FUA: u32 = 1 << 15;
}

/// The device name used as the file name: `dev8_16`.
pub(crate) fn device_file_name(dev: u32) -> String {
    format!("dev{}_{}", dev >> 20, dev & 0xfffff)
}

/// The state shared by the block importers: devices, tasks, opened descriptors and pending records.
#[derive(Debug, Default)]
pub(crate) struct BlockMapper {
    opts: BlockOptions,
    pub(crate) files: Vec<TraceFile>,
    devices: DenseIds,
    pids: DenseIds,
    pub(crate) processes: Vec<ProcessInfo>,
    pub(crate) threads: Vec<ThreadInfo>,
    /// Names from notes or `[comm]`, for pids not yet seen doing I/O.
    names: hashbrown::HashMap<u32, String>,
    /// (process, descriptor slot) pairs already opened.
    opened: hashbrown::HashSet<(u32, u32)>,
    last_opened: Option<(u32, u32)>,
    pub(crate) pending: VecDeque<Record>,
    pub(crate) counters: Counters,
    last_time: u64,
    /// Partitions seen in remap records, by their dev_t.
    pub(crate) partitions: BTreeMap<u32, Partition>,
    /// Per pid, the last remap: (whole-device sector, partition dev_t), claimed by the `Q` that follows it.
    remapped: hashbrown::HashMap<u32, (u64, u32)>,
}

impl BlockMapper {
    pub(crate) fn new(opts: BlockOptions) -> Self {
        BlockMapper { opts, pending: VecDeque::with_capacity(4), ..Default::default() }
    }

    /// Records a task name (PROCESS note, `[comm]`).
    pub(crate) fn name_pid(&mut self, pid: u32, name: &str) {
        let name = name.trim_end_matches('\0');
        if name.is_empty() {
            return;
        }
        match self.pids.get(pid) {
            Some(p) => {
                let p = p as usize;
                if self.processes[p].name.as_deref() != Some(name) {
                    self.processes[p].name = Some(name.to_string());
                    self.threads[p].name = Some(name.to_string());
                }
            }
            None => {
                if self.names.get(&pid).map(String::as_str) != Some(name) {
                    self.names.insert(pid, name.to_string());
                }
            }
        }
    }

    fn task(&mut self, pid: u32) -> u32 {
        let next = self.processes.len() as u32;
        let (id, new) = self.pids.get_or_insert(pid, next);
        if new {
            let name = self.names.remove(&pid);
            self.processes.push(ProcessInfo { pid, name: name.clone() });
            self.threads.push(ThreadInfo { tid: pid, process: id, name });
        }
        id
    }

    fn device(&mut self, dev: u32) -> u32 {
        let next = self.files.len() as u32;
        let (id, new) = self.devices.get_or_insert(dev, next);
        if new {
            let size = self.opts.device_sizes.get(&dev).copied().unwrap_or(0);
            self.files.push(TraceFile { name: device_file_name(dev), size, existed_before: true });
        }
        id
    }

    fn push(&mut self, time_ns: u64, task: u32, op: Op) {
        self.counters.op();
        self.pending.push_back(Record { time_ns, process: task, thread: task, op, duration_ns: None });
    }

    fn ensure_open(&mut self, time_ns: u64, task: u32, file: u32, fua: bool) -> Fd {
        let slot = file * 2 + fua as u32;
        if self.last_opened != Some((task, slot)) {
            if self.opened.insert((task, slot)) {
                let flags = OpenFlags {
                    access: Access::ReadWrite,
                    direct: self.opts.through == Through::Device,
                    dsync: fua,
                    ..Default::default()
                };
                self.push(time_ns, task, Op::Open { fd: Fd(slot), file: FileId(file), flags });
            }
            self.last_opened = Some((task, slot));
        }
        Fd(slot)
    }

    /// Time since the trace's first record, kept monotonic.
    pub(crate) fn monotonic(&mut self, t: u64) -> u64 {
        if t < self.last_time {
            self.counters.note("time_raised_to_monotonic");
            self.last_time
        } else {
            self.last_time = t;
            t
        }
    }

    /// One A (remap) record of a partition: the bio at whole-device `sector` of `dev` came from `from_sector` of
    /// partition `from_dev`. (blk_partition_remap writes it just before the bio's `Q`, which carries `sector`.)
    pub(crate) fn remap(&mut self, pid: u32, dev: u32, sector: u64, from_dev: u32, from_sector: u64) {
        self.counters.skip("remap");
        let Some(start) = sector.checked_sub(from_sector) else { return };
        self.partitions.entry(from_dev).or_insert(Partition { device: dev, start_sector: start });
        self.remapped.insert(pid, (sector, from_dev));
    }

    /// One Q record: `time_ns` relative to the trace's start, `cats` the `BLK_TC_*` bits.
    pub(crate) fn queue(&mut self, time_ns: u64, pid: u32, dev: u32, sector: u64, bytes: u64, cats: u32) {
        let (dev, sector) = match self.opts.partition {
            None => (dev, sector),
            Some(part) => {
                let from = self.remapped.remove(&pid).filter(|&(s, _)| s == sector).map(|(_, d)| d);
                let start = self.partitions.get(&part).map(|p| p.start_sector);
                match (from, start) {
                    (Some(d), Some(start)) if d == part => (part, sector - start),
                    _ => return self.counters.skip("other_partition"),
                }
            }
        };
        if cats & tc::PC != 0 {
            return self.counters.skip("pc_request");
        }
        if cats & tc::DISCARD != 0 {
            return self.counters.skip("discard");
        }
        let flush = cats & tc::FLUSH != 0;
        if bytes == 0 && !flush {
            return self.counters.skip("no_data");
        }
        let end = match sector.checked_mul(512).and_then(|off| checked_end(off, bytes).map(|e| (off, e))) {
            Some(v) => v,
            None => return self.counters.skip("offset_out_of_range"),
        };
        let time_ns = self.monotonic(time_ns);
        let task = self.task(pid);
        let file = self.device(dev);
        if flush {
            let fd = self.ensure_open(time_ns, task, file, false);
            self.push(time_ns, task, Op::Fdatasync { fd });
            if bytes == 0 {
                return;
            }
        }
        let (off, end) = end;
        let f = &mut self.files[file as usize];
        f.size = f.size.max(end);
        if cats & tc::WRITE != 0 {
            let fd = self.ensure_open(time_ns, task, file, cats & tc::FUA != 0);
            self.push(time_ns, task, Op::Pwrite { fd, off, len: bytes });
        } else {
            let fd = self.ensure_open(time_ns, task, file, false);
            self.push(time_ns, task, Op::Pread { fd, off, len: bytes });
        }
    }
}

/// The `BLK_TC_*` bits of a blkparse RWBS column (`[F](D|W|R|N)[F][A][S][M]`), or `None` if it is not one.
pub(crate) fn rwbs_bits(rwbs: &str) -> Option<u32> {
    let b = rwbs.as_bytes();
    let mut i = 0;
    let mut bits = 0;
    if b.len() >= 2 && b[0] == b'F' && matches!(b[1], b'D' | b'W' | b'R' | b'N') {
        bits |= tc::FLUSH;
        i = 1;
    }
    match b.get(i) {
        Some(b'D') => bits |= tc::DISCARD | tc::WRITE,
        Some(b'W') => bits |= tc::WRITE,
        Some(b'R') => bits |= tc::READ,
        Some(b'N') => bits |= tc::READ,
        _ => return None,
    }
    i += 1;
    for (letter, bit) in [(b'F', tc::FUA), (b'A', tc::AHEAD), (b'S', tc::SYNC), (b'M', tc::META)] {
        if b.get(i) == Some(&letter) {
            bits |= bit;
            i += 1;
        }
    }
    (i == b.len()).then_some(bits)
}
