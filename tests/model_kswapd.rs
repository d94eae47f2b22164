//! Reclaim of the machine's memory (no memory cgroup): zone watermarks, kswapd, direct reclaim and readahead's
//! __GFP_NORETRY allocations (src/mm/page_alloc.rs, src/mm/kswapd.rs). These runs cannot be checked against the
//! host (24 GiB, and the probe does not shrink the machine), so the checks are the kernel's own rules: free pages
//! never below the min watermark, kswapd reclaiming until they are above high, the allocating task reclaiming only
//! when it outruns kswapd, readahead windows cut short instead of failing.

use pcsim::scenario::Scenario;
use pcsim::sim::{simulate, SimOptions, SimResult};
use pcsim::trace::event::EventKind;

/// A reader streaming `size` with `block` reads on a machine of `memory` (of which `used` is outside the cache).
fn stream(memory: &str, used: &str, ra_kb: u32, size: &str, block: &str) -> SimResult {
    let text = format!(
        "Scenario(name: \"ks\", machine: (memory: \"{memory}\", used: \"{used}\"),
           devices: [(name: \"d\", read_ahead_kb: {ra_kb})], files: [(name: \"data\", size: \"{size}\")],
           tasks: [(name: \"reader\", ops: [Open(file: \"data\"),
             Generate(fd: \"data\", syscall: Read, block: \"{block}\"), Close(fd: \"data\")])])"
    );
    let sc = Scenario::parse(&text, "ks.ron").unwrap();
    simulate(&sc, &SimOptions { events: true, ..Default::default() }).unwrap()
}

fn counter(r: &SimResult, name: &str) -> u64 {
    r.counters.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no counter {name}")).1
}

/// Free pages after each page-cache event (in event order), from the free count at the start.
fn free_trajectory(r: &SimResult) -> Vec<i64> {
    let mut free = r.zone.free_start as i64;
    let mut out = Vec::new();
    for e in &r.events {
        match &e.kind {
            EventKind::MmFilemapAddToPageCache { order, .. } => free -= 1 << order,
            EventKind::MmFilemapDeleteFromPageCache { order, .. } => free += 1 << order,
            _ => continue,
        }
        out.push(free);
    }
    out
}

/// Pages evicted by each task.
fn evicted_by(r: &SimResult, task: &str) -> u64 {
    r.events
        .iter()
        .filter(|e| &*e.task == task)
        .map(|e| match &e.kind {
            EventKind::MmFilemapDeleteFromPageCache { order, .. } => 1 << order,
            _ => 0,
        })
        .sum()
}

#[test]
fn kswapd_keeps_free_pages_between_min_and_high() {
    // 256 MiB: 64512 managed pages; min_free_kbytes 12748 (THP's recommendation capped at 5% of lowmem, see
    // page_alloc.rs) -> min 3187, low 3187 + 796 = 3983, high 4779. 512 MiB streamed with 128 KiB reads
    // (32-page readahead windows): 4x the memory.
    let r = stream("256m", "0", 128, "512m", "128k");
    assert_eq!((r.zone.managed, r.zone.min, r.zone.low, r.zone.high), (64512, 3187, 3983, 4779));
    assert_eq!(r.tasks[0].bytes, 512 << 20);
    assert_eq!(r.zone.overcommitted, 0);
    // Residency never exceeded the memory: the zone never went below its min watermark.
    assert!(r.zone.peak_cached <= r.zone.managed - r.zone.min, "peak {}", r.zone.peak_cached);
    assert!(r.zone.free_lowest >= r.zone.min);
    let free = free_trajectory(&r);
    assert!(free.iter().all(|&f| f >= r.zone.min as i64));
    // kswapd did all the reclaiming, as kswapd0, from the oldest pages: the file's tail stayed.
    let (scanned, stolen) = (counter(&r, "pgscan_kswapd"), counter(&r, "pgsteal_kswapd"));
    assert_eq!((counter(&r, "pgscan_direct"), counter(&r, "allocstall_movable")), (0, 0));
    assert_eq!(stolen, r.vm.nr_deleted);
    assert_eq!(evicted_by(&r, "kswapd0"), stolen);
    assert!(stolen >= 131072 - 64512, "stole {stolen}");
    assert_eq!(scanned, stolen, "clean, unmapped, uptodate pages: every scanned page is reclaimed");
    assert_eq!(r.files[0].ranges, vec![(131072 - r.files[0].nr_cache, 131071)]);
    // Each wake-up reclaims from low to above high and the thread naps: free pages rise above high after a run
    // and stay below high + the high watermark's worth (kswapd_shrink_node's goal for one round).
    let first_eviction = r
        .events
        .iter()
        .filter(|e| {
            matches!(e.kind, EventKind::MmFilemapAddToPageCache { .. } | EventKind::MmFilemapDeleteFromPageCache { .. })
        })
        .position(|e| matches!(e.kind, EventKind::MmFilemapDeleteFromPageCache { .. }));
    let top = *free[first_eviction.unwrap()..].iter().max().unwrap();
    assert!(top > r.zone.high as i64 && top <= 2 * r.zone.high as i64, "free went up to {top}");
    assert!(r.zone.free_end > r.zone.min);
    assert!(counter(&r, "pageoutrun") >= 10, "one balance_pgdat per wake-up");
    assert_eq!(counter(&r, "pageoutrun"), counter(&r, "kswapd_low_wmark_hit_quickly") + 1, "woken while napping");
    // The model's vmstat.txt has the change in free pages, as the probe's does.
    assert!(r.vmstat_text().contains(&format!("nr_free_pages -{}\n", r.files[0].nr_cache)));
}

#[test]
fn the_reader_reclaims_directly_only_when_it_outruns_kswapd() {
    // 8 MiB reads through 8 MiB windows: one op allocates 2048 pages, more than low - min (796), before kswapd
    // (woken at low) gets to run: the reader reclaims itself. With 128 KiB reads (above) it never does.
    let r = stream("256m", "0", 8192, "512m", "8m");
    assert_eq!(r.tasks[0].bytes, 512 << 20);
    assert_eq!(r.zone.overcommitted, 0);
    let (direct, kswapd) = (counter(&r, "pgsteal_direct"), counter(&r, "pgsteal_kswapd"));
    assert!(direct > 0 && counter(&r, "allocstall_movable") > 0, "direct {direct}");
    assert!(kswapd > direct, "kswapd {kswapd} still does most of it");
    assert_eq!(evicted_by(&r, "reader"), direct);
    assert_eq!(evicted_by(&r, "kswapd0"), kswapd);
    assert!(r.zone.free_lowest >= r.zone.min);
    assert!(free_trajectory(&r).iter().all(|&f| f >= r.zone.min as i64));
    // Below min, the order-9 NORETRY allocations fail at once (compaction skipped) and the window is finished
    // with order-0 folios, reclaiming for them.
    assert!(r.zone.noretry_failed > 0);
    assert!(r.events.iter().any(|e| matches!(e.kind, EventKind::PageCacheRaUnbounded { .. })));
}

#[test]
fn readahead_windows_end_short_rather_than_fail() {
    // 64 MiB with 32 MiB used elsewhere: 16128 managed pages, 8192 used, min 787 (min_free_kbytes 3148): about
    // 7150 pages for the cache. A 32 MiB read asks for an 8192-page window; its own folios are locked under I/O,
    // so reclaim cannot free them and the NORETRY allocations fail: the window ends short and the read still
    // returns every byte.
    let r = stream("64m", "32m", 32768, "128m", "32m");
    assert_eq!((r.zone.managed, r.zone.min), (16128, 787));
    assert_eq!(r.tasks[0].failed_ops, 0);
    assert_eq!(r.tasks[0].bytes, 128 << 20);
    assert_eq!(r.zone.overcommitted, 0);
    assert!(r.zone.noretry_failed > 0);
    assert!(r.zone.peak_cached <= r.zone.managed - 8192 - r.zone.min);
    // Pages added by each window (between one page_cache_ra_order and the next readahead event): some short.
    let (mut short, mut windows) = (0, 0);
    let mut open: Option<(u64, u64)> = None;
    let mut close = |w: Option<(u64, u64)>| {
        if let Some((size, added)) = w {
            windows += 1;
            if added < size {
                short += 1;
            }
        }
    };
    for e in &r.events {
        match &e.kind {
            EventKind::PageCacheRaOrder { size, .. } => close(open.replace((*size, 0))),
            EventKind::PageCacheSyncRa { .. } | EventKind::PageCacheAsyncRa { .. } => close(open.take()),
            EventKind::MmFilemapAddToPageCache { order, .. } => {
                if let Some(w) = open.as_mut() {
                    w.1 += 1 << order;
                }
            }
            _ => {}
        }
    }
    close(open);
    assert!(windows > 0 && short > 0, "{short} of {windows} windows short");
}

#[test]
fn memcg_reclaim_counts_neither_kswapd_nor_direct() {
    // cgroup_reclaim(): the memory cgroup's own reclaim counts pgscan_file, not pgscan_kswapd/direct.
    let text = "Scenario(name: \"m\", machine: (memory: \"2g\", memcg_limit: \"64m\"), devices: [(name: \"d\")],
        files: [(name: \"f\", size: \"128m\")],
        tasks: [(name: \"t\", ops: [Open(file: \"f\"), Generate(fd: \"f\", syscall: Read, block: \"128k\")])])";
    let r = simulate(&Scenario::parse(text, "m.ron").unwrap(), &SimOptions::default()).unwrap();
    assert!(counter(&r, "pgscan_file") > 0);
    for c in ["pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "allocstall_movable"] {
        assert_eq!(counter(&r, c), 0, "{c}");
    }
}
