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
//! at the batch's end. DIVERGENCE: no per-request overhead or backend CPU contention (the host's first batch after
//! an idle spell runs at ~1.9 GB/s, the next ones at 3.8-4 GB/s).

use crate::units::Nanos;

/// Identifies one batch of a device.
pub type BatchId = u64;

/// The write batches of one device.
#[derive(Clone, Debug, Default)]
pub struct WriteBatches {
    /// End of the batch in service: the device is idle from then on.
    in_service_end: Nanos,
    /// The batch being collected: id, start, bytes so far.
    open: Option<(BatchId, Nanos, u64)>,
    next_id: BatchId,
}

impl WriteBatches {
    fn end_of(start: Nanos, bytes: u64, bw: u64) -> Nanos {
        Nanos(start.0 + (bytes as u128 * 1_000_000_000 / bw.max(1) as u128) as u64)
    }

    /// Closes the collecting batch when its start is due by `now`: it goes into service; returns (id, start, end).
    pub fn close_due(&mut self, now: Nanos, bw: u64) -> Option<(BatchId, Nanos, Nanos)> {
        let (id, start, bytes) = self.open?;
        if start > now {
            return None;
        }
        self.open = None;
        let end = Self::end_of(start, bytes, bw);
        self.in_service_end = end;
        Some((id, start, end))
    }

    /// Queues a request of `bytes` submitted at `now` (after `close_due(now)`): returns its batch and that batch's
    /// end as known now (later requests of the same batch push it back).
    pub fn queue(&mut self, now: Nanos, bytes: u64, bw: u64, pickup: Nanos) -> (BatchId, Nanos) {
        let open = match self.open.as_mut() {
            Some(o) => o,
            None => {
                let start = if now >= self.in_service_end { Nanos(now.0 + pickup.0) } else { self.in_service_end };
                self.next_id += 1;
                self.open.insert((self.next_id, start, 0))
            }
        };
        open.2 += bytes;
        (open.0, Self::end_of(open.1, open.2, bw))
    }

    /// The collecting batch's end as known now, if `id` is that batch.
    pub fn estimate(&self, id: BatchId, bw: u64) -> Option<Nanos> {
        self.open.filter(|o| o.0 == id).map(|(_, start, bytes)| Self::end_of(start, bytes, bw))
    }

    /// When the next collecting batch starts (a close is due then), if one is being collected.
    pub fn next_close(&self) -> Option<Nanos> {
        self.open.map(|o| o.1)
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
}
