//! A simulated task: its op stream, its files and mappings (`Current`), its statistics, and how its calls take
//! time: the syscall entry, the copy time per page, and the sleeps inside its calls (the model returns
//! `Poll::Sleep` at the kernel's sleep points and the engine runs the task again at the wake-up time).

use std::sync::Arc;

use super::result::{SimError, TaskStats};
use crate::kernel::cpu::CpuStalls;
use crate::kernel::syscall::Current;
use crate::kernel::{Kernel, Poll, SyscallError, SYSCALL_NS};
use crate::scenario::OpStream;
use crate::trace::event::Name;
use crate::trace::op::Op;
use crate::units::Nanos;

pub struct Task {
    pub name: Name,
    ops: OpStream,
    /// Its files and mappings, which its system calls work on, and the call it sleeps in.
    cur: Current,
    pub stats: TaskStats,
    /// The call in progress while it sleeps: the op, when it started, whether it is a buffered write (its CPU time
    /// is charged inside the call), and the read misses counted before it started.
    call: Option<(Op, Nanos, bool, u64)>,
    /// The next ops of a generated stream, drawn ahead so the pages they read can be prefetched (`LOOKAHEAD`).
    ahead: std::collections::VecDeque<Op>,
}

/// How many ops a task draws ahead of the one it runs: the page-index slot of a read `LOOKAHEAD` ops ahead is
/// prefetched, and its folio `LOOKAHEAD / 2` ops ahead. Drawing ahead changes nothing but when the generator's own
/// random streams are consumed (the ops and their order are the same); a fed stream (a replay) is never drawn ahead.
const LOOKAHEAD: usize = 16;

/// Cached folios from which a task draws ahead (below, the folio slab and the page index fit in the CPU's caches,
/// and the lookahead's own work costs more than the prefetches save: 20M random 4 KiB hits on a 64 MiB file took
/// 1.85 s of CPU with it, 1.50 s without; on a 10 GiB file 3.1 s with it, 8.5-9.4 s without).
const PREFETCH_FOLIOS: u64 = 1 << 19;

impl Task {
    pub fn new(name: &str, ops: OpStream, cpu: CpuStalls) -> Self {
        Task {
            name: Arc::from(name),
            ops,
            cur: Current::new(cpu),
            stats: TaskStats { name: name.to_string(), ..Default::default() },
            call: None,
            ahead: std::collections::VecDeque::with_capacity(LOOKAHEAD + 1),
        }
    }

    /// The next op of the task's stream, drawing ahead and prefetching what the ops ahead will read.
    #[inline]
    fn next_op(&mut self, k: &Kernel) -> Option<Op> {
        // Drawing ahead costs more than it saves while the cached folios fit the CPU's caches.
        if self.ops.is_fed() || (self.ahead.is_empty() && k.folios.live() < PREFETCH_FOLIOS) {
            return self.ops.next();
        }
        while self.ahead.len() < LOOKAHEAD {
            let Some(op) = self.ops.next() else { break };
            self.hint(k, &op, false);
            self.ahead.push_back(op);
        }
        let op = self.ahead.pop_front()?;
        if let Some(mid) = self.ahead.get(LOOKAHEAD / 2) {
            self.hint(k, mid, true);
        }
        Some(op)
    }

    /// Prefetches the page a positioned read will look up first (its slot, or with `folio` the folio).
    #[inline]
    fn hint(&self, k: &Kernel, op: &Op, folio: bool) {
        if let Op::Pread { fd, off, .. } = op {
            if let Some(file) = self.cur.files.file_of(*fd) {
                k.prefetch_page(file, off >> 12, folio);
            }
        }
    }

    /// Runs the task at `k.now`: its next op, or the call it sleeps in, until the op returns or sleeps. Returns when
    /// the task runs next (its clock after the op, or its wake-up time), `None` when its stream is done.
    pub fn step(&mut self, k: &mut Kernel) -> Result<Option<Nanos>, SimError> {
        k.complete_writeback(k.now);
        let (op, start, buffered_write, misses_before) = match self.call.take() {
            Some(call) => call,
            None => {
                let Some(op) = self.next_op(k) else {
                    self.stats.end = k.now;
                    return Ok(None);
                };
                let start = k.now;
                k.now = Nanos(k.now.0 + SYSCALL_NS);
                let buffered_write = self.cur.buffered_write_file(&op).is_some();
                (op, start, buffered_write, k.vm.sync_misses)
            }
        };
        let r = match &op {
            Op::Sleep { ns } => {
                let until = (k.now.0 - SYSCALL_NS).saturating_add(*ns);
                if until > crate::units::MAX_TIME_NS {
                    return Err(SimError::ClockRange {
                        task: self.name.to_string(),
                        sleep: Nanos(*ns),
                        at: Nanos(k.now.0 - SYSCALL_NS),
                    });
                }
                k.now = Nanos(until);
                0
            }
            _ => match k.syscall(&mut self.cur, &op).map_err(|e| self.error(e))? {
                Poll::Done(r) => r,
                Poll::Sleep(until) => {
                    self.call = Some((op, start, buffered_write, misses_before));
                    return Ok(Some(until.max(k.now)));
                }
            },
        };
        if let Some(what) = k.unsupported.take() {
            return Err(SimError::Unsupported { task: self.name.to_string(), op: what });
        }
        self.stats.ops += 1;
        if r < 0 {
            self.stats.failed_ops += 1;
        } else if op.io_bytes() > 0 {
            self.stats.bytes += r as u64;
            if !buffered_write {
                k.now = Nanos(k.now.0 + self.cur.cpu.read_ns((r as u64).div_ceil(4096)));
            }
        }
        if matches!(op, Op::Read { .. } | Op::Pread { .. } | Op::Readv { .. } | Op::Preadv { .. } | Op::Sendfile { .. })
        {
            self.stats.read_ops += 1;
            self.stats.read_bytes += r.max(0) as u64;
            if k.vm.sync_misses != misses_before {
                self.stats.read_misses += 1;
            }
        }
        if !matches!(op, Op::Sleep { .. }) {
            self.stats.latency.record(k.now.0 - start.0);
        }
        if op.is_sync() {
            self.stats.sync_latency.record(k.now.0 - start.0);
        }
        Ok(Some(k.now))
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
