//! The device's write service: batches, as this host's virtio-blk backend (Firecracker's block device, behind the
//! scratch loop device's direct I/O) serves them. The backend works through its queue, writing requests one after
//! another, also those added while it works, and signals their completions together when the queue is empty. On the
//! host this shows as completions in bursts (traces/write: 20-25 write requests of a flusher pass complete within
//! 30 us of each other, 4-7 ms after the first of them was issued; in sync_file_range_stream two 8 MiB chunks issued
//! 1.8 ms apart complete within 80 us of each other, 4.1 ms after the first), which keeps NR_WRITEBACK high for whole
//! batches and is why a fast writer reaches the freerun ceiling although the device is almost as fast as the writer.
//!
//! Model: an idle device starts a batch `pickup` after the first request (the loop worker and the backend's
//! wake-up); a batch ends `bytes / bandwidth` after it starts, and a request submitted before its end joins it
//! (pushing the end back); every request of a batch completes at the batch's end. The next request after that
//! starts a new batch. Under a blk-throttle write limit (`write_bps`) the throttle releases bios one by one at its
//! rate, so requests are served serially instead, each completing on its own. A read's transfer delays the batches
//! not yet ended (reads and writes share the device). DIVERGENCE: no per-request overhead, no limit on a batch's
//! size, no backend CPU contention (the host's first batch after an idle spell runs at ~1.9 GB/s, the next ones
//! faster; one flusher pass's requests sometimes complete in two bursts).

use crate::units::Nanos;

/// Identifies one batch of a device.
pub type BatchId = u64;

/// A batch not ended yet: when it started, the bytes and requests it has taken so far.
#[derive(Clone, Copy, Debug)]
struct Batch {
    id: BatchId,
    start: Nanos,
    bytes: u64,
    requests: u64,
}

impl Batch {
    fn end(&self, bw: u64) -> Nanos {
        Nanos(self.start.0 + (self.bytes as u128 * 1_000_000_000 / bw.max(1) as u128) as u64)
    }
}

/// The write batches of one device.
#[derive(Clone, Debug, Default)]
pub struct WriteBatches {
    /// End of the last batch that ended: the device is idle from then on, unless batches wait.
    in_service_end: Nanos,
    /// Batches not ended yet, in order. In batch mode at most one (the one in service, still taking requests);
    /// serially, one per request.
    waiting: std::collections::VecDeque<Batch>,
    next_id: BatchId,
    /// Every request is a batch of its own, served one after another (a blk-throttle limit above the device
    /// releases bios one by one at its rate: each completes on its own).
    pub serial: bool,
}

impl WriteBatches {
    /// Ends the first batch when its end is due by `now`: its requests complete then; returns (id, start, end).
    pub fn close_due(&mut self, now: Nanos, bw: u64) -> Option<(BatchId, Nanos, Nanos)> {
        let first = *self.waiting.front()?;
        let end = first.end(bw);
        if end > now {
            return None;
        }
        self.waiting.pop_front();
        self.in_service_end = end;
        Some((first.id, first.start, end))
    }

    /// Queues a request of `bytes` submitted at `now` (after every `close_due(now)`): it joins the batch that has not
    /// ended yet, or starts one; returns its batch and that batch's end as known now (later requests push it back).
    pub fn queue(&mut self, now: Nanos, bytes: u64, bw: u64, pickup: Nanos) -> (BatchId, Nanos) {
        if !self.serial {
            if let Some(open) = self.waiting.back_mut().filter(|o| o.end(bw) > now) {
                open.bytes += bytes;
                open.requests += 1;
                return (open.id, open.end(bw));
            }
        }
        let tail = self.waiting.back().map_or(self.in_service_end, |b| b.end(bw));
        let start = if now >= tail { Nanos(now.0 + if self.serial { 0 } else { pickup.0 }) } else { tail };
        self.next_id += 1;
        let batch = Batch { id: self.next_id, start, bytes, requests: 1 };
        self.waiting.push_back(batch);
        (batch.id, batch.end(bw))
    }

    /// The device spends `ns` at `now` on something else (a read): the batches not ended yet end that much later.
    pub fn delay(&mut self, now: Nanos, ns: u64, bw: u64) {
        for b in self.waiting.iter_mut().filter(|b| b.end(bw) > now) {
            b.start = Nanos(b.start.0 + ns);
        }
        if self.in_service_end > now && self.waiting.is_empty() {
            self.in_service_end = Nanos(self.in_service_end.0 + ns);
        }
    }

    /// Requests in batches not ended yet.
    pub fn in_flight(&self) -> u64 {
        self.waiting.iter().map(|b| b.requests).sum()
    }

    /// The end of batch `id` as known now, while it has not ended.
    pub fn estimate(&self, id: BatchId, bw: u64) -> Option<Nanos> {
        self.waiting.iter().find(|b| b.id == id).map(|b| b.end(bw))
    }

    /// When the first batch not ended yet would end (as known now), if there is one.
    pub fn next_close(&self, bw: u64) -> Option<Nanos> {
        self.waiting.front().map(|b| b.end(bw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BW: u64 = 1_000_000_000; // 1 byte per ns

    #[test]
    fn a_batch_takes_requests_until_it_ends() {
        let mut b = WriteBatches::default();
        let (a, e1) = b.queue(Nanos(0), 1000, BW, Nanos(250));
        assert_eq!(e1, Nanos(1250), "an idle device starts after the pickup delay");
        assert_eq!(b.close_due(Nanos(1000), BW), None);
        let (a2, e2) = b.queue(Nanos(1000), 1000, BW, Nanos(250));
        assert_eq!((a2, e2), (a, Nanos(2250)), "joins the batch, which now ends later");
        assert_eq!(b.estimate(a, BW), Some(Nanos(2250)));
        assert_eq!(b.next_close(BW), Some(Nanos(2250)));
        assert_eq!(b.close_due(Nanos(2249), BW), None);
        assert_eq!(b.close_due(Nanos(2250), BW), Some((a, Nanos(250), Nanos(2250))));
        // The device is idle again: the next request starts a batch of its own.
        let (c, e3) = b.queue(Nanos(3000), 500, BW, Nanos(250));
        assert!(c != a);
        assert_eq!(e3, Nanos(3750));
        // A read's transfer pushes the batch's end back.
        b.delay(Nanos(3100), 100, BW);
        assert_eq!(b.estimate(c, BW), Some(Nanos(3850)));
    }

    #[test]
    fn serially_each_request_completes_on_its_own() {
        let mut b = WriteBatches { serial: true, ..Default::default() };
        let (a, ea) = b.queue(Nanos(0), 1000, BW, Nanos(250));
        let (c, ec) = b.queue(Nanos(10), 1000, BW, Nanos(250));
        assert!(a != c);
        assert_eq!((ea, ec), (Nanos(1000), Nanos(2000)), "no pickup delay; the second starts when the first ends");
        assert_eq!(b.close_due(Nanos(1500), BW), Some((a, Nanos(0), Nanos(1000))));
        assert_eq!(b.close_due(Nanos(1500), BW), None, "the second has not ended");
        assert_eq!(b.close_due(Nanos(2000), BW), Some((c, Nanos(1000), Nanos(2000))));
    }
}
