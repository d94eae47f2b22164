//! The vm event counters and gauges the model keeps (include/linux/vm_event_item.h, mmzone.h's node stats), named
//! as in /proc/vmstat.

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
