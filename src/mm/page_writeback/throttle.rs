//! The dirtier's side of mm/page-writeback.c on the simulated kernel: `balance_dirty_pages_ratelimited` and the
//! `balance_dirty_pages` loop, reading the kernel state into page_writeback's inputs (global_dirtyable_memory's
//! counts, NR_FILE_DIRTY / NR_WRITEBACK, the wb's counters) and turning its trace records into events.
//! The arithmetic itself is page_writeback's (checked against this host's balance_dirty_pages events).

use crate::kernel::Kernel;
use crate::mm::page_writeback::DirtyableMemory;
use crate::mm::page_writeback::{balance_dirty_pages, bdp_ratelimited, BdpAction, BdpArgs, DirtyCounters};
use crate::mm::page_writeback::{jiffies_at, JIFFY_NS};
use crate::trace::event::EventKind;

/// One balance_dirty_pages call in progress across its sleeps: the loop's `start_time` and its `pages_dirtied`
/// argument, which every pass of the loop reuses (the task's nr_dirtied is reset by the first pause).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdpCall {
    /// jiffies when balance_dirty_pages was entered.
    pub start_time: u64,
    /// The pages_dirtied argument.
    pub pages_dirtied: u64,
}

impl Kernel {
    /// task_cpu: the CPU a task runs on, for the per-CPU bdp_ratelimits (tasks stay on one CPU each, spread over the machine's
    /// CPUs in order).
    pub fn task_cpu(&self) -> usize {
        // DIVERGENCE: no migration: the kernel's scheduler moves tasks between CPUs.
        self.cur_task % self.wb.rl.bdp_ratelimits.len().max(1)
    }

    /// global_dirtyable_memory's inputs: free pages, totalreserve_pages (the zone's high watermark), file LRU pages.
    pub fn dirtyable_memory(&self) -> DirtyableMemory {
        DirtyableMemory {
            nr_free_pages: self.nr_free_pages(),
            totalreserve_pages: self.zone.wmark.high,
            nr_inactive_file: self.lru.nr_pages[0],
            nr_active_file: self.lru.nr_pages[1],
            // x86-64 has no highmem.
            highmem_dirtyable: 0,
        }
    }

    /// global_node_page_state + wb_stat: the counters balance_dirty_pages reads, for device `dev`'s wb.
    fn counters(&self, dev: usize) -> DirtyCounters {
        let w = &self.wb.wbs[dev];
        DirtyCounters {
            nr_file_dirty: self.vm.nr_dirty,
            nr_writeback: self.wb.nr_writeback,
            nr_dirtied: self.vm.nr_dirtied,
            nr_written: self.wb.nr_written,
            mem: self.dirtyable_memory(),
            wb_reclaimable: w.wb_reclaimable,
            wb_writeback: w.wb_writeback,
            wb_dirtied: w.wb_dirtied,
            wb_written: w.wb_written,
            writeback_in_progress: w.running,
            wb_has_dirty_io: w.has_dirty_io(),
        }
    }

    /// balance_dirty_pages_ratelimited for the running task writing to `file`: when its ratelimit is reached, one
    /// pass of balance_dirty_pages (events global_dirty_state, bdi_dirty_ratelimit, balance_dirty_pages; background
    /// writeback started when over the background threshold); `call` continues a call after its sleep. Returns how
    /// long the task sleeps, in ns, and the call to continue after the sleep when another pass follows (task_ratelimit
    /// was 0).
    pub fn balance_dirty_pages_ratelimited(
        &mut self,
        file: u32,
        call: Option<BdpCall>,
    ) -> Option<(u64, Option<BdpCall>)> {
        let dev = self.inodes[file as usize].device;
        let t = self.cur_task;
        let cpu = self.task_cpu();
        if call.is_none() {
            let exceeded = self.wb.wbs[dev].pg.dirty_exceeded;
            if !bdp_ratelimited(&mut self.wb.tasks[t], &mut self.wb.rl, cpu, exceeded) {
                return None;
            }
        }
        self.complete_writeback(self.now);
        let now = jiffies_at(self.now.0);
        let c = self.counters(dev);
        let call = call.unwrap_or(BdpCall { start_time: now, pages_dirtied: self.wb.tasks[t].nr_dirtied });
        let args = BdpArgs {
            now,
            start_time: call.start_time,
            pages_dirtied: call.pages_dirtied,
            // DIVERGENCE: every task is SCHED_OTHER: no RT or deadline boost of the limits.
            rt_task: false,
            vm: self.wb.vm,
            vm_highmem_is_dirtyable: false,
            nr_cpu_ids: self.wb.rl.bdp_ratelimits.len() as u64,
        };
        let wb = &mut self.wb;
        let w = &mut wb.wbs[dev];
        let pass = balance_dirty_pages(&mut wb.dom, &mut w.bdi, &mut w.pg, &mut wb.tasks[t], &c, &args);
        if self.events_on() {
            let g = pass.global_dirty_state;
            self.emit(EventKind::GlobalDirtyState {
                nr_dirty: g.nr_dirty,
                nr_writeback: g.nr_writeback,
                bg_thresh: g.background_thresh,
                thresh: g.dirty_thresh,
                limit: g.dirty_limit,
                nr_dirtied: g.nr_dirtied,
                nr_written: g.nr_written,
            });
            let device = self.devices[dev].name.clone();
            if let Some(b) = pass.bdi_dirty_ratelimit {
                self.emit(EventKind::BdiDirtyRatelimit {
                    device: device.clone(),
                    write_bw: b.write_bw,
                    avg_write_bw: b.avg_write_bw,
                    dirty_rate: b.dirty_rate,
                    dirty_ratelimit: b.dirty_ratelimit,
                    task_ratelimit: b.task_ratelimit,
                    balanced_dirty_ratelimit: b.balanced_dirty_ratelimit,
                });
            }
            if let Some(b) = pass.balance_dirty_pages {
                self.emit(EventKind::BalanceDirtyPages {
                    device,
                    limit: b.limit,
                    setpoint: b.setpoint,
                    dirty: b.dirty,
                    wb_setpoint: b.wb_setpoint,
                    wb_dirty: b.wb_dirty,
                    dirty_ratelimit: b.dirty_ratelimit,
                    task_ratelimit: b.task_ratelimit,
                    dirtied: b.dirtied as u64,
                    dirtied_pause: b.dirtied_pause as u64,
                    paused: b.paused,
                    pause: b.pause,
                    period: b.period,
                    think: b.think,
                });
            }
        }
        if pass.start_background_writeback {
            self.wb_start_background_writeback(dev);
        }
        match pass.action {
            BdpAction::FreeRun | BdpAction::NoSleep => None,
            // io_schedule_timeout(pause): the timer wheel rounds a level-0 expiry up to the next tick (calc_index:
            // "a timer does not fire early"), so the task wakes at the start of jiffy now + pause + 1. On the host the
            // writer's next event came 0-4 ms after `pause` jiffies, most often 3.x ms (traces/write/slow_device_1g:
            // 425 of 690 pauses): it calls balance_dirty_pages just after the tick that woke it.
            BdpAction::Sleep { pause, again } => {
                self.wb.wbs[dev].last_bdp_sleep = Some(self.now);
                let tick = JIFFY_NS;
                Some(((self.now.0 / tick + pause + 1) * tick - self.now.0, again.then_some(call)))
            }
        }
    }
}
