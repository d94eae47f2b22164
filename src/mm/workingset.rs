//! mm/workingset.c: shadow entries left by evicted folios, the non-resident age clock, and refault detection
//! (`workingset_eviction`, `workingset_refault`, `workingset_activation`) for the file LRU.
//!
//! Simplifications: DIVERGENCE: shadows are kept per evicted folio's first page and found only by a new folio
//! starting at or covering that page; the shadow-node shrinker (`count_shadow_nodes`, which on this host dropped
//! every shadow of a looping scan, traces/pressure/seq_loop_scan) is not modelled; one memory domain (the memory
//! cgroup when there is one, else the machine).

/// A shadow entry: the non-resident age at eviction and whether the folio was in the workingset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shadow {
    pub eviction: u64,
    pub workingset: bool,
}

/// The memory cgroup's statistics are read for refault decisions as they were at their last flush: the
/// periodic flush runs every FLUSH_TIME (2 s). A new cgroup reads 0 until its first flush, so refaults in its first
/// 2 s are never activated (traces/pressure/reread_after_evict_nosleep: 0 activations in 3 runs, 3744-3808 of 4096
/// after a 2.5 s pause).
pub const FLUSH_TIME_NS: u64 = 2_000_000_000;

/// Per memory domain: the clock and the counters (/proc/vmstat names).
#[derive(Clone, Debug, Default)]
pub struct Workingset {
    /// lruvec->nonresident_age: pages evicted or activated so far.
    pub nonresident_age: u64,
    pub workingset_refault_file: u64,
    pub workingset_activate_file: u64,
    pub workingset_restore_file: u64,
    /// NR_ACTIVE_FILE as of the last stats flush, and when the next flush is due.
    pub flushed_active: u64,
    pub next_flush_ns: u64,
}

impl Workingset {
    /// workingset_eviction: the shadow for a folio of `nr` pages leaving the cache.
    pub fn eviction(&mut self, nr: u64, workingset: bool) -> Shadow {
        let eviction = self.nonresident_age;
        self.nonresident_age += nr;
        Shadow { eviction, workingset }
    }

    /// workingset_activation (and the activation of a refault): ages the clock.
    pub fn activation(&mut self, nr: u64) {
        self.nonresident_age += nr;
    }

    /// The periodic memcg stats flush: records NR_ACTIVE_FILE when a flush is due at `now_ns` (unless `record` is
    /// false: a new cgroup's first flush is not due before FLUSH_TIME).
    pub fn flush_stats(&mut self, now_ns: u64, active: u64, record: bool) {
        if now_ns >= self.next_flush_ns {
            if record {
                self.flushed_active = active;
            }
            self.next_flush_ns = (now_ns / FLUSH_TIME_NS + 1) * FLUSH_TIME_NS;
        }
    }

    /// workingset_refault: counts the refault; returns (activate, restore) for a refault of `nr` pages.
    pub fn refault(&mut self, shadow: Shadow, nr: u64) -> (bool, bool) {
        self.workingset_refault_file += nr;
        let distance = self.nonresident_age.wrapping_sub(shadow.eviction);
        if distance > self.flushed_active {
            return (false, false);
        }
        self.workingset_activate_file += nr;
        self.activation(nr);
        if shadow.workingset {
            self.workingset_restore_file += nr;
        }
        (true, shadow.workingset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refaults_activate_within_the_active_size_after_a_flush() {
        let mut w = Workingset::default();
        w.flush_stats(0, 100, false);
        let s = w.eviction(1, false);
        w.nonresident_age += 50;
        assert_eq!(w.refault(s, 1), (false, false), "before the first flush the cgroup reads 0 active pages");
        w.flush_stats(FLUSH_TIME_NS, 100, true);
        let s = w.eviction(1, true);
        w.nonresident_age += 50;
        assert_eq!(w.refault(s, 1), (true, true));
        assert_eq!((w.workingset_refault_file, w.workingset_activate_file, w.workingset_restore_file), (2, 1, 1));
    }
}
