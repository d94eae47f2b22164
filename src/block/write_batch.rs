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
//! starts a new batch. A read's transfer delays the batches not yet ended (reads and writes share the device), and a
//! read that arrives while a batch is in service completes with it (writer_and_reader: reads issued during a write
//! batch complete 4-5 ms later, within 0.2 ms of the batch's writes; served on their own they take 0.12 ms). Under a
//! blk-throttle limit the requests reach the device when the throttle releases their bio (throttle.rs).
//!
//! The backend's pace varies from batch to batch (the host's batch rates spread with a coefficient of variation of
//! 0.10): each batch's rate is the device's write bandwidth times a factor drawn uniformly from 1 +- the device's
//! `write_bw_spread`, from the device's own ChaCha stream of the scenario's seed. Without it the model's writer
//! locks into one phase against the jiffy ticks (the same time from every wake-up to its next throttled pass), and
//! pause lengths that depend on crossing a tick come out all alike.
//!
//! Simplifications, each marked DIVERGENCE at its line: no per-request overhead, no limit on a batch's size, no
//! backend CPU contention (the host's first batch after an idle spell runs at ~1.9 GB/s, the next ones faster; one
//! flusher pass's requests sometimes complete in two bursts). Requests are served in submission order.

use crate::units::Nanos;
use rand_chacha::ChaCha8Rng;

/// Identifies one batch of a device.
pub type BatchId = u64;

/// A batch not ended yet: when it started, the bytes and requests it has taken so far.
#[derive(Clone, Copy, Debug)]
struct Batch {
    id: BatchId,
    /// When its first request reached the device.
    submitted: Nanos,
    start: Nanos,
    bytes: u64,
    requests: u64,
    /// Its time per byte relative to the device's write bandwidth, in millionths.
    scale_ppm: u64,
}

impl Batch {
    fn end(&self, bw: u64) -> Nanos {
        let ns = self.bytes as u128 * 1_000_000_000 * self.scale_ppm as u128 / (bw.max(1) as u128 * 1_000_000);
        Nanos(self.start.0 + ns as u64)
    }
}

/// The write batches of one device.
#[derive(Clone, Debug, Default)]
pub struct WriteBatches {
    /// End of the last batch that ended: the device is idle from then on, unless batches wait.
    in_service_end: Nanos,
    /// Batches not ended yet, in order: the one in service, still taking requests, and after it one that requests
    /// released by blk-throttle for a later time start.
    waiting: std::collections::VecDeque<Batch>,
    next_id: BatchId,
    /// The rate spread (thousandths) and its random stream; None: every batch at the device's bandwidth.
    jitter: Option<(u32, ChaCha8Rng)>,
}

impl WriteBatches {
    /// Draws each new batch's rate within +- `spread_permille` thousandths of the bandwidth from `rng`.
    pub fn set_jitter(&mut self, spread_permille: u32, rng: ChaCha8Rng) {
        self.jitter = (spread_permille > 0).then_some((spread_permille, rng));
    }

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
        // DIVERGENCE: a request costs its bytes only (no per-request overhead), a batch takes any number of them, the
        // backend's pace varies only by the drawn rate (no CPU contention), and batches are served in order.
        if let Some(open) = self.waiting.back_mut().filter(|o| o.end(bw) > now) {
            open.bytes += bytes;
            open.requests += 1;
            return (open.id, open.end(bw));
        }
        let tail = self.waiting.back().map_or(self.in_service_end, |b| b.end(bw));
        let start = if now >= tail { Nanos(now.0 + pickup.0) } else { tail };
        self.next_id += 1;
        let scale_ppm = match self.jitter.as_mut() {
            Some((spread, rng)) if *spread > 0 => {
                // rate = bw * (1 + spread * u), u uniform in [-1, 1): time per byte scales by its inverse.
                let f = 1.0 + f64::from(*spread) / 1000.0 * (crate::rng::unit_f64(rng) * 2.0 - 1.0);
                (1_000_000.0 / f).round() as u64
            }
            _ => 1_000_000,
        };
        let batch = Batch { id: self.next_id, submitted: now, start, bytes, requests: 1, scale_ppm };
        self.waiting.push_back(batch);
        (batch.id, batch.end(bw))
    }

    /// The device spends `ns` from `now` on something else (a read): a batch already submitted (in service or
    /// waiting for its pickup: the read joins it) ends that much later, one queued behind it moves with it, one
    /// whose requests reach the device later (released by blk-throttle) starts after the read at the earliest.
    pub fn delay(&mut self, now: Nanos, ns: u64, bw: u64) {
        let busy_until = now.0 + ns;
        let (mut prev_end, mut prev_push) = (None, 0);
        for b in self.waiting.iter_mut().filter(|b| b.end(bw) > now) {
            let old_end = b.end(bw);
            let push = if b.submitted <= now {
                ns
            } else if Some(b.start) == prev_end {
                prev_push
            } else {
                busy_until.saturating_sub(b.start.0)
            };
            b.start = Nanos(b.start.0 + push);
            (prev_end, prev_push) = (Some(old_end), push);
        }
        if self.in_service_end > now && self.waiting.is_empty() {
            self.in_service_end = Nanos(self.in_service_end.0 + ns);
        }
    }

    /// The end (as known now) of the last batch not ended by `now`, if there is one: a read submitted meanwhile is
    /// served inside it and signalled with it.
    pub fn open_end(&self, now: Nanos, bw: u64) -> Option<Nanos> {
        self.waiting.iter().rev().find(|b| b.submitted <= now).map(|b| b.end(bw)).filter(|&e| e > now)
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
        // A batch whose request reaches the device later (a throttled bio released at 5000) starts after a read
        // that ends before then without delay, and after the end of one that overlaps its start.
        let (d, e4) = b.queue(Nanos(5000), 500, BW, Nanos(250));
        assert_eq!(e4, Nanos(5750));
        b.delay(Nanos(4000), 100, BW);
        assert_eq!(b.estimate(d, BW), Some(Nanos(5750)));
        b.delay(Nanos(4950), 400, BW);
        assert_eq!(b.estimate(d, BW), Some(Nanos(5850)), "pushed by the 100 ns the read runs past 5250");
    }
}
