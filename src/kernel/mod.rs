//! The simulated kernel's shared state: folios, inodes with their page cache, block devices, the event sink and
//! vm counters. Every model function takes `&mut Kernel`; `now` and `task` are the running task's clock and name.

use std::sync::Arc;

use crate::block::{build_requests, request_events, BlockDevice, ExtentMap, MAX_SEGMENT_SECTORS};
use crate::mm::address_space::AddressSpace;
use crate::mm::folio::{Folio, FolioId, FolioSlab};
use crate::mm::folio::{PG_ACTIVE, PG_WORKINGSET};
use crate::mm::kswapd::Kswapd;
use crate::mm::memcontrol::Memcg;
use crate::mm::page_alloc::{Gfp, Zone};
use crate::mm::swap::{folio_add_lru, folio_lru_list, folio_mark_accessed, Lruvec};
use crate::mm::vmscan::LruvecStats;
use crate::mm::workingset::{Shadow, Workingset};
use crate::trace::event::{Event, EventKind, Name};
use crate::units::Nanos;

/// struct inode, for a regular file of the scenario.
#[derive(Clone, Debug)]
pub struct Inode {
    pub name: Name,
    pub device: usize,
    /// i_size in bytes.
    pub size: u64,
    pub mapping: AddressSpace,
    pub extents: ExtentMap,
    /// Bytes from 0 that are allocated on disk (the initial size in whole blocks; grows with writeback).
    pub allocated: u64,
    /// inode->dirtied_when while the inode is dirty (on its bdi's b_dirty list).
    pub dirtied_when: Option<Nanos>,
    /// Dirty pages of the file (the DIRTY tag of its mapping).
    pub nr_dirty: u64,
    /// Pages of the file under writeback (the WRITEBACK tag of its mapping).
    pub nr_writeback: u64,
    /// mapping->writeback_index: where cyclic writeback resumes.
    pub writeback_index: u64,
    /// i_state's I_DIRTY_SYNC and I_DIRTY_PAGES.
    pub dirty_sync: bool,
    pub dirty_pages: bool,
    /// The jiffy mtime was last set in during the run (None: before the run).
    pub mtime_tick: Option<u64>,
    /// atime is not after mtime: the next read updates it (relatime).
    pub atime_stale: bool,
    /// The inode changed in the journal's running transaction (ext4_mark_inode_dirty): an fsync must commit it.
    pub journal_pending: bool,
}

impl Inode {
    /// A clean file of `size` bytes laid out by `extents`, all of it allocated.
    pub fn new(name: &str, device: usize, size: u64, extents: ExtentMap) -> Inode {
        Inode {
            name: Arc::from(name),
            device,
            size,
            mapping: AddressSpace::default(),
            extents,
            allocated: size,
            dirtied_when: None,
            nr_dirty: 0,
            nr_writeback: 0,
            writeback_index: 0,
            dirty_sync: false,
            dirty_pages: false,
            mtime_tick: None,
            atime_stale: false,
            journal_pending: false,
        }
    }
}

/// vm counters the read side maintains (names as in /proc/vmstat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmStat {
    /// KiB read from devices.
    pub pgpgin: u64,
    pub pgmajfault: u64,
    pub pgfault: u64,
    /// Pages added to the page cache.
    pub nr_added: u64,
    pub nr_deleted: u64,
    /// Read-path events where the task had to start I/O or wait for it (not a /proc/vmstat counter).
    pub sync_misses: u64,
    /// Folios activated by a second access (PGACTIVATE counts pages).
    pub pgactivate: u64,
    /// NR_FILE_DIRTY (a gauge) and NR_DIRTIED (pages dirtied so far).
    pub nr_dirty: u64,
    pub nr_dirtied: u64,
    /// NR_WRITEBACK (a gauge) and NR_WRITTEN, copied from the writeback state at the end of a run.
    pub nr_writeback: u64,
    pub nr_written: u64,
    /// Reclaim, by every reclaimer: pages deactivated, file pages scanned and reclaimed.
    pub pgdeactivate: u64,
    pub pgscan_file: u64,
    pub pgsteal_file: u64,
    /// Reclaim of the machine's memory by kswapd and by allocating tasks (memory cgroup reclaim counts in neither).
    pub pgscan_kswapd: u64,
    pub pgsteal_kswapd: u64,
    pub pgscan_direct: u64,
    pub pgsteal_direct: u64,
    /// Direct reclaim entries of movable (page cache) allocations.
    pub allocstall_movable: u64,
    /// balance_pgdat runs, and kswapd's sleeps cut short below the low (woken) or high (not balanced) watermark.
    pub pageoutrun: u64,
    pub kswapd_low_wmark_hit_quickly: u64,
    pub kswapd_high_wmark_hit_quickly: u64,
}

/// Where events go. Off means no event is built at all.
#[derive(Clone, Debug, Default)]
pub struct EventSink {
    pub enabled: bool,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug)]
pub struct Kernel {
    pub now: Nanos,
    pub task: Name,
    pub folios: FolioSlab,
    pub inodes: Vec<Inode>,
    pub devices: Vec<BlockDevice>,
    /// Per device: bdi->io_pages (max_sectors_kb / 4).
    pub io_pages: Vec<u64>,
    pub sink: EventSink,
    pub vm: VmStat,
    /// The file LRU of the (single) memory domain.
    pub lru: Lruvec,
    /// The workload's memory cgroup, when the scenario limits it.
    pub memcg: Option<Memcg>,
    /// Shadow-entry clock and refault counters.
    pub ws: Workingset,
    /// The statistics reclaim reads of the lruvec (as of the last flush).
    pub lru_stats: LruvecStats,
    /// The machine's one zone: sizes, watermarks.
    pub zone: Zone,
    /// The node's kswapd thread.
    pub kswapd: Kswapd,
    /// Folios a reader holds a reference to while it may allocate (reclaim keeps them).
    pub pinned: Vec<FolioId>,
    /// Page tables of every file mapping (the rmap's view: reclaim checks and clears them).
    pub ptes: Vec<crate::mm::fault::Ptes>,
    rwbs_ra: Name,
    rwbs_r: Name,
    pub(crate) rwbs_w: Name,
    pub(crate) rwbs_ws: Name,
    scratch_runs: Vec<(u64, u64, u64)>,
    scratch_reqs: Vec<crate::block::Request>,
    /// The read path's folio batch, reused across calls.
    pub read_batch: Vec<FolioId>,
    /// Pages cached before the run (the scenario's initial state).
    pub initial_pages: u64,
    /// The most pages cached at once.
    pub peak_cached_pages: u64,
    /// Per device: the filesystem's block size.
    pub fs_block: Vec<u64>,
    /// Each device's ext4 journal (fs/jbd2.rs).
    pub journals: Vec<crate::fs::jbd2::Journal>,
    /// Dirty throttling and writeback: the wb_domain, per-task state, one flusher per device, I/O in flight.
    pub wb: crate::fs::fs_writeback::Writeback,
    /// Index of the running task (for per-task state such as current->nr_dirtied).
    pub cur_task: usize,
    /// Set by model code that met something the model cannot run yet; the op fails with SimError::Unsupported.
    pub unsupported: Option<&'static str>,
    /// The result of every cachestat op, in the order they ran.
    pub cachestat_log: Vec<crate::trace::cachestat::Record>,
}

impl Kernel {
    pub fn new(inodes: Vec<Inode>, devices: Vec<BlockDevice>, io_pages: Vec<u64>, events: bool) -> Self {
        Kernel {
            now: Nanos(0),
            task: Arc::from("init"),
            folios: FolioSlab::default(),
            inodes,
            devices,
            io_pages,
            sink: EventSink { enabled: events, events: Vec::new() },
            vm: VmStat::default(),
            lru: Lruvec::default(),
            memcg: None,
            ws: Workingset::default(),
            lru_stats: LruvecStats::default(),
            zone: Zone::default(),
            kswapd: Kswapd::default(),
            pinned: Vec::new(),
            ptes: Vec::new(),
            rwbs_ra: Arc::from("RA"),
            rwbs_r: Arc::from("R"),
            rwbs_w: Arc::from("W"),
            rwbs_ws: Arc::from("WS"),
            scratch_runs: Vec::new(),
            scratch_reqs: Vec::new(),
            read_batch: Vec::with_capacity(crate::mm::filemap::FOLIO_BATCH),
            initial_pages: 0,
            peak_cached_pages: 0,
            fs_block: Vec::new(),
            journals: Vec::new(),
            wb: Default::default(),
            cur_task: 0,
            unsupported: None,
            cachestat_log: Vec::new(),
        }
    }

    #[inline]
    pub fn events_on(&self) -> bool {
        self.sink.enabled
    }

    /// Records an event at the running task's clock.
    pub fn emit(&mut self, kind: EventKind) {
        self.emit_at(self.now, kind);
    }

    pub fn emit_at(&mut self, time: Nanos, kind: EventKind) {
        if self.sink.enabled {
            self.sink.events.push(Event { time, task: self.task.clone(), kind });
        }
    }

    pub fn file_name(&self, file: u32) -> Name {
        self.inodes[file as usize].name.clone()
    }

    /// The block size of the filesystem holding `file` (4096 unless set per device).
    pub fn fs_block_size(&self, file: u32) -> u64 {
        self.fs_block.get(self.inodes[file as usize].device).copied().unwrap_or(4096)
    }

    /// Reads the filesystem blocks at byte offsets `blocks` of `file` (`bs` bytes each), one bio and request per
    /// block as submit_bh issues them (bh_read_nowait, no plug); returns when the last completes.
    pub fn read_blocks(&mut self, file: u32, blocks: &[u64], bs: u64) -> Nanos {
        let dev = self.inodes[file as usize].device;
        let mut done = self.now;
        for &b in blocks {
            let (sector, _) = self.inodes[file as usize].extents.map(b >> 12);
            self.scratch_reqs.clear();
            self.scratch_reqs.push(crate::block::Request {
                sector: sector + (b & 4095) / 512,
                nr_sectors: bs / 512,
                segments: 1,
            });
            let rwbs = self.rwbs_r.clone();
            for d in self.issue_requests(dev, &rwbs, true) {
                done = done.max(d.2);
            }
        }
        done
    }

    /// bdi->io_pages of the file's device.
    pub fn io_pages(&self, file: u32) -> u64 {
        self.io_pages[self.inodes[file as usize].device]
    }

    /// filemap_alloc_folio + filemap_add_folio with the mapping's gfp, which retries until it succeeds.
    pub fn add_to_page_cache(&mut self, f: Folio) -> FolioId {
        self.filemap_add_folio(f, Gfp::Mapping).expect("invariant: a retrying allocation succeeds")
    }

    /// filemap_alloc_folio + filemap_add_folio: allocates the folio's pages (`None` when a __GFP_NORETRY allocation
    /// fails), then inserts it (the caller checked the range is free) and puts it on the LRU.
    pub fn filemap_add_folio(&mut self, f: Folio, gfp: Gfp) -> Option<FolioId> {
        if !self.alloc_folio(f.order as u32, gfp) {
            return None;
        }
        let nr = f.nr_pages();
        self.flush_stats();
        // mem_cgroup_charge first: reclaim may run before the new folio is in the cache.
        self.charge(nr);
        let id = self.folios.alloc(f);
        // New folios are locked until their read completes (the caller submits it).
        self.folios.set_ready_at(id, Nanos(u64::MAX));
        let mapping = &mut self.inodes[f.file() as usize].mapping;
        if let Some(shadow) = mapping.insert(&self.folios, id, f.file(), &mut self.ws.shadow_nodes) {
            // workingset_refault: activate when the refault distance fits the (flushed) active list.
            let (activate, restore) = self.ws.refault(shadow, nr);
            let fl = &mut self.folios.get_mut(id).flags;
            if activate {
                *fl |= PG_ACTIVE;
            }
            if restore {
                *fl |= PG_WORKINGSET;
            }
        }
        folio_add_lru(&mut self.lru, &mut self.folios, id);
        self.peak_cached_pages = self.peak_cached_pages.max(self.lru.nr_pages[0] + self.lru.nr_pages[1]);
        self.vm.nr_added += f.nr_pages();
        if self.sink.enabled {
            let file = self.file_name(f.file());
            self.emit(EventKind::MmFilemapAddToPageCache { file, index: f.index(), order: f.order as u64 });
        }
        Some(id)
    }

    /// Serves the requests in `scratch_reqs` on device `dev` (blk_mq_submit_bio -> the driver -> blk_mq_end_request):
    /// emits G and D now (Q too when `with_queue`, i.e. one bio per request) and C at completion; returns each
    /// request's sector range and completion time.
    fn issue_requests(&mut self, dev: usize, rwbs: &Name, with_queue: bool) -> Vec<(u64, u64, Nanos)> {
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

    /// The physical runs (sector, sectors) of file pages [index, end), leaving out holes and unwritten extents (read
    /// as zeros without I/O).
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
            let (sector, left) = ino.extents.map(index);
            let n = left.min(end - index).min(ino.extents.data_left(index));
            out.push((sector, n * 8));
            index += n;
        }
    }

    /// __remove_mapping for reclaim: the folio leaves a shadow entry (workingset_eviction) and is deleted.
    pub fn evict(&mut self, id: FolioId) {
        let f = *self.folios.get(id);
        let shadow = self.ws.eviction(f.nr_pages(), f.test(PG_WORKINGSET));
        self.remove_folio(id, Some(shadow));
    }

    /// filemap_remove_folio: takes a folio out of its file's page cache and the LRU, uncharges and frees it.
    pub fn delete_from_page_cache(&mut self, id: FolioId) {
        self.remove_folio(id, None);
    }

    /// __filemap_remove_folio with an optional shadow entry left in the folio's slots.
    fn remove_folio(&mut self, id: FolioId, shadow: Option<Shadow>) {
        let f = *self.folios.get(id);
        self.uncharge(f.nr_pages());
        let list = folio_lru_list(&self.folios, id);
        self.lru.del(&mut self.folios, id, list);
        let mapping = &mut self.inodes[f.file() as usize].mapping;
        mapping.remove(&self.folios, f.index(), shadow, f.file(), &mut self.ws.shadow_nodes);
        self.folios.free(id);
        self.vm.nr_deleted += f.nr_pages();
        if self.sink.enabled {
            let name = self.file_name(f.file());
            self.emit(EventKind::MmFilemapDeleteFromPageCache { file: name, index: f.index(), order: f.order as u64 });
        }
    }

    /// folio_mark_accessed, with the PGACTIVATE count.
    pub fn mark_accessed(&mut self, id: FolioId) {
        if folio_mark_accessed(&mut self.lru, &mut self.folios, id) {
            let nr = self.folios.get(id).nr_pages();
            self.vm.pgactivate += nr;
            self.ws.activation(nr);
        }
    }

    /// Checks the page cache's invariants: every cached folio is on exactly one LRU list, the lists' links and
    /// counts hold, and the cached pages add up.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.lru.check(&self.folios)?;
        let cached: u64 = self.inodes.iter().map(|i| i.mapping.nrpages).sum();
        let on_lru = self.lru.nr_pages[0] + self.lru.nr_pages[1];
        if cached != on_lru {
            return Err(format!("invariant: {cached} pages cached but {on_lru} on the LRU"));
        }
        if self.vm.nr_added + self.initial_pages - self.vm.nr_deleted != cached {
            return Err("invariant: pages added - deleted != pages cached".into());
        }
        let mut listed = 0;
        for ino in &self.inodes {
            listed += ino.mapping.check_nodes(&self.folios).map_err(|e| format!("{}: {e}", ino.name))?;
        }
        if listed != self.ws.shadow_nodes.len() {
            return Err(format!("invariant: {listed} shadow-only nodes, {} listed", self.ws.shadow_nodes.len()));
        }
        if self.zone.overcommitted == 0 && cached + self.zone.used > self.zone.managed {
            return Err(format!(
                "invariant: {cached} pages cached beyond the zone's {} managed pages",
                self.zone.managed
            ));
        }
        Ok(())
    }

    /// An O_DIRECT read of `len` bytes at `pos` (iomap_dio_bio_iter: bios straight from the extent map, REQ_OP_READ);
    /// the task waits for them.
    pub fn dio_bio_read(&mut self, file: u32, pos: u64, len: u64) {
        let rwbs = self.rwbs_r.clone();
        self.direct_io(file, pos, len, &rwbs);
    }

    /// An O_DIRECT write of `len` bytes at `pos` (iomap_dio_bio_iter, REQ_OP_WRITE | REQ_SYNC | REQ_IDLE: rwbs WS);
    /// the task waits for the bios.
    pub fn dio_bio_write(&mut self, file: u32, pos: u64, len: u64) {
        let rwbs = self.rwbs_ws.clone();
        self.direct_io(file, pos, len, &rwbs);
    }

    /// The bios of an O_DIRECT read or write, straight from the extent map; the task waits for them. A write's bio
    /// holds the user buffer's pages, physically scattered: one 4 KiB segment each, so a request carries at most
    /// 128 of them (512 KiB; traces/write/direct_over_cached: 1 MiB writes became 512 + 512 KiB requests).
    fn direct_io(&mut self, file: u32, pos: u64, len: u64, rwbs: &Name) {
        let seg = if rwbs.starts_with('W') { 8 } else { MAX_SEGMENT_SECTORS };
        let dev = self.inodes[file as usize].device;
        self.scratch_runs.clear();
        let mut at = pos;
        while at < pos + len {
            let ext = &self.inodes[file as usize].extents;
            let in_page = at & 4095;
            // iomap maps a hole or an unwritten extent to zeros: no bio.
            let hole = ext.hole_left(at >> 12);
            if hole > 0 {
                at = (at - in_page).saturating_add(hole.saturating_mul(4096)).min(pos + len);
                continue;
            }
            let (sector, left) = ext.map(at >> 12);
            let left = left.min(ext.data_left(at >> 12));
            let n = (left.saturating_mul(4096) - in_page).min(pos + len - at);
            self.scratch_runs.push((sector + in_page / 512, n / 512, seg));
            at += n;
        }
        let max_sectors = self.devices[dev].max_sectors;
        self.scratch_reqs.clear();
        build_requests(&self.scratch_runs, max_sectors, &mut self.scratch_reqs);
        let done_at = self.issue_requests(dev, rwbs, true);
        self.vm.sync_misses += 1;
        self.now = done_at.iter().map(|d| d.2).max().unwrap_or(self.now).max(self.now);
    }

    /// Submits reads of contiguous new folios: ext4_mpage_readpages (->readahead, REQ_RAHEAD) or ->read_folio
    /// building bios, the plug merging them into requests; sets each folio's completion time.
    pub fn submit_folio_reads(&mut self, file: u32, batch: &[FolioId], readahead: bool) {
        let dev = self.inodes[file as usize].device;
        self.scratch_runs.clear();
        // Each folio's physical runs, computed once: runs[ends[i-1]..ends[i]] belong to batch[i].
        let mut runs = Vec::new();
        let mut ends = Vec::with_capacity(batch.len());
        for &id in batch {
            let f = *self.folios.get(id);
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
        for (i, &id) in batch.iter().enumerate() {
            // Uptodate when the last request holding any of its pages completes.
            let mine = &runs[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
            let ready = done_at
                .iter()
                .filter(|(s, e, _)| mine.iter().any(|&(rs, rn)| *s < rs + rn && rs < *e))
                .map(|x| x.2)
                .max()
                .unwrap_or(self.now);
            self.folios.set_ready_at(id, ready);
        }
    }
}
