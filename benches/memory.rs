//! Memory per cached folio and allocations per read (figures in docs/PERFORMANCE.md). Not a timing: a counting
//! global allocator (`pcsim::bench::CountingAlloc`) measures
//! 1. the page-cache structures alone: a `FolioSlab` and an `AddressSpace` holding N folios of order 0 and of
//!    order 9;
//! 2. whole runs, marginally: the peak of live bytes of `simulate` for a file of 2N pages minus that for N pages,
//!    divided by the extra folios (fixed costs cancel);
//! 3. allocation calls per read op on the hit path and the cold path.
//!
//! Goals (DESIGN.md, "Performance shape"): ≤ 48 B per folio, ≤ 24 B per order-0 page.
//! `cargo bench --bench memory` (a few seconds).

use pcsim::bench::{self, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() {
    println!("== page-cache structures (FolioSlab + AddressSpace), folios inserted in index order ==");
    println!(
        "{:>9} {:>5} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "folios", "order", "slab B", "map B", "B/folio", "slab/f", "B/page"
    );
    for (n, order) in [(1_000_000u64, 0u8), (1 << 20, 0), (1_000_000, 9), (1 << 20, 9)] {
        let s = bench::structure_bytes(n, order);
        println!(
            "{:>9} {:>5} {:>12} {:>12} {:>10.2} {:>10.2} {:>10.3}",
            s.folios,
            s.order,
            s.slab,
            s.map,
            s.per_folio(),
            s.slab as f64 / n as f64,
            s.per_page()
        );
    }

    println!();
    println!("== whole runs, marginal peak live bytes (2N pages minus N pages) ==");
    println!("{:<36} {:>10} {:>12} {:>10} {:>10}", "scenario", "+folios", "+peak B", "B/folio", "B/page");
    let n = 1u64 << 19;
    type Build = fn(u64) -> pcsim::scenario::Scenario;
    let cases: [(&str, Build); 3] = [
        ("cached file (order-0 folios)", bench::cached_file),
        ("cold seq read, read_ahead_kb 128", |p| bench::cold_sequential(p, 128)),
        ("cold seq read, read_ahead_kb 2048", |p| bench::cold_sequential(p, 2048)),
    ];
    for (name, build) in cases {
        let (small, big) = (build(n), build(2 * n));
        let folios = |sc| -> u64 { bench::folios_added_by_order(sc).iter().sum() };
        // A cached file's folios are set up before the run, not added by it: one per page.
        let (f_small, f_big) = if name.starts_with("cached") { (n, 2 * n) } else { (folios(&small), folios(&big)) };
        let (_, p_small) = bench::peak_during(|| bench::run(&small));
        let (_, p_big) = bench::peak_during(|| bench::run(&big));
        let extra = p_big.saturating_sub(p_small) as f64;
        println!(
            "{:<36} {:>10} {:>12} {:>10.2} {:>10.3}",
            name,
            f_big - f_small,
            p_big - p_small,
            extra / (f_big - f_small) as f64,
            extra / n as f64
        );
    }

    println!();
    println!("== allocation calls per read op (events off) ==");
    let ops = 1u64 << 18;
    let cases = [
        ("hit path, pread 4k, 64 MiB cached", bench::hit_path(ops, 64 << 20)),
        ("cold seq read 4k, read_ahead_kb 128", bench::cold_sequential(ops, 128)),
        ("cold seq read 4k, read_ahead_kb 2048", bench::cold_sequential(ops, 2048)),
    ];
    for (name, sc) in cases {
        let before = bench::alloc_calls();
        let r = bench::run(&sc);
        let calls = bench::alloc_calls() - before;
        println!(
            "{:<40} {:>10} reads {:>10} allocs {:>8.3} per read",
            name,
            r.tasks[0].read_ops,
            calls,
            calls as f64 / r.tasks[0].read_ops as f64
        );
    }
}
