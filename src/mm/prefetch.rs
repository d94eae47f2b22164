//! Model: prefetch hints, which change nothing in the model and only make it faster at scale. When a task's next
//! calls are known (a generated op stream), the page-index slot of a page it will read, then the folio that slot
//! holds, are brought into the CPU cache ahead of use (`Kernel::prefetch_page`, filemap.rs), so the CPU fetches
//! from memory for several calls at once (with gigabytes cached, each lookup would otherwise wait for memory in
//! turn). Measured: random 4 KiB hits over a 10 GiB cached file, 20M ops, 8.6 s without, 3.0 s with
//! (docs/PERFORMANCE.md "Scale"). Backing the folio slab and the index leaves with transparent huge pages
//! (MADV_HUGEPAGE on 2 MiB-aligned storage) gained 6% more on top and was left out.

/// Model: asks the CPU to load the cache line holding `*p` (a no-op where there is no prefetch instruction).
#[inline(always)]
pub(crate) fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and never changes memory, whatever the address.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
