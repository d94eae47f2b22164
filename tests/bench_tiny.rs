//! The memory benchmark's measurements with tiny sizes, under the counting allocator (benches/memory.rs runs them
//! at full size). One test only: the allocator's counts are process-wide.

use pcsim::bench::{self, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn memory_measurements_count_the_structures() {
    for order in [0u8, 9] {
        let s = bench::structure_bytes(4096, order);
        assert_eq!(s.folios, 4096);
        // The slab holds at least one Folio per folio; the page index costs 4 B per page under small folios and
        // 4 B per 64-page block under large ones (8 blocks for an order-9 folio).
        assert!(s.slab >= 4096 * std::mem::size_of::<pcsim::mm::folio::Folio>(), "{s:?}");
        let per_folio_index = if order == 0 { 4 } else { 8 * 4 };
        assert!(s.map >= 4096 * per_folio_index && s.map <= 4096 * per_folio_index * 2, "{s:?}");
        assert!((s.per_page() - s.per_folio() / (1u64 << order) as f64).abs() < 1e-9);
    }

    // A run's peak grows with the pages it caches.
    let (r, small) = bench::peak_during(|| bench::run(&bench::cached_file(2048)));
    assert_eq!(r.files[0].nr_cache, 2048);
    let (_, big) = bench::peak_during(|| bench::run(&bench::cached_file(4096)));
    assert!(big > small + 2048 * 16, "peak {small} -> {big}");

    // Allocation calls are counted.
    let before = bench::alloc_calls();
    let r = bench::run(&bench::hit_path(256, 64 << 10));
    assert_eq!(r.tasks[0].read_misses, 0);
    assert!(bench::alloc_calls() > before);
}
