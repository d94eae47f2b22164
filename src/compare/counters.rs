//! Counter checks for memory-pressure runs (issue 4's bounds) and the agreement of eviction order.
//!
//! A model counter passes when it lies inside the range the kernel's runs span, widened by a tolerance times their
//! median and at least by one reclaim batch (SWAP_CLUSTER_MAX, 32 pages; 128 KiB for KiB counters): counts below
//! a batch are noise (mmap_hot_vs_stream's kernel refaults were 24, 1 and 3).
//!
//! The kernel's `pgpgin` is host-wide and counts the scratch loop device's reads twice (the loop device and its
//! backing disk), so reads are compared as `read_kib`: KiB of read requests completed on the scenario's devices,
//! taken from the `block_rq_complete` events of each side.

use serde::Serialize;

use super::input::Input;
use super::Group;
use crate::trace::event::EventKind;
use crate::trace::log::Log;

/// Counters checked on memory-pressure runs (names as in /proc/vmstat, plus `read_kib`).
pub const PRESSURE_COUNTERS: [&str; 4] =
    ["workingset_refault_file", "workingset_activate_file", "workingset_nodereclaim", "read_kib"];

/// The smallest slack: one reclaim batch of pages (KiB counters: its size in KiB).
const MIN_SLACK_PAGES: i64 = 32;

/// One counter: the model's value, the kernel's per run, the accepted range and the verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CounterCheck {
    pub name: String,
    pub model: i64,
    pub kernel: Vec<i64>,
    pub lo: i64,
    pub hi: i64,
    pub passed: bool,
}

/// KiB of read requests completed on the log's devices.
pub fn read_kib(log: &Log) -> i64 {
    log.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::BlockRqComplete { rwbs, nr_sector, .. } if rwbs.contains('R') => Some(*nr_sector as i64 / 2),
            _ => None,
        })
        .sum()
}

fn counter(input: &Input, name: &str) -> Option<i64> {
    if name == "read_kib" {
        return Some(read_kib(&input.log));
    }
    input.vmstat.as_ref()?.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// The accepted range for a model counter given the kernel's runs.
pub fn accepted_range(name: &str, kernel: &[i64], tolerance: f64) -> (i64, i64) {
    let mut k = kernel.to_vec();
    k.sort_unstable();
    let median = k[k.len() / 2];
    let floor = if name.ends_with("_kib") { MIN_SLACK_PAGES * 4 } else { MIN_SLACK_PAGES };
    let slack = ((median as f64 * tolerance) as i64).max(floor);
    (k[0] - slack, k[k.len() - 1] + slack)
}

/// Checks each of `names` present on the model's side and in every probe run.
pub fn check_counters(sim: &Input, probes: &[Input], names: &[&str], tolerance: f64) -> Vec<CounterCheck> {
    names
        .iter()
        .filter_map(|&name| {
            let model = counter(sim, name)?;
            let kernel: Vec<i64> = probes.iter().map(|p| counter(p, name)).collect::<Option<_>>()?;
            if kernel.is_empty() {
                return None;
            }
            let (lo, hi) = accepted_range(name, &kernel, tolerance);
            Some(CounterCheck { name: name.to_string(), model, kernel, lo, hi, passed: model >= lo && model <= hi })
        })
        .collect()
}

/// How the order of evictions (mm_filemap_delete_from_page_cache) agrees: the model against each kernel run, and
/// the kernel's runs among themselves (in-order agreement, longest common subsequence per file). The kernel is
/// deterministic here when its runs agree fully.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvictionOrder {
    /// Per probe run, the model's in-order agreement (0..1).
    pub model: Vec<f64>,
    /// The least agreement between two kernel runs (1.0 with one run).
    pub kernel_min: f64,
    pub deletes_model: usize,
    pub deletes_kernel: Vec<usize>,
}

impl EvictionOrder {
    /// Whether the kernel repeated its eviction order exactly in every run.
    pub fn kernel_deterministic(&self) -> bool {
        self.kernel_min >= 1.0
    }
}

fn delete_agreement(a: &Log, b: &Log, work_limit: u64) -> f64 {
    let only = |l: &Log| Log {
        header: Default::default(),
        events: l
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::MmFilemapDeleteFromPageCache { .. }))
            .cloned()
            .collect(),
    };
    let r = super::compare_with_limit(&only(a), &only(b), work_limit);
    r.group(Group::Pages).map_or(1.0, |g| g.in_order)
}

fn deletes(l: &Log) -> usize {
    l.events.iter().filter(|e| matches!(e.kind, EventKind::MmFilemapDeleteFromPageCache { .. })).count()
}

/// Eviction-order agreement, or None when neither side evicted anything.
pub fn eviction_order(sim: &Input, probes: &[Input], work_limit: u64) -> Option<EvictionOrder> {
    let deletes_kernel: Vec<usize> = probes.iter().map(|p| deletes(&p.log)).collect();
    let deletes_model = deletes(&sim.log);
    if deletes_model == 0 && deletes_kernel.iter().all(|&n| n == 0) {
        return None;
    }
    let model = probes.iter().map(|p| delete_agreement(&sim.log, &p.log, work_limit)).collect();
    let mut kernel_min: f64 = 1.0;
    for i in 0..probes.len() {
        for j in i + 1..probes.len() {
            kernel_min = kernel_min.min(delete_agreement(&probes[i].log, &probes[j].log, work_limit));
        }
    }
    Some(EvictionOrder { model, kernel_min, deletes_model, deletes_kernel })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_the_kernels_widened_by_the_tolerance_or_a_batch() {
        // Median 3776, 10%: 377.
        assert_eq!(accepted_range("workingset_activate_file", &[3776, 3808, 3744], 0.10), (3744 - 377, 3808 + 377));
        // Near zero the floor of one batch applies.
        assert_eq!(accepted_range("workingset_refault_file", &[24, 1, 3], 0.10), (1 - 32, 24 + 32));
        assert_eq!(accepted_range("read_kib", &[1000], 0.10), (1000 - 128, 1000 + 128));
    }
}
