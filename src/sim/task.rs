//! A simulated task: its op stream, its files and mappings (`Current`), its statistics, and how its calls take
//! time: the syscall entry, the copy or write time per page, the sleeps in balance_dirty_pages.

use std::sync::Arc;

use super::result::{SimError, TaskStats};
use crate::kernel::syscall::Current;
use crate::kernel::{Kernel, SyscallError, COPY_PAGE_NS, SYSCALL_NS};
use crate::scenario::OpStream;
use crate::trace::event::Name;
use crate::trace::op::Op;
use crate::units::Nanos;

pub struct Task {
    pub name: Name,
    ops: OpStream,
    /// Its files and mappings, which its system calls work on.
    cur: Current,
    pub stats: TaskStats,
    /// A buffered write sleeping in balance_dirty_pages before its first chunk: the op, when it started, when
    /// balance_dirty_pages was entered (jiffies) and whether another pass follows the sleep.
    pending: Option<(Op, Nanos, u64, bool)>,
    /// The stalls its CPU time meets (cpu.rs).
    cpu: super::cpu::CpuStalls,
}

impl Task {
    pub fn new(name: &str, ops: OpStream, cpu: super::cpu::CpuStalls) -> Self {
        Task {
            name: Arc::from(name),
            ops,
            cur: Current::default(),
            stats: TaskStats { name: name.to_string(), ..Default::default() },
            pending: None,
            cpu,
        }
    }

    /// Runs the next op at `k.now`; `Ok(false)` when the stream is done.
    pub fn step(&mut self, k: &mut Kernel) -> Result<bool, SimError> {
        k.complete_writeback(k.now);
        let (op, start, resumed) = match self.pending.take() {
            Some((op, start, bdp_start, again)) => (op, start, Some((bdp_start, again))),
            None => {
                let Some(op) = self.ops.next() else {
                    self.stats.end = k.now;
                    return Ok(false);
                };
                let start = k.now;
                k.now = Nanos(k.now.0 + SYSCALL_NS);
                (op, start, None)
            }
        };
        // generic_perform_write's first balance_dirty_pages_ratelimited: a pause ends the step, so other tasks and
        // the flusher run while this task sleeps.
        let buffered_write = self.cur.buffered_write_file(&op);
        if let Some(file) = buffered_write {
            if resumed.is_none_or(|(_, again)| again) {
                let bdp_start = resumed.map(|(s, _)| s);
                let entered = bdp_start.unwrap_or(crate::mm::page_writeback::jiffies_at(k.now.0));
                if let Some((pause, again)) = k.balance_dirty_pages_ratelimited(file, bdp_start) {
                    k.now = Nanos(k.now.0 + pause);
                    self.pending = Some((op, start, entered, again));
                    return Ok(true);
                }
            }
        }
        let misses_before = k.vm.sync_misses;
        let r = match &op {
            Op::Sleep { ns } => {
                k.now = Nanos((k.now.0 - SYSCALL_NS).saturating_add(*ns));
                0
            }
            _ => k.syscall(&mut self.cur, &op).map_err(|e| self.error(e))?,
        };
        if let Some(what) = k.unsupported.take() {
            return Err(SimError::Unsupported { task: self.name.to_string(), op: what });
        }
        self.stats.ops += 1;
        if r < 0 {
            self.stats.failed_ops += 1;
        } else if op.io_bytes() > 0 {
            self.stats.bytes += r as u64;
            let pages = (r as u64).div_ceil(4096);
            let ns = if buffered_write.is_some() { self.cpu.write_ns(pages) } else { pages * COPY_PAGE_NS };
            k.now = Nanos(k.now.0 + ns);
        }
        if matches!(op, Op::Read { .. } | Op::Pread { .. } | Op::Readv { .. } | Op::Preadv { .. } | Op::Sendfile { .. })
        {
            self.stats.read_ops += 1;
            if k.vm.sync_misses != misses_before {
                self.stats.read_misses += 1;
            }
        }
        if !matches!(op, Op::Sleep { .. }) {
            self.stats.latency.record(k.now.0 - start.0);
        }
        Ok(true)
    }

    /// A system call the model cannot run, as the run's error.
    fn error(&self, e: SyscallError) -> SimError {
        let task = self.name.to_string();
        match e {
            SyscallError::NotModelled(op) => SimError::Unsupported { task, op },
            SyscallError::Refused(why) => SimError::Refused { task, why },
        }
    }
}
