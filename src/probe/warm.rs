//! Memory warm-up before a workload. This host is a VM whose balloon driver reports free memory to the hypervisor
//! (free page reporting: `/sys/module/page_reporting`, blocks of 2^page_reporting_order pages), which takes the
//! backing away; the next touch of such a page faults in the hypervisor. A buffered writer filling new folios then
//! runs ~10x slower (measured here: `dd bs=128k` to ext4 at 560 MB/s on reported memory, 5.4 GB/s right after 3 GiB
//! had been touched), so a capture's timing would depend on how long the host had been idle. The probe touches the
//! memory the workload is about to use, in huge pages, and frees it just before the workload starts (it changes no
//! setting), and records how much the reporter took back during the run. Measured on buffered_1g: the writer's
//! 64-page steps slower than 200 us fell from 583 (362 ms in all; 4 KiB pages touched, which the allocator hands
//! out again from the free lists' tails) to 36-69 (29-42 ms) with huge pages, as in captures made right after a
//! busy period.

use serde::Serialize;

/// What the warm-up did, for the manifest.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WarmupRecord {
    /// Bytes of anonymous memory touched and freed just before the workload (0: skipped).
    pub bytes: u64,
    /// How long touching them took (ns; slow when the hypervisor had to back them again).
    pub touch_ns: u64,
    /// Free page reporting's `reported_kib` counter's growth from the warm-up to the end of the run (None: the host
    /// has no free page reporting).
    pub reported_kib_during_run: Option<u64>,
}

const REPORTED: &str = "/sys/module/page_reporting/parameters/reported_kib";

/// The free page reporter's running total (KiB), when the host has one.
pub fn reported_kib() -> Option<u64> {
    std::fs::read_to_string(REPORTED).ok()?.trim().parse().ok()
}

/// How much to warm: the scenario devices' total size (what the workload can bring into the page cache), at most
/// half of MemAvailable, and nothing without free page reporting.
pub fn amount(device_bytes: u64, mem_available: u64) -> u64 {
    if reported_kib().is_none() {
        return 0;
    }
    device_bytes.min(mem_available / 2) & !0xfff
}

/// Maps `bytes` of anonymous memory with every page populated, then unmaps it; returns the time it took (ns). An
/// interrupt cuts it short (the caller checks for one).
pub fn touch_and_free(bytes: u64) -> u64 {
    if bytes == 0 {
        return 0;
    }
    let t = super::clock::mono_ns();
    // SAFETY: a private anonymous mapping, populated by the kernel and unmapped before returning; no Rust reference
    // to it exists.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            bytes as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p != libc::MAP_FAILED {
            // Huge pages where the kernel can: each is taken whole from the high-order free lists (where the
            // reported memory is) and goes back to their head when unmapped, so the workload's next large
            // allocations reuse exactly this memory.
            libc::madvise(p, bytes as usize, libc::MADV_HUGEPAGE);
            let base = p as *mut u8;
            let mut off = 0usize;
            while off < bytes as usize {
                if off % (2 << 20) == 0 && super::guard::interrupted() {
                    break;
                }
                std::ptr::write_volatile(base.add(off), 1);
                off += 4096;
            }
            libc::munmap(p, bytes as usize);
        }
    }
    super::clock::mono_ns().saturating_sub(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_is_capped_and_page_aligned() {
        if reported_kib().is_none() {
            assert_eq!(amount(1 << 30, 8 << 30), 0);
            return;
        }
        assert_eq!(amount(1 << 30, 8 << 30), 1 << 30);
        assert_eq!(amount(8 << 30, 1 << 30), 512 << 20);
        assert_eq!(amount(4097, 1 << 30), 4096);
    }
}
