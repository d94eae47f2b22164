//! block/blk-mq.c on the simulated machine: a submission's requests served by the device, with the block
//! tracepoints the kernel emits for them.

use crate::block::request_events;
use crate::kernel::Kernel;
use crate::trace::event::{EventKind, Name};
use crate::units::Nanos;

impl Kernel {
    /// blk_mq_submit_bio -> blk_mq_end_request: serves the requests in `scratch_reqs` on device `dev` (through the
    /// driver): emits G and D now (Q too when `with_queue`, i.e. one bio per request) and C at completion; returns each
    /// request's sector range and completion time.
    pub(crate) fn issue_requests(&mut self, dev: usize, rwbs: &Name, with_queue: bool) -> Vec<(u64, u64, Nanos)> {
        let dev_name = self.devices[dev].name.clone();
        let reqs = std::mem::take(&mut self.scratch_reqs);
        let mut done_at = Vec::with_capacity(reqs.len());
        for r in &reqs {
            if rwbs.starts_with('W') {
                // The bio leaves blk-throttle (now without a limit), then becomes the request.
                let at = self.devices[dev].throttle_bio(self.now, r.nr_sectors * crate::block::SECTOR);
                if self.sink.enabled {
                    for (i, e) in
                        request_events(&dev_name, rwbs, r).into_iter().enumerate().skip(usize::from(!with_queue))
                    {
                        // Q (i == 0) when submitted, the rest when released.
                        self.emit_at(if i == 0 { self.now } else { at }, e);
                    }
                }
                let done = self.queue_request(dev, r, rwbs, None, Some(at));
                done_at.push((r.sector, r.sector + r.nr_sectors, done));
                continue;
            }
            self.vm.pgpgin += r.nr_sectors / 2;
            // DIVERGENCE: reads bypass blk-throttle (the model has no read limit, throttle.rs).
            let (issue, done) = self.devices[dev].serve_read(self.now, r.sector, r.nr_sectors);
            if self.sink.enabled {
                for e in request_events(&dev_name, rwbs, r).into_iter().skip(if with_queue { 0 } else { 1 }) {
                    let t = if matches!(e, EventKind::BlockRqIssue { .. }) { issue } else { self.now };
                    self.emit_at(t, e);
                }
                for c in crate::block::completion_events(&dev_name, rwbs, r) {
                    self.emit_at(done, c);
                }
            }
            done_at.push((r.sector, r.sector + r.nr_sectors, done));
        }
        self.scratch_reqs = reqs;
        done_at
    }
}
