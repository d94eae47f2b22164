//! The block layer and device, first version (block/blk-merge.c, blk-mq): reads of folio batches become requests
//! mapped to sectors through the file's extent map, split where the physical layout breaks, at max_sectors_kb and
//! at max_segments; a device with `queue_depth` slots serves each read in latency + bytes / bandwidth, and writes
//! in batches (write_batch.rs).
//!
//! The plug back-merges a submission's contiguous bios (readahead batches, the journal's blocks:
//! block_bio_backmerge). Reads take one of `queue_depth` slots; writes are limited by blk-wbt (wbt.rs, scaled from
//! `nr_requests`).
//!
//! Simplifications, each marked DIVERGENCE at its line: a folio's pages are one segment per 64 KiB
//! (max_segment_size) and folios never share a segment; the kernel merges physically adjacent order-0 pages into one
//! segment, which depends on page frame numbers the model does not have (on the host this makes forced order-0
//! readahead split at 512 KiB in some runs and not in others). No front merges (none in any capture here), no
//! merging across submissions, no I/O scheduler (the host's queues use `none`). A buffered write's submitter sleeps in
//! blk-wbt and for a tag (`nr_requests`, fs/page_io.rs); an O_DIRECT write's and a read's submission never waits for
//! a tag: the request is queued and served when a slot frees. Holes have page granularity.

pub mod blk_mq;
pub mod seek;
pub mod throttle;
pub mod wbt;
pub mod write_batch;

pub use write_batch::{BatchId, WriteBatches};

use crate::trace::event::{EventKind, Name};
use crate::units::Nanos;

/// Sectors are 512 bytes.
pub const SECTOR: u64 = 512;
/// Loop devices' max_segments and max_segment_size on the host.
pub const MAX_SEGMENTS: u64 = 128;
pub const MAX_SEGMENT_SECTORS: u64 = 65536 / SECTOR;

/// One extent: `pages` pages of the file from page `logical` live at `sector` on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub logical: u64,
    pub sector: u64,
    pub pages: u64,
}

/// A file's extent map, sorted by logical page, and the pages that read as zeros without I/O.
#[derive(Clone, Debug, Default)]
pub struct ExtentMap {
    pub extents: Vec<Extent>,
    /// Sorted, disjoint page ranges [start, end) with no written data: holes left by a shrinking truncate, a
    /// growing one or a punched hole, and unwritten extents (fallocate, ZERO_RANGE). ext4 reads them by zeroing the
    /// folio, without a bio. Page granularity: a page holding any written block is read in full (DIVERGENCE for
    /// 1 KiB-block filesystems, where the kernel reads only the page's written blocks).
    pub holes: Vec<(u64, u64)>,
}

impl ExtentMap {
    /// One contiguous extent.
    pub fn contiguous(sector: u64, pages: u64) -> Self {
        ExtentMap { extents: vec![Extent { logical: 0, sector, pages }], holes: Vec::new() }
    }

    /// Marks pages [from, to) as reading zeros without I/O (a hole or an unwritten extent).
    pub fn punch(&mut self, from: u64, to: u64) {
        if from >= to {
            return;
        }
        let (mut a, mut b) = (from, to);
        // Merge with every range that overlaps or touches [a, b).
        self.holes.retain(|&(s, e)| {
            if e < a || s > b {
                return true;
            }
            a = a.min(s);
            b = b.max(e);
            false
        });
        let pos = self.holes.partition_point(|&(s, _)| s < a);
        self.holes.insert(pos, (a, b));
    }

    /// Marks pages [from, to) as written (for the write side: a write allocates blocks and fills holes).
    pub fn fill(&mut self, from: u64, to: u64) {
        let mut out = Vec::with_capacity(self.holes.len() + 1);
        for &(s, e) in &self.holes {
            if e <= from || s >= to {
                out.push((s, e));
                continue;
            }
            if s < from {
                out.push((s, from));
            }
            if e > to {
                out.push((to, e));
            }
        }
        self.holes = out;
    }

    /// The pages from `index` to the end of the hole holding it (0 when `index` has data).
    pub fn hole_left(&self, index: u64) -> u64 {
        let pos = self.holes.partition_point(|&(s, _)| s <= index);
        match pos.checked_sub(1).map(|p| self.holes[p]) {
            Some((_, e)) if index < e => e - index,
            _ => 0,
        }
    }

    /// The pages from `index` (which has data) to the next hole.
    pub fn data_left(&self, index: u64) -> u64 {
        let pos = self.holes.partition_point(|&(s, _)| s <= index);
        self.holes.get(pos).map_or(u64::MAX, |&(s, _)| s - index)
    }

    /// The physical run holding page `index`: (sector, pages left in the run). Pages past the map continue the last
    /// extent (a file grown beyond its recorded map).
    pub fn map(&self, index: u64) -> (u64, u64) {
        let pos = self.extents.partition_point(|e| e.logical <= index);
        if pos == 0 {
            return (index * 8, u64::MAX);
        }
        let e = self.extents[pos - 1];
        let off = index - e.logical;
        let left = if off < e.pages {
            match self.extents.get(pos) {
                Some(_) => e.pages - off,
                None => u64::MAX,
            }
        } else {
            match self.extents.get(pos) {
                Some(n) => n.logical - index,
                None => u64::MAX,
            }
        };
        (e.sector + off * 8, left)
    }
}

/// A request as submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub sector: u64,
    pub nr_sectors: u64,
    pub segments: u64,
}

/// The device model.
#[derive(Clone, Debug)]
pub struct BlockDevice {
    pub name: Name,
    pub max_sectors: u64,
    pub read_bw: u64,
    pub read_latency: Nanos,
    /// When each of the queue_depth slots is free.
    slots: Vec<Nanos>,
    /// Total busy time (union of service intervals).
    pub busy_ns: u64,
    busy_until: Nanos,
    pub sectors_read: u64,
    pub sectors_written: u64,
    pub requests: u64,
    /// Write service: bandwidth (bytes/s, already limited by a blk-throttle `write_bps`) and the pickup delay of
    /// an idle device (write_batch.rs).
    pub write_bw: u64,
    pub write_latency: Nanos,
    write_batches: WriteBatches,
    /// A blk-throttle write limit (throttle.rs), if the scenario sets one.
    pub throttle: Option<throttle::Throttle>,
    /// Writeback throttling (wbt.rs) and the queue depth it scales from (nr_requests).
    pub wbt: wbt::Wbt,
    pub nr_requests: u64,
    /// A rotating disk's positioning times (seek.rs), the head's sector after the last request, the capacity.
    pub seek: Option<seek::Seek>,
    head: u64,
    pub capacity_sectors: u64,
}

impl BlockDevice {
    pub fn new(name: Name, max_sectors_kb: u64, read_bw: u64, read_latency: Nanos, queue_depth: u32) -> Self {
        BlockDevice {
            name,
            max_sectors: max_sectors_kb * 2,
            read_bw: read_bw.max(1),
            read_latency,
            slots: vec![Nanos(0); queue_depth.max(1) as usize],
            busy_ns: 0,
            busy_until: Nanos(0),
            sectors_read: 0,
            sectors_written: 0,
            requests: 0,
            write_bw: read_bw.max(1),
            write_latency: read_latency,
            write_batches: WriteBatches::default(),
            throttle: None,
            wbt: wbt::Wbt::default(),
            nr_requests: 128,
            seek: None,
            head: 0,
            capacity_sectors: 1,
        }
    }

    /// Ends the write batch when its end is due by `now` (its requests complete): returns (batch, start, end).
    pub fn close_write_batch(&mut self, now: Nanos) -> Option<(BatchId, Nanos, Nanos)> {
        let (id, start, end) = self.write_batches.close_due(now, self.write_bw)?;
        self.busy_ns += end.0 - start.0;
        Some((id, start, end))
    }

    /// The positioning time of a request at `sector` (0 without a seek model), moving the head past it.
    fn position(&mut self, sector: u64, nr_sectors: u64) -> u64 {
        let Some(s) = self.seek else { return 0 };
        if nr_sectors == 0 {
            return 0;
        }
        let t = s.positioning_ns(self.head, sector, self.capacity_sectors);
        self.head = sector + nr_sectors;
        t
    }

    /// When a write bio of `bytes` submitted at `now` leaves blk-throttle for the block layer (`now` without a
    /// limit).
    pub fn throttle_bio(&mut self, now: Nanos, bytes: u64) -> Nanos {
        self.throttle.as_mut().map_or(now, |t| t.dispatch(now, bytes))
    }

    /// Queues one write request reaching the device at `now` (after `close_write_batch(now)`): returns its batch and
    /// the batch's end as known now (see write_batch.rs).
    pub fn queue_write(&mut self, now: Nanos, sector: u64, nr_sectors: u64) -> (BatchId, Nanos) {
        self.sectors_written += nr_sectors;
        self.requests += 1;
        // A positioning time counts as the bytes the device could have written meanwhile.
        let extra = (self.position(sector, nr_sectors) as u128 * self.write_bw as u128 / 1_000_000_000) as u64;
        self.write_batches.queue(now, nr_sectors * SECTOR + extra, self.write_bw, self.write_latency)
    }

    /// Seeds the write batches' rates: each batch runs at `write_bw` times a factor drawn uniformly from 1 +-
    /// `spread_permille` thousandths, from the device's own random stream.
    pub fn set_write_jitter(&mut self, spread_permille: u32, rng: rand_chacha::ChaCha8Rng) {
        self.write_batches.set_jitter(spread_permille, rng);
    }

    /// The end of write batch `id` as known now, while it has not ended.
    pub fn write_batch_estimate(&self, id: BatchId) -> Option<Nanos> {
        self.write_batches.estimate(id, self.write_bw)
    }

    /// Write requests in flight (in batches not ended yet).
    pub fn writes_in_flight(&self) -> u64 {
        self.write_batches.in_flight()
    }

    /// Requests holding a tag at `now`: the writes in flight and the reads not completed.
    pub fn requests_in_flight(&self, now: Nanos) -> u64 {
        self.writes_in_flight() + self.slots.iter().filter(|&&t| t > now).count() as u64
    }

    /// When the write batch not ended yet would end, if there is one.
    pub fn next_write_batch_close(&self) -> Option<Nanos> {
        self.write_batches.next_close(self.write_bw)
    }

    /// Serves one read request submitted at `now`; returns (issue time, completion time).
    pub fn serve_read(&mut self, now: Nanos, sector: u64, nr_sectors: u64) -> (Nanos, Nanos) {
        let (slot, free) = self.slots.iter().enumerate().min_by_key(|(i, t)| (**t, *i)).map(|(i, t)| (i, *t)).unwrap();
        let start = now.max(free);
        let bytes = nr_sectors * SECTOR;
        let transfer = (bytes as u128 * 1_000_000_000 / self.read_bw as u128) as u64;
        let served = Nanos(start.0 + self.read_latency.0 + transfer + self.position(sector, nr_sectors));
        // Reads and writes share the device: the read's transfer delays the writes waiting for it.
        self.write_batches.delay(start, transfer, self.write_bw);
        // A read that arrives while a write batch is in service is served inside it and completes with it.
        let done = match self.write_batches.open_end(start, self.write_bw) {
            Some(end) if end > served => end,
            _ => served,
        };
        self.slots[slot] = done;
        self.wbt.last_read_done = Some(self.wbt.last_read_done.map_or(done, |t| t.max(done)));
        // Busy time: union of the reads' own service intervals, in submission order (good enough with FIFO slots);
        // a batch's span counts when it closes.
        let from = start.max(self.busy_until);
        if served > from {
            self.busy_ns += served.0 - from.0;
        }
        self.busy_until = self.busy_until.max(served);
        self.sectors_read += nr_sectors;
        self.requests += 1;
        (start, done)
    }
}

/// bio_split_rw + blk_attempt_plug_merge: splits physical runs (sector, sectors, sectors per segment) into requests: a new request where the layout is not
/// contiguous, at `max_sectors`, and at `MAX_SEGMENTS` segments.
pub fn build_requests(runs: &[(u64, u64, u64)], max_sectors: u64, out: &mut Vec<Request>) {
    // DIVERGENCE: segments are counted per run at its `seg_sectors` (64 KiB of a folio, never shared between folios):
    // the kernel's bio_split_rw_at merges physically contiguous pages into one segment. Merging is within one
    // submission only (back merges of contiguous bios): no front merges, no merge with a request already queued, no
    // I/O scheduler.
    let mut cur: Option<Request> = None;
    for &(mut sector, mut sectors, seg_sectors) in runs {
        while sectors > 0 {
            if let Some(c) = cur {
                if c.sector + c.nr_sectors != sector || c.nr_sectors >= max_sectors || c.segments >= MAX_SEGMENTS {
                    out.push(c);
                    cur = None;
                }
            }
            let c = cur.get_or_insert(Request { sector, nr_sectors: 0, segments: 0 });
            let room_sectors = max_sectors - c.nr_sectors;
            let room_segs = MAX_SEGMENTS - c.segments;
            let take = sectors.min(room_sectors).min(room_segs * seg_sectors);
            c.nr_sectors += take;
            c.segments += take.div_ceil(seg_sectors);
            sector += take;
            sectors -= take;
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
}

/// Model: the events of one request, in the kernel's order: Q, G, block_io_start (blk_account_io_start), D now;
/// `completion_events` at completion.
pub fn request_events(dev: &Name, rwbs: &Name, r: &Request) -> [EventKind; 4] {
    [
        EventKind::BlockBioQueue { device: dev.clone(), rwbs: rwbs.clone(), sector: r.sector, nr_sector: r.nr_sectors },
        EventKind::BlockGetrq { device: dev.clone(), rwbs: rwbs.clone(), sector: r.sector, nr_sector: r.nr_sectors },
        EventKind::BlockIoStart {
            device: dev.clone(),
            rwbs: rwbs.clone(),
            bytes: r.nr_sectors * SECTOR,
            sector: r.sector,
            nr_sector: r.nr_sectors,
        },
        EventKind::BlockRqIssue {
            device: dev.clone(),
            rwbs: rwbs.clone(),
            bytes: r.nr_sectors * SECTOR,
            sector: r.sector,
            nr_sector: r.nr_sectors,
        },
    ]
}

/// Model: the completion events of a request: C (block_rq_complete), then block_io_done (blk_account_io_done, which
/// sees the request after its bytes were completed: 0 bytes and sectors left).
pub fn completion_events(dev: &Name, rwbs: &Name, r: &Request) -> [EventKind; 2] {
    [
        EventKind::BlockRqComplete {
            device: dev.clone(),
            rwbs: rwbs.clone(),
            sector: r.sector,
            nr_sector: r.nr_sectors,
            error: 0,
        },
        EventKind::BlockIoDone { device: dev.clone(), rwbs: rwbs.clone(), bytes: 0, sector: r.sector, nr_sector: 0 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_merge_split_and_measure() {
        let mut m = ExtentMap::contiguous(0, 100);
        m.punch(10, 20);
        m.punch(30, 40);
        m.punch(20, 25);
        assert_eq!(m.holes, vec![(10, 25), (30, 40)]);
        assert_eq!((m.hole_left(9), m.hole_left(10), m.hole_left(24), m.hole_left(25)), (0, 15, 1, 0));
        assert_eq!((m.data_left(0), m.data_left(25), m.data_left(40)), (10, 5, u64::MAX));
        m.fill(12, 35);
        assert_eq!(m.holes, vec![(10, 12), (35, 40)]);
        m.punch(0, u64::MAX);
        assert_eq!(m.holes, vec![(0, u64::MAX)]);
    }

    #[test]
    fn requests_split_at_max_sectors_segments_and_gaps() {
        let mut out = Vec::new();
        // 1280 KiB max: a 2 MiB folio (64 KiB segments) is 1280 + 768 KiB.
        build_requests(&[(1000, 4096, 128)], 2560, &mut out);
        assert_eq!(out.iter().map(|r| r.nr_sectors).collect::<Vec<_>>(), vec![2560, 1536]);
        // 320 order-0 pages: 128 segments per request.
        out.clear();
        let pages: Vec<_> = (0..320).map(|i| (8 * i, 8, 8)).collect();
        build_requests(&pages, 2560, &mut out);
        assert_eq!(out.iter().map(|r| r.nr_sectors / 8).collect::<Vec<_>>(), vec![128, 128, 64]);
        // A gap in the layout.
        out.clear();
        build_requests(&[(0, 8, 8), (16, 8, 8)], 2560, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn extents_map_pages_to_sectors() {
        let m = ExtentMap {
            extents: vec![Extent { logical: 0, sector: 100, pages: 4 }, Extent { logical: 4, sector: 900, pages: 4 }],
            holes: Vec::new(),
        };
        assert_eq!(m.map(0), (100, 4));
        assert_eq!(m.map(3), (124, 1));
        assert_eq!(m.map(5), (908, u64::MAX));
    }

    #[test]
    fn device_queues_beyond_its_depth() {
        let mut d = BlockDevice::new("d".into(), 1280, 1_000_000_000, Nanos(100_000), 1);
        let (_, a) = d.serve_read(Nanos(0), 0, 8);
        let (s, _) = d.serve_read(Nanos(0), 8, 8);
        assert_eq!(s, a, "the second request waits for the only slot");
        assert_eq!(a.0, 100_000 + 4096);
    }
}
