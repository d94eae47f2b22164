//! mm/page_alloc.c (Linux 6.18; 6.12 source read, host zoneinfo checked): the zone watermarks and the page
//! allocator's decisions for a page-cache folio (`get_page_from_freelist` at the low watermark, then
//! `__alloc_pages_slowpath`: wake kswapd, retry at the min watermark, direct reclaim, retry or fail).
//!
//! ```text
//!  free pages
//!   ^ managed - used
//!   |                     kswapd sleeps above high
//!   +-- high ------------ kswapd reclaims until free > high (balance_pgdat)
//!   +-- low  ------------ an allocation that would leave free <= low wakes kswapd
//!   +-- min  ------------ below: the allocating task reclaims itself (direct reclaim), or NORETRY fails
//!   0
//! ```
//!
//! Simplifications, each marked DIVERGENCE at its line:
//! - One zone, ZONE_NORMAL, holding all of `machine.memory`. Its managed pages are the machine's pages minus the
//!   struct page array (64 bytes per 4 KiB page, 1/64): the host's MemTotal is 1.9% below its RAM, the model's
//!   1.6% (kernel text, firmware and crash reservations are not modelled).
//! - Free pages = managed - `machine.used` (memory outside the page cache, held constant) - file pages. No
//!   anonymous memory, slab, per-CPU page lists or vmstat counter drift.
//! - No fragmentation: a folio of 2^order pages can be allocated whenever the free count allows it
//!   (`__zone_watermark_ok`'s order-0 test, with the 2^order - 1 pages it discounts); no migratetypes, no
//!   highatomic or CMA reserves, no compaction. The one compaction outcome that matters without fragmentation is
//!   kept: a costly (order > 3) `__GFP_NORETRY` allocation below the min watermark fails at once, because
//!   compaction is skipped (`__compaction_suitable`) and NORETRY forbids reclaim for it.
//! - No watermark boost: `boost_watermark` is raised only by fragmentation fallbacks, which the model has none of.
//! - Two allocation contexts: the mapping's (GFP_HIGHUSER_MOVABLE without __GFP_FS) and readahead's
//!   (`readahead_gfp_mask`: | __GFP_NORETRY | __GFP_NOWARN).
//! - An ordinary allocation that still cannot be met after MAX_RECLAIM_RETRIES reclaim passes without progress
//!   would, on the kernel, stall in reclaim throttling and end in the OOM killer; the model allocates anyway and
//!   counts it in `Zone::overcommitted` (checked by the tests).

use super::vmscan::MAX_RECLAIM_RETRIES;
use crate::kernel::mmzone::{Gfp, Watermarks, Zone};
use crate::kernel::Kernel;

/// PAGE_SHIFT.
pub const PAGE_SHIFT: u32 = 12;
/// pageblock_nr_pages on x86-64 (pageblock_order = HPAGE_PMD_ORDER = 9).
pub const PAGEBLOCK_NR_PAGES: u64 = 512;
/// MIGRATE_PCPTYPES: unmovable, movable, reclaimable.
pub const MIGRATE_PCPTYPES: u64 = 3;
/// PAGE_ALLOC_COSTLY_ORDER.
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;

/// Model: the zone's managed pages for a machine of `memory` bytes (see the module doc).
pub fn managed_pages(memory: u64) -> u64 {
    // DIVERGENCE: one zone holding all memory; only the struct page array is taken off (no kernel text, firmware or
    // crash reservations).
    let pages = memory >> PAGE_SHIFT;
    pages - pages / 64
}

/// calculate_min_free_kbytes: int_sqrt(lowmem_kbytes * 16), clamped to [128, 262144].
pub fn calculate_min_free_kbytes(lowmem_kbytes: u64) -> u64 {
    lowmem_kbytes.saturating_mul(16).isqrt().clamp(128, 262_144)
}

/// set_recommended_min_free_kbytes (mm/khugepaged.c, THP enabled): two free pageblocks per zone plus
/// MIGRATE_PCPTYPES^2 more, at most 5% of `nr_free_buffer_pages`; raises `min_free_kbytes`, never lowers it.
pub fn set_recommended_min_free_kbytes(min_free_kbytes: u64, nr_zones: u64, nr_free_buffer_pages: u64) -> u64 {
    let mut recommended_min = PAGEBLOCK_NR_PAGES * nr_zones * 2;
    recommended_min += PAGEBLOCK_NR_PAGES * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES;
    recommended_min = recommended_min.min(nr_free_buffer_pages / 20);
    min_free_kbytes.max(recommended_min << (PAGE_SHIFT - 10))
}

/// init_per_zone_wmark_min + set_recommended_min_free_kbytes: the boot-time vm.min_free_kbytes of a machine with
/// `memory` bytes, as on the host (THP "madvise"):
/// init_per_zone_wmark_min's `calculate_min_free_kbytes` over the managed pages (watermarks are still 0 then),
/// then khugepaged's start raising it (`set_recommended_min_free_kbytes`), its `nr_free_buffer_pages` being the
/// managed pages above the high watermark just set. DIVERGENCE: the populated zones counted there are those of an
/// x86-64 machine with this memory from address 0: ZONE_DMA and ZONE_DMA32, and ZONE_NORMAL above 4 GiB (a real
/// machine's PCI hole can populate ZONE_NORMAL from about 3 GiB).
pub fn default_min_free_kbytes(memory: u64) -> u64 {
    let managed = managed_pages(memory);
    let min_free_kbytes = calculate_min_free_kbytes(managed << (PAGE_SHIFT - 10));
    let w = setup_per_zone_wmarks(min_free_kbytes, DEFAULT_WATERMARK_SCALE_FACTOR, &[managed])[0];
    // DIVERGENCE: the populated zones of an x86-64 machine with this memory from address 0 (no PCI hole).
    let nr_zones = if memory > 4 << 30 { 3 } else { 2 };
    set_recommended_min_free_kbytes(min_free_kbytes, nr_zones, managed.saturating_sub(w.high))
}

/// vm.watermark_scale_factor's default.
pub const DEFAULT_WATERMARK_SCALE_FACTOR: u64 = 10;

/// mult_frac(x, n, d): x * n / d without overflowing.
fn mult_frac(x: u64, n: u64, d: u64) -> u64 {
    (x / d) * n + (x % d) * n / d
}

/// __setup_per_zone_wmarks for lowmem zones with `managed` pages each: min is the zone's share of
/// min_free_kbytes; low and high are each a further max(min / 4, managed * watermark_scale_factor / 10000).
pub fn setup_per_zone_wmarks(min_free_kbytes: u64, watermark_scale_factor: u64, managed: &[u64]) -> Vec<Watermarks> {
    let pages_min = min_free_kbytes >> (PAGE_SHIFT - 10);
    let lowmem_pages: u64 = managed.iter().sum();
    managed
        .iter()
        .map(|&m| {
            let min = if lowmem_pages == 0 { 0 } else { (pages_min as u128 * m as u128 / lowmem_pages as u128) as u64 };
            let tmp = (min >> 2).max(mult_frac(m, watermark_scale_factor, 10000));
            let low = min + tmp;
            let high = low + tmp;
            Watermarks { min, low, high, promo: high + tmp }
        })
        .collect()
}

impl Zone {
    /// The zone of a machine with `memory` bytes of which `used` bytes are outside the page cache.
    pub fn new(memory: u64, used: u64, min_free_kbytes: u64, watermark_scale_factor: u64) -> Zone {
        let managed = managed_pages(memory);
        let wmark = setup_per_zone_wmarks(min_free_kbytes, watermark_scale_factor, &[managed])[0];
        let used = (used >> PAGE_SHIFT).min(managed);
        Zone { managed, used, wmark, free_lowest: managed - used, overcommitted: 0, noretry_failed: 0 }
    }
}

impl Kernel {
    /// zone_page_state(zone, NR_FREE_PAGES): managed pages not used outside the cache and not holding file pages.
    pub fn nr_free_pages(&self) -> u64 {
        // DIVERGENCE: memory outside the page cache is the constant `machine.used`: no anonymous memory, slab,
        // per-CPU page lists or vmstat counter drift.
        let file = self.lru.nr_pages[0] + self.lru.nr_pages[1];
        self.zone.managed.saturating_sub(self.zone.used + file)
    }
}

/// __zone_watermark_ok without reserves or fragmentation: an order-`order` request leaves the zone above `mark`
/// (the 2^order - 1 pages beyond the first are counted as unusable, then free must exceed the mark).
pub fn zone_watermark_ok(free: u64, order: u32, mark: u64) -> bool {
    // DIVERGENCE: no fragmentation, migratetypes, highatomic or CMA reserves: the kernel also needs a free block of
    // the order in a usable free list.
    free as i128 - ((1i128 << order) - 1) > mark as i128
}

impl Kernel {
    /// __alloc_pages for a page-cache folio of 2^order pages: the fast path at the low watermark, else the slow path.
    /// Returns whether the folio can be allocated; the caller then adds it to the page cache.
    pub fn alloc_folio(&mut self, order: u32, gfp: Gfp) -> bool {
        // DIVERGENCE: no watermark boost: the kernel's boost_watermark is raised only by fragmentation fallbacks in
        // the free lists, which the model has none of.
        let ok = zone_watermark_ok(self.nr_free_pages(), order, self.zone.wmark.low)
            || self.alloc_pages_slowpath(order, gfp);
        if ok {
            let free = self.nr_free_pages().saturating_sub(1 << order);
            self.zone.free_lowest = self.zone.free_lowest.min(free);
        }
        ok
    }

    /// __alloc_pages_slowpath: wake kswapd, try at the min watermark, reclaim directly (try_to_free_pages) and try
    /// again; __GFP_NORETRY gives up after one reclaim (a costly order before it: compaction is skipped below the
    /// watermarks), others retry while reclaim makes progress (should_reclaim_retry).
    fn alloc_pages_slowpath(&mut self, order: u32, gfp: Gfp) -> bool {
        let mut no_progress_loops = 0;
        loop {
            self.wakeup_kswapd(order);
            if zone_watermark_ok(self.nr_free_pages(), order, self.zone.wmark.min) {
                return true;
            }
            if gfp == Gfp::NoRetry && order > PAGE_ALLOC_COSTLY_ORDER {
                // __alloc_pages_direct_compact returns COMPACT_SKIPPED below the watermarks: goto nopage.
                // DIVERGENCE: no compaction at all: this outcome is assumed, not computed (__compaction_suitable).
                self.zone.noretry_failed += 1;
                return false;
            }
            // __alloc_pages_direct_reclaim.
            let progress = self.try_to_free_pages();
            if zone_watermark_ok(self.nr_free_pages(), order, self.zone.wmark.min) {
                return true;
            }
            if gfp == Gfp::NoRetry {
                self.zone.noretry_failed += 1;
                return false;
            }
            // should_reclaim_retry.
            // DIVERGENCE: only the no-progress count decides; the kernel also stops retrying when the reclaimable and
            // free pages together could not meet the min watermark.
            if progress > 0 && order <= PAGE_ALLOC_COSTLY_ORDER {
                no_progress_loops = 0;
            } else {
                no_progress_loops += 1;
            }
            if no_progress_loops > MAX_RECLAIM_RETRIES {
                // DIVERGENCE: the kernel would throttle in reclaim and invoke the OOM killer; the model allocates
                // anyway and counts it.
                self.zone.overcommitted += 1;
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_of_the_hosts_zones() {
        // The host (6.18, /proc/zoneinfo): min_free_kbytes 67584, watermark_scale_factor 10, managed pages
        // DMA 3840, DMA32 772919, Normal 1736704 (lowmem 2513463). By hand: pages_min = 67584 / 4 = 16896;
        // Normal: min = 16896 * 1736704 / 2513463 = 11674, tmp = max(11674 / 4 = 2918, 1736704 * 10 / 10000 = 1736)
        // = 2918, low = 14592, high = 17510, promo = 20428; DMA32: min 5195, tmp max(1298, 772) = 1298, low 6493,
        // high 7791; DMA: min 25, tmp max(6, 3) = 6, low 31, high 37. All as zoneinfo shows them.
        let w = setup_per_zone_wmarks(67584, 10, &[3840, 772919, 1736704]);
        assert_eq!(w[2], Watermarks { min: 11674, low: 14592, high: 17510, promo: 20428 });
        assert_eq!((w[1].min, w[1].low, w[1].high), (5195, 6493, 7791));
        assert_eq!((w[0].min, w[0].low, w[0].high), (25, 31, 37));
    }

    #[test]
    fn watermarks_of_one_zone() {
        // One zone of 4 GiB - 1/64 = 1032192 pages, min_free_kbytes 67584: min = 16896; tmp = max(16896 / 4 = 4224,
        // 1032192 * 10 / 10000 = 1032) = 4224: low 21120, high 25344.
        let w = setup_per_zone_wmarks(67584, 10, &[managed_pages(4 << 30)])[0];
        assert_eq!((w.min, w.low, w.high), (16896, 21120, 25344));
        // A scale factor of 200 (2%): tmp = max(4224, 1032192 * 200 / 10000 = 20643) = 20643.
        let w = setup_per_zone_wmarks(67584, 200, &[1032192])[0];
        assert_eq!((w.min, w.low, w.high), (16896, 37539, 58182));
        // 256 MiB: 65536 - 1024 = 64512 managed pages; min_free_kbytes 2048 -> min 512, tmp = max(128, 64) = 128.
        let w = setup_per_zone_wmarks(2048, 10, &[64512])[0];
        assert_eq!((w.min, w.low, w.high), (512, 640, 768));
    }

    #[test]
    fn min_free_kbytes_at_boot() {
        assert_eq!(calculate_min_free_kbytes(16 << 20), 16384);
        assert_eq!(calculate_min_free_kbytes(1024), 128);
        assert_eq!(calculate_min_free_kbytes(1 << 40), 262_144);
        // The host: three populated zones, lowmem large enough for the full recommendation: 512 * 3 * 2 +
        // 512 * 3 * 9 = 16896 pages = 67584 KiB (its vm.min_free_kbytes).
        assert_eq!(set_recommended_min_free_kbytes(20_000, 3, 6_000_000), 67584);
        assert_eq!(default_min_free_kbytes(24 << 30), 67584);
        // 2 GiB: two zones, 11264 pages = 45056 KiB (below 5% of lowmem).
        assert_eq!(default_min_free_kbytes(2 << 30), 45056);
        // 256 MiB: 64512 managed pages; int_sqrt(258048 * 16) = 2031 KiB -> min 507, tmp max(126, 64) = 126,
        // high 759; 5% of 64512 - 759 = 63753 is 3187 pages = 12748 KiB, below the 11264-page recommendation.
        assert_eq!(calculate_min_free_kbytes(64512 * 4), 2031);
        assert_eq!(default_min_free_kbytes(256 << 20), 12748);
    }

    #[test]
    fn watermark_test_discounts_the_folios_tail() {
        assert!(zone_watermark_ok(101, 0, 100));
        assert!(!zone_watermark_ok(100, 0, 100));
        // An order-2 folio (4 pages) needs free - 3 > mark.
        assert!(zone_watermark_ok(104, 2, 100));
        assert!(!zone_watermark_ok(103, 2, 100));
    }
}
