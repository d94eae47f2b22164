//! Write-side simulation speed (figures in docs/PERFORMANCE.md).
//!
//! - `throttled_writer`: 4 GiB written in 128 KiB calls to a device limited to 64 MiB/s with dirty_bytes 64 MiB:
//!   about 64 s of simulated time, the writer paced by balance_dirty_pages and the flusher writing behind it.
//!   Issue 5's goal: a 60 s throttled writer simulates in under 0.6 s (100x real time), events off.
//!
//! `cargo bench --bench write_path`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use pcsim::bench;

fn throttled_writer(c: &mut Criterion) {
    let mut g = c.benchmark_group("throttled_writer");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    let sc = bench::throttled_writer(4 << 30);
    let simulated = bench::run(&sc).end.0 as f64 / 1e9;
    eprintln!("throttled_writer: {simulated:.1} s simulated per iteration");
    g.bench_function(BenchmarkId::new("write_128k_4GiB", "64MiB/s"), |b| b.iter(|| bench::run(&sc)));
    g.finish();
}

criterion_group!(benches, throttled_writer);
criterion_main!(benches);
