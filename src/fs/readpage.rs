//! fs/ext4/readpage.c, `ext4_mpage_readpages`: the bios that read new folios (for ->readahead and ->read_folio),
//! built from the file's extent map and merged into requests by the plug.

use crate::block::{build_requests, MAX_SEGMENT_SECTORS};
use crate::kernel::Kernel;
use crate::mm::folio::FolioId;
use crate::trace::event::EventKind;

impl Kernel {
    /// ext4_map_blocks as ext4_mpage_readpages uses it: the physical runs (sector, sectors) of file pages
    /// [index, end), leaving out holes and unwritten extents (read as zeros without I/O).
    fn runs_of(&self, file: u32, mut index: u64, end: u64, out: &mut Vec<(u64, u64)>) {
        let ino = &self.inodes[file as usize];
        while index < end {
            if !ino.extents.holes.is_empty() {
                let hole = ino.extents.hole_left(index);
                if hole > 0 {
                    index = index.saturating_add(hole).min(end);
                    continue;
                }
            }
            // DIVERGENCE: holes have page granularity: a page holding any written block is read whole (ext4 reads only
            // its mapped blocks and zeroes the rest when the filesystem block is smaller than a page).
            let (sector, left) = ino.extents.map(index);
            let n = left.min(end - index).min(ino.extents.data_left(index));
            out.push((sector, n * 8));
            index += n;
        }
    }
    /// ext4_mpage_readpages (->readahead, REQ_RAHEAD, or ->read_folio): submits reads of contiguous new folios,
    /// building bios, the plug merging them into requests; sets each folio's completion time.
    pub fn submit_folio_reads(&mut self, file: u32, batch: &[FolioId], readahead: bool) {
        let dev = self.inodes[file as usize].device;
        self.scratch_runs.clear();
        // Each folio's physical runs, computed once: runs[ends[i-1]..ends[i]] belong to batch[i].
        let mut runs = Vec::new();
        let mut ends = Vec::with_capacity(batch.len());
        for &id in batch {
            let f = *self.folios.get(id);
            // DIVERGENCE: one segment per 64 KiB of a folio, never shared with the next folio; the kernel merges
            // physically adjacent pages into one segment, which depends on page frame numbers (block/mod.rs).
            let seg = (f.nr_pages() * 8).min(MAX_SEGMENT_SECTORS);
            let from = runs.len();
            self.runs_of(file, f.index(), f.next_index(), &mut runs);
            ends.push(runs.len());
            for &(sector, sectors) in &runs[from..] {
                match self.scratch_runs.last_mut() {
                    Some(r) if r.0 + r.1 == sector && r.2 == seg => r.1 += sectors,
                    _ => self.scratch_runs.push((sector, sectors, seg)),
                }
            }
        }
        let max_sectors = self.devices[dev].max_sectors;
        self.scratch_reqs.clear();
        build_requests(&self.scratch_runs, max_sectors, &mut self.scratch_reqs);
        let rwbs = if readahead { self.rwbs_ra.clone() } else { self.rwbs_r.clone() };
        if self.sink.enabled {
            // Bios: physically contiguous folios, at most BIO_MAX_VECS (256) per bio. A bio that does not start a
            // request was back-merged into the previous one by the plug.
            let dev_name = self.devices[dev].name.clone();
            let mut bios: Vec<(u64, u64)> = Vec::new();
            let mut vecs = 0u64;
            {
                for &(sector, sectors) in &runs {
                    match bios.last_mut() {
                        Some(b) if b.0 + b.1 == sector && vecs < 256 => {
                            b.1 += sectors;
                            vecs += 1;
                        }
                        _ => {
                            bios.push((sector, sectors));
                            vecs = 1;
                        }
                    }
                }
            }
            for &(sector, nr_sector) in &bios {
                self.emit(EventKind::BlockBioQueue { device: dev_name.clone(), rwbs: rwbs.clone(), sector, nr_sector });
                if !self.scratch_reqs.iter().any(|r| r.sector == sector) {
                    let e = EventKind::BlockBioBackmerge {
                        device: dev_name.clone(),
                        rwbs: rwbs.clone(),
                        sector,
                        nr_sector,
                    };
                    self.emit(e);
                }
            }
        }
        let done_at = self.issue_requests(dev, &rwbs, false);
        // Uptodate when the last request holding any of its pages completes.
        let readies: Vec<crate::units::Nanos> = (0..batch.len())
            .map(|i| {
                let mine = &runs[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
                done_at
                    .iter()
                    .filter(|(s, e, _)| mine.iter().any(|&(rs, rn)| *s < rs + rn && rs < *e))
                    .map(|x| x.2)
                    .max()
                    .unwrap_or(self.now)
            })
            .collect();
        // The request completes on the CPU that submitted it (rq_affinity 1): its end_io ends each of its folios
        // there before the submitting task, asleep on one, runs again. A request's folios are consecutive.
        let mut i = 0;
        while i < batch.len() {
            let n = readies[i..].iter().take_while(|&&r| r == readies[i]).count();
            for &id in &batch[i..i + n] {
                self.folios.set_read_in_flight(id, readies[i], self.cur_task, n as u64 * COMPLETION_FOLIO_NS);
            }
            i += n;
        }
    }
}

/// CPU time of a read request's completion per folio it ends (folio_end_read, waking the folio's waiters), run on the
/// submitting CPU before the submitting task runs again. From traces/write/readers_and_writer: after a reader's
/// sync readahead of 32 order-0 folios, the other reader waiting on the same folio ran 25-43 us (quartiles) before
/// the submitter in 65-85% of the cases.
pub const COMPLETION_FOLIO_NS: u64 = 1_000;
