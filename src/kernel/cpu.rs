//! What a task's CPU time costs in wall time on this host: a buffered writer's 128 KiB write(2)s take 20-21 us
//! when nothing interrupts them, and now and then much longer, when its CPU serves something else (the flusher, the
//! loop worker, completions in softirq; 2 CPUs). The model draws those stalls from their distribution on the host:
//! the time from one `writeback_dirty_folio` of the writer to the next in traces/write/buffered_1g (order-5 folios,
//! one per write(2); gaps under 1 ms, 3 runs, 24400 writes), less 20 us:
//!
//! | quantile | 0.5 | 0.75 | 0.9 | 0.95 | 0.98 | 0.99 | 0.995 | 0.999 |
//! |---|---|---|---|---|---|---|---|---|
//! | gap (us) | 21 | 22 | 23-24 | 25-27 | 35-40 | 48-53 | 58-80 | 569-679 |
//!
//! One draw per 32 pages written (a fractional one with that probability), from the table below by linear
//! interpolation between its quantiles: mean 4.1 us, so 0.754 us per page written on average, with the host's tail.
//! Besides the realism of the spread, it matters to the throttle: without it the writer's time from a pause's end
//! to its next throttled pass is the same every time, so its passes keep one phase against the jiffy ticks and the
//! pauses that come from crossing a tick are all or none. Deterministic: each task draws from its own ChaCha stream
//! of the scenario's seed.
//!
//! A read's copy of cached pages to the user costs 400 ns per page with the same stalls: traces/write/readers_and_writer's
//! second reader, reading pages the first had cached, made its 128 KiB read(2)s 12-16 us apart (median of each run;
//! p25 11-15, p90 18-19 us in two runs). Both matter when tasks race: who reaches a folio first after a shared wait.

use rand_chacha::ChaCha8Rng;

/// A buffered write's CPU time per page without stalls (20 us per 128 KiB write on the host).
pub const WRITE_BASE_PAGE_NS: u64 = 625;
/// A read's copy to the user per page without stalls.
pub const READ_BASE_PAGE_NS: u64 = 400;
/// Pages per stall draw (a 128 KiB write).
const DRAW_PAGES: u64 = 32;
/// (cumulative probability, stall in ns), increasing; linear in between.
const STALLS: [(f64, f64); 10] = [
    (0.0, 0.0),
    (0.5, 1_000.0),
    (0.75, 2_000.0),
    (0.9, 3_500.0),
    (0.95, 6_000.0),
    (0.98, 18_000.0),
    (0.99, 30_000.0),
    (0.995, 50_000.0),
    (0.999, 600_000.0),
    (1.0, 900_000.0),
];

/// One task's stall stream.
#[derive(Clone, Debug)]
pub struct CpuStalls {
    rng: ChaCha8Rng,
}

impl CpuStalls {
    /// The stream of task `task` of a scenario seeded `seed`.
    pub fn new(seed: u64, task: usize) -> Self {
        let key = crate::rng::stream_key(seed, task as u64, u64::MAX, u64::from_le_bytes(*b"cpustall"));
        CpuStalls { rng: crate::rng::chacha(key) }
    }

    fn draw(&mut self) -> u64 {
        let u = crate::rng::unit_f64(&mut self.rng);
        let i = STALLS.iter().position(|&(q, _)| q > u).unwrap_or(STALLS.len() - 1).max(1);
        let ((q0, s0), (q1, s1)) = (STALLS[i - 1], STALLS[i]);
        (s0 + (s1 - s0) * (u - q0) / (q1 - q0)).round() as u64
    }

    /// Wall time of writing `pages` pages through the page cache: the CPU time and the stalls met meanwhile.
    pub fn write_ns(&mut self, pages: u64) -> u64 {
        self.copy_ns(pages, WRITE_BASE_PAGE_NS)
    }

    /// Wall time of copying `pages` cached pages to the user: the CPU time and the stalls met meanwhile.
    pub fn read_ns(&mut self, pages: u64) -> u64 {
        self.copy_ns(pages, READ_BASE_PAGE_NS)
    }

    fn copy_ns(&mut self, pages: u64, base: u64) -> u64 {
        let mut ns = pages * base;
        for _ in 0..pages / DRAW_PAGES {
            ns += self.draw();
        }
        let rest = pages % DRAW_PAGES;
        if rest > 0 && crate::rng::unit_f64(&mut self.rng) * (DRAW_PAGES as f64) < rest as f64 {
            ns += self.draw();
        }
        ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalls_follow_the_hosts_quantiles_and_mean() {
        let mut c = CpuStalls::new(1, 0);
        let mut v: Vec<u64> = (0..200_000).map(|_| c.write_ns(32) - 32 * WRITE_BASE_PAGE_NS).collect();
        v.sort_unstable();
        let q = |p: f64| v[(p * v.len() as f64) as usize] as f64;
        assert!((q(0.5) - 1_000.0).abs() < 50.0, "{}", q(0.5));
        assert!((q(0.99) - 30_000.0).abs() < 2_000.0, "{}", q(0.99));
        let mean = v.iter().sum::<u64>() as f64 / v.len() as f64;
        assert!((mean - 4_100.0).abs() < 300.0, "{mean}");
        // Same seed and task, same draws; another task, others.
        let (mut a, mut b) = (CpuStalls::new(7, 0), CpuStalls::new(7, 0));
        assert_eq!(
            (0..50).map(|_| a.write_ns(100)).collect::<Vec<_>>(),
            (0..50).map(|_| b.write_ns(100)).collect::<Vec<_>>()
        );
        let (mut x, mut y) = (CpuStalls::new(7, 0), CpuStalls::new(7, 1));
        assert_ne!(
            (0..50).map(|_| x.write_ns(32)).collect::<Vec<_>>(),
            (0..50).map(|_| y.write_ns(32)).collect::<Vec<_>>()
        );
    }
}
