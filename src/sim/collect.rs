//! The end of a run: the model's state read into a `SimResult` (per task, device and file, the counters, the zone).

use crate::kernel::Kernel;
use crate::scenario::Scenario;
use crate::trace::series::Series;
use crate::units::Nanos;

use super::result::{DeviceStats, FileResidency, SimResult, ZoneStats};
use super::task::Task;

/// The run's results, from the model's state at its end.
pub(crate) fn collect(
    sc: &Scenario,
    mut k: Kernel,
    tasks: Vec<Task>,
    free_start: u64,
    end: Nanos,
    series: Option<Series>,
) -> SimResult {
    if cfg!(debug_assertions) {
        if let Err(e) = k.check_invariants() {
            panic!("{e}");
        }
    }
    k.vm.nr_writeback = k.wb.nr_writeback;
    k.vm.nr_written = k.wb.nr_written;
    let mut events = std::mem::take(&mut k.sink.events);
    let cachestat = std::mem::take(&mut k.cachestat_log);
    events.sort_by_key(|e| e.time);
    let files = (0..sc.files.len()).map(|i| file_residency(&k, i)).collect();
    SimResult {
        scenario: sc.name.clone(),
        seed: sc.seed,
        events,
        tasks: tasks.into_iter().map(|t| t.stats).collect(),
        devices: k
            .devices
            .iter()
            .map(|d| DeviceStats {
                name: d.name.to_string(),
                requests: d.requests,
                sectors_read: d.sectors_read,
                busy_ns: d.busy_ns,
            })
            .collect(),
        files,
        vm: k.vm.clone(),
        nr_inactive_file: k.lru.nr_pages[0],
        nr_active_file: k.lru.nr_pages[1],
        counters: counters(&k),
        zone: ZoneStats {
            managed: k.zone.managed,
            min: k.zone.wmark.min,
            low: k.zone.wmark.low,
            high: k.zone.wmark.high,
            free_start,
            free_end: k.nr_free_pages(),
            free_lowest: k.zone.free_lowest,
            peak_cached: k.peak_cached_pages,
            overcommitted: k.zone.overcommitted,
            noretry_failed: k.zone.noretry_failed,
        },
        cachestat,
        end,
        series,
    }
}

/// What is left of file `i` in the page cache: resident ranges (uptodate folios, as mincore reports them), dirty
/// pages, and pages readahead brought in that were never used.
fn file_residency(k: &Kernel, i: usize) -> FileResidency {
    let mapping = &k.inodes[i].mapping;
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut ra_unused = 0;
    let mut nr_dirty = 0;
    for id in mapping.iter() {
        let fo = k.folios.get(id);
        let used = crate::mm::folio::PG_REFERENCED | crate::mm::folio::PG_ACTIVE;
        if fo.flags & used == 0 && fo.flags & crate::mm::folio::PCSIM_READ_IN != 0 {
            ra_unused += fo.nr_pages();
        }
        if fo.test(crate::mm::folio::PG_DIRTY) {
            nr_dirty += fo.nr_pages();
        }
        if k.folios.partial_blocks(id).is_some() {
            // Not uptodate: mincore does not report it.
            continue;
        }
        let (a, b) = (fo.index(), fo.next_index() - 1);
        match ranges.last_mut() {
            Some(r) if r.1 + 1 == a => r.1 = b,
            _ => ranges.push((a, b)),
        }
    }
    FileResidency {
        name: k.inodes[i].name.to_string(),
        size_pages: k.inodes[i].size.div_ceil(4096),
        nr_cache: mapping.nrpages,
        nr_dirty,
        ranges,
        ra_unused,
    }
}

/// The reclaim, workingset and writeback counters, named as in /proc/vmstat.
fn counters(k: &Kernel) -> Vec<(&'static str, u64)> {
    let vm = &k.vm;
    vec![
        ("nr_free_pages", k.nr_free_pages()),
        ("nr_inactive_file", k.lru.nr_pages[0]),
        ("nr_active_file", k.lru.nr_pages[1]),
        ("pgactivate", vm.pgactivate),
        ("pgdeactivate", vm.pgdeactivate),
        ("pgscan_file", vm.pgscan_file),
        ("pgsteal_file", vm.pgsteal_file),
        ("pgscan_kswapd", vm.pgscan_kswapd),
        ("pgsteal_kswapd", vm.pgsteal_kswapd),
        ("pgscan_direct", vm.pgscan_direct),
        ("pgsteal_direct", vm.pgsteal_direct),
        ("allocstall_movable", vm.allocstall_movable),
        ("pageoutrun", vm.pageoutrun),
        ("kswapd_low_wmark_hit_quickly", vm.kswapd_low_wmark_hit_quickly),
        ("kswapd_high_wmark_hit_quickly", vm.kswapd_high_wmark_hit_quickly),
        ("workingset_refault_file", k.ws.workingset_refault_file),
        ("workingset_activate_file", k.ws.workingset_activate_file),
        ("workingset_restore_file", k.ws.workingset_restore_file),
        ("workingset_nodes", k.ws.shadow_nodes.len()),
        ("workingset_nodereclaim", k.ws.shadow_nodes.nodereclaim),
        ("pgmajfault", k.vm.pgmajfault),
        ("pgpgin", k.vm.pgpgin),
        ("nr_dirtied", k.vm.nr_dirtied),
        ("nr_written", k.wb.nr_written),
    ]
}
