//! The device's write service: batches, as this host's virtio-blk backend (Firecracker's block device, behind the
//! scratch loop device's direct I/O) serves them. The backend takes every request in its queue at once, writes them
//! one after another, and signals their completions together when the whole queue is done; requests that arrive
//! meanwhile wait for the next pass. On the host this shows as completions in bursts (traces/write: 20-25 write
//! requests of a flusher pass complete within 30 us of each other, 4-7 ms after the first of them was issued, while
//! the next pass's requests wait), which keeps NR_WRITEBACK high for whole batches and is why a fast writer
//! reaches the freerun ceiling although the device's bandwidth (3.8-4.4 GB/s) is close to the writer's.
//!
//! Model: an idle device picks up what is submitted within `pickup` of the first request (the loop worker and the
//! backend's wake-up) as one batch; a batch in service ends `bytes / bandwidth` after it starts; what is submitted
//! while a batch is in service forms the next one, which starts when it ends. Every request of a batch completes
//! at the batch's end. Under a blk-throttle write limit (`write_bps`) the throttle releases bios one by one at its
//! rate, so requests are served serially instead, each completing on its own. DIVERGENCE: no per-request overhead or backend CPU contention (the host's first batch after
//! an idle spell runs at ~1.9 GB/s, the next ones at 3.8-4 GB/s).

use crate::units::Nanos;

/// Identifies one batch of a device.
pub type BatchId = u64;

/// The write batches of one device.
#[derive(Clone, Debug, Default)]
pub struct WriteBatches {
    /// End of the last batch put into service: the device is idle from then on, unless batches wait.
    in_service_end: Nanos,
    /// Batches not in service yet, in order: id, start, bytes so far. In batch mode at most one (the one being
    /// collected); serially, one per request.
    waiting: std::collections::VecDeque<(BatchId, Nanos, u64)>,
    next_id: BatchId,
    /// Every request is a batch of its own, served one after another (a blk-throttle limit above the device
    /// releases bios one by one at its rate: each completes on its own).
    pub serial: bool,
}

impl WriteBatches {
    fn end_of(start: Nanos, bytes: u64, bw: u64) -> Nanos {
        Nanos(start.0 + (bytes as u128 * 1_000_000_000 / bw.max(1) as u128) as u64)
    }

    /// Puts the first waiting batch into service when its start is due by `now`; returns (id, start, end).
    pub fn close_due(&mut self, now: Nanos, bw: u64) -> Option<(BatchId, Nanos, Nanos)> {
        let &(id, start, bytes) = self.waiting.front()?;
        if start > now {
            return None;
        }
        self.waiting.pop_front();
        let end = Self::end_of(start, bytes, bw);
        self.in_service_end = end;
        Some((id, start, end))
    }

    /// Queues a request of `bytes` submitted at `now` (after every `close_due(now)`): returns its batch and that
    /// batch's end as known now (later requests of the same batch push it back).
    pub fn queue(&mut self, now: Nanos, bytes: u64, bw: u64, pickup: Nanos) -> (BatchId, Nanos) {
        if !self.serial {
            if let Some(open) = self.waiting.back_mut().filter(|o| o.1 > now) {
                open.2 += bytes;
                return (open.0, Self::end_of(open.1, open.2, bw));
            }
        }
        let tail = self.waiting.back().map_or(self.in_service_end, |&(_, start, b)| Self::end_of(start, b, bw));
        let start = if now >= tail { Nanos(now.0 + if self.serial { 0 } else { pickup.0 }) } else { tail };
        self.next_id += 1;
        self.waiting.push_back((self.next_id, start, bytes));
        (self.next_id, Self::end_of(start, bytes, bw))
    }

    /// The device spends `ns` at `now` on something else (a read): the batches not in service yet start that much
    /// later. DIVERGENCE: a batch already in service keeps its end.
    pub fn delay(&mut self, now: Nanos, ns: u64) {
        for w in self.waiting.iter_mut().filter(|w| w.1 > now) {
            w.1 = Nanos(w.1 .0 + ns);
        }
        if self.in_service_end > now && self.waiting.is_empty() {
            self.in_service_end = Nanos(self.in_service_end.0 + ns);
        }
    }

    /// The end of waiting batch `id` as known now.
    pub fn estimate(&self, id: BatchId, bw: u64) -> Option<Nanos> {
        self.waiting.iter().find(|o| o.0 == id).map(|&(_, start, bytes)| Self::end_of(start, bytes, bw))
    }

    /// When the first waiting batch goes into service, if one waits.
    pub fn next_close(&self) -> Option<Nanos> {
        self.waiting.front().map(|o| o.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BW: u64 = 1_000_000_000; // 1 byte per ns

    #[test]
    fn an_idle_device_collects_for_the_pickup_delay() {
        let mut b = WriteBatches::default();
        let (a, e1) = b.queue(Nanos(0), 1000, BW, Nanos(250));
        assert_eq!(e1, Nanos(1250));
        assert_eq!(b.close_due(Nanos(100), BW), None);
        let (a2, e2) = b.queue(Nanos(100), 1000, BW, Nanos(250));
        assert_eq!((a2, e2), (a, Nanos(2250)), "joins the batch, which now ends later");
        assert_eq!(b.close_due(Nanos(250), BW), Some((a, Nanos(250), Nanos(2250))));
        // Submitted while it is in service: the next batch starts when it ends, and collects until then.
        let (c, e3) = b.queue(Nanos(300), 500, BW, Nanos(250));
        assert!(c != a);
        assert_eq!(e3, Nanos(2750));
        let (_, e4) = b.queue(Nanos(2000), 500, BW, Nanos(250));
        assert_eq!(e4, Nanos(3250));
        assert_eq!(b.estimate(c, BW), Some(Nanos(3250)));
        assert_eq!(b.next_close(), Some(Nanos(2250)));
        assert_eq!(b.close_due(Nanos(2250), BW), Some((c, Nanos(2250), Nanos(3250))));
        // Idle again after 3250.
        let (_, e5) = b.queue(Nanos(5000), 100, BW, Nanos(250));
        assert_eq!(e5, Nanos(5350));
    }

    #[test]
    fn serially_each_request_completes_on_its_own() {
        let mut b = WriteBatches { serial: true, ..Default::default() };
        let (a, ea) = b.queue(Nanos(0), 1000, BW, Nanos(250));
        let (c, ec) = b.queue(Nanos(10), 1000, BW, Nanos(250));
        assert!(a != c);
        assert_eq!((ea, ec), (Nanos(1000), Nanos(2000)), "no pickup delay; the second starts when the first ends");
        assert_eq!(b.close_due(Nanos(1500), BW), Some((a, Nanos(0), Nanos(1000))));
        assert_eq!(b.close_due(Nanos(1500), BW), Some((c, Nanos(1000), Nanos(2000))));
        assert_eq!(b.close_due(Nanos(1500), BW), None);
    }
}
