//! Workloads and measurements for the benchmarks (`benches/read_path.rs`, `benches/memory.rs`; figures in
//! docs/PERFORMANCE.md), kept in the library so the unit tests below run each with a tiny size and the benchmarks
//! cannot rot (DESIGN.md, Tests).
//!
//! The builders return ordinary scenarios ([`Scenario::parse`] of a RON string), so a benchmark measures the whole
//! `simulate` path: op stream expansion, the task loop, the read path and readahead. [`run`] runs one with events
//! off, as a benchmark should.
//!
//! Memory is measured with [`CountingAlloc`], a global allocator that counts live and peak bytes; it is installed
//! by the binaries that measure (`benches/memory.rs`, `tests/bench_tiny.rs`, and the `pcsim` binary, which counts
//! only inside `pcsim bench`'s measuring child: [`count_allocations`]), never by the library itself.
//!
//! [`cases`] is `pcsim bench`'s list of cases (the scale scenarios of scenarios/scale/ among them).

pub mod cases;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::mm::address_space::AddressSpace;
use crate::mm::folio::{Folio, FolioSlab};
use crate::mm::workingset::{Shadow, ShadowNodes};
use crate::scenario::Scenario;
use crate::sim::{simulate, SimOptions, SimResult};
use crate::trace::event::EventKind;

/// Machine memory of every benchmark scenario: larger than any benchmark file, so the whole file stays cached
/// once reclaim is modelled and the figures keep measuring the read path.
const MEMORY: &str = "16g";

/// The hit path: a file of `file_bytes` (a multiple of 4 KiB) fully cached, one task doing `ops` 4 KiB `pread()`s
/// at offsets cycling sequentially over it (`Generate(pattern: Sequential, syscall: Pread)`, wrapping). Every read
/// is a page-cache hit: no I/O, no readahead.
pub fn hit_path(ops: u64, file_bytes: u64) -> Scenario {
    let text = format!(
        r#"Scenario(
    name: "bench_hit_path",
    machine: (memory: "{MEMORY}", cpus: 1),
    devices: [(name: "disk0")],
    files: [(name: "data", size: {file_bytes}, state: Cached)],
    tasks: [(name: "reader", ops: [
        Open(file: "data"),
        Generate(fd: "data", pattern: Sequential, syscall: Pread, block: "4k", count: {ops}),
        Close(fd: "data"),
    ])],
)"#
    );
    Scenario::parse(&text, "bench::hit_path").expect("invariant: the hit-path scenario is valid")
}

/// A cold sequential scan: one task `read()`s a cold file of `ops` x 4 KiB from start to end, 4 KiB per call, on a
/// device with `read_ahead_kb` (128 is the kernel default; 2048 lets readahead grow to order-9 folios).
pub fn cold_sequential(ops: u64, read_ahead_kb: u32) -> Scenario {
    parse(&cold_sequential_text(ops, read_ahead_kb), "bench::cold_sequential")
}

/// [`cold_sequential`]'s scenario text.
pub fn cold_sequential_text(ops: u64, read_ahead_kb: u32) -> String {
    sequential_read("bench_cold_seq", ops, read_ahead_kb, "")
}

/// `ops` 4 KiB `read()`s of a cold file through a 64 MiB memory cgroup: the streaming read under memory pressure
/// (memcg reclaim evicting as it goes).
pub fn pressure_stream(ops: u64) -> Scenario {
    parse(&pressure_stream_text(ops), "bench::pressure_stream")
}

/// [`pressure_stream`]'s scenario text.
pub fn pressure_stream_text(ops: u64) -> String {
    sequential_read("bench_pressure_stream", ops, 128, ", memcg_limit: \"64m\"")
}

/// A bench scenario's text, parsed.
fn parse(text: &str, name: &str) -> Scenario {
    Scenario::parse(text, name).unwrap_or_else(|e| panic!("invariant: the {name} scenario is valid: {e}"))
}

/// The sequential-read scenario both builders share; `machine_extra` is appended to the machine section.
fn sequential_read(name: &str, ops: u64, read_ahead_kb: u32, machine_extra: &str) -> String {
    let size = ops * 4096;
    format!(
        r#"Scenario(
    name: "{name}",
    machine: (memory: "{MEMORY}", cpus: 1{machine_extra}),
    devices: [(name: "disk0", read_ahead_kb: {read_ahead_kb})],
    files: [(name: "data", size: {size}, state: Cold)],
    tasks: [(name: "reader", ops: [
        Open(file: "data"),
        Repeat(count: {ops}, ops: [Read(fd: "data", len: "4k")]),
        Close(fd: "data"),
    ])],
)"#
    )
}

/// A throttled writer: one task `write()`s `bytes` in 128 KiB calls to an empty file on a device whose writes are
/// limited to 64 MiB/s (dirty_bytes 64 MiB, dirty_background_bytes 32 MiB), so balance_dirty_pages paces it at the
/// device's rate: 4 GiB is about 64 s of simulated time (issue 5's goal: a 60 s throttled writer in under 0.6 s).
pub fn throttled_writer(bytes: u64) -> Scenario {
    parse(&throttled_writer_text(bytes), "bench::throttled_writer")
}

/// [`throttled_writer`]'s scenario text.
pub fn throttled_writer_text(bytes: u64) -> String {
    let size = (bytes + (1 << 30)).div_ceil(1 << 20);
    format!(
        r#"Scenario(
    name: "bench_throttled_writer",
    machine: (memory: "24g", cpus: 2),
    devices: [(name: "disk0", size: "{size}m", write_bps: "64m")],
    sysctls: {{"vm.dirty_bytes": 67108864, "vm.dirty_background_bytes": 33554432}},
    files: [(name: "out", size: 0)],
    tasks: [(name: "writer", ops: [
        Open(file: "out", flags: [WRONLY]),
        Repeat(count: {calls}, ops: [Write(fd: "out", len: "128k")]),
        Close(fd: "out"),
    ])],
)"#,
        calls = bytes / (128 << 10)
    )
}

/// A file of `pages` pages cached at the start (order-0 folios, as the model sets up `state: Cached`) and a task
/// that only opens and closes it: what a run holds per cached order-0 folio.
pub fn cached_file(pages: u64) -> Scenario {
    let size = pages * 4096;
    let text = format!(
        r#"Scenario(
    name: "bench_cached_file",
    machine: (memory: "{MEMORY}", cpus: 1),
    devices: [(name: "disk0")],
    files: [(name: "data", size: {size}, state: Cached)],
    tasks: [(name: "idle", ops: [Open(file: "data"), Close(fd: "data")])],
)"#
    );
    Scenario::parse(&text, "bench::cached_file").expect("invariant: the cached-file scenario is valid")
}

/// Runs a scenario with events off, as the benchmarks do.
pub fn run(sc: &Scenario) -> SimResult {
    simulate(sc, &SimOptions { events: false, ..Default::default() }).expect("invariant: bench scenarios simulate")
}

/// Folios added to the page cache during a run, per order (index = order), counted from an events-on run.
pub fn folios_added_by_order(sc: &Scenario) -> [u64; 12] {
    let r = simulate(sc, &SimOptions { events: true, ..Default::default() }).expect("invariant: bench scenarios");
    let mut by_order = [0u64; 12];
    for e in &r.events {
        if let EventKind::MmFilemapAddToPageCache { order, .. } = e.kind {
            by_order[order as usize] += 1;
        }
    }
    by_order
}

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);
/// Whether [`CountingAlloc`] counts (on unless a binary turns it off: [`count_allocations`]).
static COUNTING: AtomicBool = AtomicBool::new(true);

/// Turns [`CountingAlloc`]'s counting on or off. The `pcsim` binary installs the allocator with counting off, so
/// its commands pay one relaxed load per allocation, and turns it on in `pcsim bench`'s measuring child. Bytes
/// allocated while counting was off and freed while it is on are subtracted down to 0 at most.
pub fn count_allocations(on: bool) {
    COUNTING.store(on, Ordering::Relaxed);
}

/// A global allocator over [`System`] that counts live bytes, their peak and allocation calls. Install it in a
/// measuring binary with `#[global_allocator] static A: pcsim::bench::CountingAlloc = pcsim::bench::CountingAlloc;`.
/// Counts are process-wide: measure from one thread while the others are idle.
pub struct CountingAlloc;

impl CountingAlloc {
    fn shrank(by: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            let _ = LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(by)));
        }
    }

    fn grew(by: usize) {
        if !COUNTING.load(Ordering::Relaxed) {
            return;
        }
        CALLS.fetch_add(1, Ordering::Relaxed);
        let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are only bookkeeping.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        Self::shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                Self::grew(new_size - layout.size());
            } else {
                Self::shrank(layout.size() - new_size);
                if COUNTING.load(Ordering::Relaxed) {
                    CALLS.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        p
    }
}

/// Live bytes as counted by [`CountingAlloc`] (0 when it is not installed).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Allocation calls (alloc and realloc) counted by [`CountingAlloc`] so far.
pub fn alloc_calls() -> usize {
    CALLS.load(Ordering::Relaxed)
}

/// Runs `f` and returns its result with the peak of live bytes during it, above the live bytes at its start.
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// Memory of the page-cache structures for `n` folios of one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructureBytes {
    pub folios: u64,
    pub order: u8,
    /// Bytes the folio slab holds (`FolioSlab::bytes`: capacity, so Vec doubling slack included).
    pub slab: usize,
    /// Bytes the address space's map holds (counted by the allocator: all live bytes minus the slab).
    pub map: usize,
}

impl StructureBytes {
    pub fn per_folio(&self) -> f64 {
        (self.slab + self.map) as f64 / self.folios as f64
    }
    pub fn per_page(&self) -> f64 {
        self.per_folio() / (1u64 << self.order) as f64
    }
}

/// Builds a [`FolioSlab`] and an [`AddressSpace`] holding `n` adjacent folios of `order`, inserted in index order
/// as readahead inserts them, and measures what they hold. Needs [`CountingAlloc`] installed (else `map` is 0).
pub fn structure_bytes(n: u64, order: u8) -> StructureBytes {
    let before = live_bytes();
    let mut slab = FolioSlab::default();
    let mut space = AddressSpace::default();
    for i in 0..n {
        let id = slab.alloc(Folio::new(i << order, order, 0, 0));
        space.insert(&slab, id, 0, &mut crate::mm::workingset::ShadowNodes::default());
    }
    let total = live_bytes() - before;
    assert_eq!(space.nrpages, n << order);
    let slab_bytes = slab.bytes();
    StructureBytes { folios: n, order, slab: slab_bytes, map: total.saturating_sub(slab_bytes) }
}

/// What an address space holding `n` shadow entries of order-0 folios (and no folios) costs, bytes: `n` folios
/// inserted in index order, then each removed leaving a shadow (reclaim's __remove_mapping), and every byte still
/// allocated apart from the folio slab counted (the shadows, the index nodes they keep, the shadow-node list). Needs
/// [`CountingAlloc`] installed (else 0).
pub fn shadow_bytes(n: u64) -> usize {
    let before = live_bytes();
    let mut slab = FolioSlab::default();
    let mut space = AddressSpace::default();
    let mut list = ShadowNodes::default();
    for i in 0..n {
        let id = slab.alloc(Folio::new(i, 0, 0, 0));
        space.insert(&slab, id, 0, &mut list);
    }
    for i in 0..n {
        let shadow = Shadow { eviction: i, workingset: false, order: 0 };
        space.remove(&slab, i, Some(shadow), 0, &mut list);
    }
    assert_eq!((space.nrpages, space.nr_shadows() as u64), (0, n), "invariant: every folio left a shadow");
    let held = live_bytes().saturating_sub(before).saturating_sub(slab.bytes());
    drop((space, list));
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_path_hits_every_time() {
        let r = run(&hit_path(1000, 64 << 10));
        let t = &r.tasks[0];
        assert_eq!(t.read_ops, 1000);
        assert_eq!(t.ops, 1002, "open, 1000 preads, close");
        assert_eq!(t.failed_ops, 0);
        assert_eq!(t.bytes, 1000 * 4096);
        assert_eq!(t.read_misses, 0);
        assert_eq!(r.vm.nr_added, 0);
        assert_eq!(r.devices[0].requests, 0);
        assert_eq!(r.files[0].nr_cache, 16);
    }

    #[test]
    fn pressure_stream_stays_within_the_cgroup() {
        let ops = 32768; // 128 MiB through a 64 MiB cgroup
        let r = run(&pressure_stream(ops));
        assert_eq!(r.tasks[0].read_ops, ops);
        assert!(r.files[0].nr_cache < 16384, "{} pages cached under 64 MiB", r.files[0].nr_cache);
        assert_eq!(r.vm.nr_added - r.vm.nr_deleted, r.files[0].nr_cache);
    }

    #[test]
    fn cold_sequential_reads_the_whole_file_through_readahead() {
        for ra_kb in [128, 2048] {
            let ops = 1024;
            let r = run(&cold_sequential(ops, ra_kb));
            let t = &r.tasks[0];
            assert_eq!(t.read_ops, ops);
            assert_eq!(t.bytes, ops * 4096);
            assert_eq!(t.failed_ops, 0);
            assert_eq!(r.files[0].nr_cache, ops, "read_ahead_kb {ra_kb}");
            assert_eq!(r.files[0].ranges, vec![(0, ops - 1)]);
            assert_eq!(r.vm.pgpgin, ops * 4);
            // Readahead serves almost every read: misses are the first read and waits at window edges.
            assert!(t.read_misses > 0 && t.read_misses < ops / 8, "{} misses", t.read_misses);
        }
    }

    #[test]
    fn large_readahead_grows_to_order_9() {
        let by_order = folios_added_by_order(&cold_sequential(8192, 2048));
        assert!(by_order[9] > 0, "{by_order:?}");
        let pages: u64 = by_order.iter().enumerate().map(|(o, n)| n << o).sum();
        assert_eq!(pages, 8192);
    }

    #[test]
    fn cached_file_is_all_resident() {
        let r = run(&cached_file(300));
        assert_eq!(r.files[0].nr_cache, 300);
        assert_eq!(r.files[0].ranges, vec![(0, 299)]);
        assert_eq!(r.tasks[0].ops, 2);
    }

    #[test]
    fn structure_bytes_counts_the_slab() {
        // The counting allocator is not installed in this test binary: only the slab is known here
        // (tests/bench_tiny.rs measures the map with it installed).
        let s = structure_bytes(1000, 0);
        assert_eq!(s.folios, 1000);
        assert!(s.slab >= 1000 * std::mem::size_of::<Folio>());
    }
}
