//! Read-path throughput of the model, events off (figures in docs/PERFORMANCE.md).
//!
//! - `hit_path`: 4 KiB `pread()`s that all hit a fully cached 64 MiB file; goal ≥ 20M ops/s on one core.
//! - `cold_sequential`: 4 KiB `read()`s over a cold 4 GiB file with readahead (read_ahead_kb 128 and 2048);
//! - `pressure_stream`: the same through a 64 MiB memory cgroup (reclaim evicts as the read goes);
//!   goal ≥ 5M ops/s.
//!
//! Each iteration is one whole `simulate` of N = 1M reads; the scenarios come from `pcsim::bench`, whose unit tests
//! run them with a tiny N. `cargo bench --bench read_path` (about a minute).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use pcsim::bench;

/// Reads per simulated run.
const N: u64 = 1 << 20;

fn hit_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("hit_path");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(N));
    let sc = bench::hit_path(N, 64 << 20);
    g.bench_function(BenchmarkId::new("pread_4k_cached", "64MiB"), |b| b.iter(|| bench::run(&sc)));
    g.finish();
}

fn cold_sequential(c: &mut Criterion) {
    let mut g = c.benchmark_group("cold_sequential");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(N));
    for ra_kb in [128, 2048] {
        let sc = bench::cold_sequential(N, ra_kb);
        g.bench_function(BenchmarkId::new("read_4k_4GiB", format!("ra{ra_kb}k")), |b| b.iter(|| bench::run(&sc)));
    }
    g.finish();
}

fn pressure_stream(c: &mut Criterion) {
    let mut g = c.benchmark_group("pressure_stream");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(N));
    let sc = bench::pressure_stream(N);
    g.bench_function(BenchmarkId::new("read_4k_4GiB", "memcg64m"), |b| b.iter(|| bench::run(&sc)));
    g.finish();
}

criterion_group!(benches, hit_path, cold_sequential, pressure_stream);
criterion_main!(benches);
