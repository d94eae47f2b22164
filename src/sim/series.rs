//! The model's `vmstat_series.txt`: nr_dirty, nr_writeback and each device's writeback counters every 100 ms of
//! simulated time, in the probe's keys and units (trace::series), so the two sides plot and compare alike.

use std::collections::BTreeMap;

use crate::kernel::Kernel;
use crate::trace::series::{Sample, Series};
use crate::units::Nanos;

/// The series' sampling interval (the probe's).
pub const SERIES_INTERVAL_NS: u64 = 100_000_000;

/// An empty series with the probe's header for a run of `scenario` on `devices`.
pub(crate) fn new_series(scenario: &str, devices: &[&str]) -> Series {
    let mut header = BTreeMap::new();
    header.insert("devices".to_string(), devices.join(","));
    header.insert("interval_ns".to_string(), SERIES_INTERVAL_NS.to_string());
    header.insert("scenario".to_string(), scenario.to_string());
    header.insert("source".to_string(), "pcsim".to_string());
    Series { header, samples: Vec::new() }
}

/// One vmstat_series sample of the model's state, in the probe's keys and units.
pub(crate) fn series_sample(k: &mut Kernel, at: Nanos) -> Sample {
    k.complete_writeback(at);
    let mut values = BTreeMap::new();
    values.insert("nr_dirty".to_string(), k.vm.nr_dirty);
    values.insert("nr_writeback".to_string(), k.wb.nr_writeback);
    values.insert("nr_dirtied".to_string(), k.vm.nr_dirtied);
    values.insert("nr_written".to_string(), k.wb.nr_written);
    let mem = k.dirtyable_memory();
    let (bg, thresh) = crate::mm::page_writeback::global_dirty_limits(&mem, &k.wb.vm, false, &k.wb.dom);
    values.insert("dirty_thresh_kb".to_string(), thresh * 4);
    values.insert("background_thresh_kb".to_string(), bg * 4);
    for (w, dev) in k.wb.wbs.iter().zip(&k.devices) {
        values.insert(format!("{}.reclaimable_kb", dev.name), w.wb_reclaimable * 4);
        values.insert(format!("{}.writeback_kb", dev.name), w.wb_writeback * 4);
        values.insert(format!("{}.dirtied_kb", dev.name), w.wb_dirtied * 4);
        values.insert(format!("{}.written_kb", dev.name), w.wb_written * 4);
        values.insert(
            format!("{}.write_bw_kbps", dev.name),
            crate::mm::page_writeback::kbps(w.pg.bw.avg_write_bandwidth),
        );
    }
    Sample { time: at, values }
}
