//! `pcsim bench`'s cases (docs/PERFORMANCE.md "Scale (issue 16)"): the workloads of `cargo bench` (hit path, cold
//! sequential, memcg pressure, throttled writer), the scale scenarios of issue 16 (scenarios/scale/, whose files are
//! [`scale_scenarios`] at full scale, checked by tests/scenario_bundled.rs), and three structure measurements (bytes
//! per order-0 and order-9 folio, per shadow entry).
//!
//! Every case has two sizes: `Full` (the figures) and `Tiny` (a test runs every case in seconds).

/// A case's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Small enough that a debug-build test runs every case in seconds.
    Tiny,
    /// The sizes the figures are measured at (issue 16's).
    Full,
}

impl Scale {
    /// `full` or `tiny`.
    pub fn parse(s: &str) -> Option<Scale> {
        match s {
            "tiny" => Some(Scale::Tiny),
            "full" => Some(Scale::Full),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::Tiny => "tiny",
            Scale::Full => "full",
        }
    }

    fn pick(self, tiny: u64, full: u64) -> u64 {
        match self {
            Scale::Tiny => tiny,
            Scale::Full => full,
        }
    }
}

/// What a case measures.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A scenario simulated with events off (the text of a RON scenario).
    Run {
        scenario: fn(Scale) -> String,
        /// Every cached folio is order 0 (files set up `Cached`, no readahead), so bytes per cached page are bytes
        /// per folio.
        order0: bool,
    },
    /// The folio slab and page index of N folios of this order (`bench::structure_bytes`).
    Folios { order: u8 },
    /// An address space holding N shadow entries (`bench::shadow_bytes`).
    Shadows,
}

/// One case of `pcsim bench`.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// Its name on the command line (`--case NAME`) and in the table.
    pub name: &'static str,
    /// One line: the workload at full scale.
    pub what: &'static str,
    pub kind: Kind,
}

impl Case {
    /// Structures built by a `Folios` or `Shadows` case.
    pub fn structures(&self, scale: Scale) -> u64 {
        scale.pick(4096, 1 << 20)
    }
}

const fn run(name: &'static str, what: &'static str, scenario: fn(Scale) -> String, order0: bool) -> Case {
    Case { name, what, kind: Kind::Run { scenario, order0 } }
}

/// Every case, in the table's order.
pub const CASES: &[Case] = &[
    run("hit-64m-seq", "4 KiB preads cycling over a 64 MiB cached file, 20M ops", hit_64m_seq, true),
    run("hit-64m-rand", "random 4 KiB preads over a 64 MiB cached file, 20M ops", hit_64m_rand, true),
    run("cold-seq-ra128", "4 KiB reads of a cold 4 GiB file, read_ahead_kb 128, 1M ops", cold_ra128, false),
    run("cold-seq-ra2048", "4 KiB reads of a cold 4 GiB file, read_ahead_kb 2048, 1M ops", cold_ra2048, false),
    run("pressure-memcg64m", "4 KiB reads of a cold 4 GiB file in a 64 MiB memcg, 1M ops", pressure, false),
    run("writer-throttled", "4 GiB of 128 KiB writes to a 64 MiB/s device, dirty_bytes 64 MiB", writer, false),
    run("rand-10g", "random 4 KiB pread hits, 10 GiB cached, 20M ops", rand_10g, true),
    run("zipf-10g", "zipf(1.0) 4 KiB pread hits, 10 GiB cached, 20M ops", zipf_10g, true),
    run("rand-100g", "random 4 KiB pread hits, 100 GiB cached, 20M ops", rand_100g, true),
    run("zipf-100g", "zipf(1.0) 4 KiB pread hits, 100 GiB cached, 20M ops", zipf_100g, true),
    run("miss-10g-mem4g", "random 4 KiB preads, 10 GiB file, 4 GiB memory (readahead, reclaim), 20M ops", miss, false),
    run("host-1t", "1 TiB cached in 65535 files of 16 MiB: set-up + 1M random hits", host_1t, true),
    run("zipf-stream-1e7", "zipf(0.99) 4 KiB pread hits over 1 GiB cached, 10^7 ops", stream_1e7, true),
    run("zipf-stream-1e8", "zipf(0.99) 4 KiB pread hits over 1 GiB cached, 10^8 ops", stream_1e8, true),
    Case { name: "mem-order0", what: "slab + page index of 2^20 order-0 folios", kind: Kind::Folios { order: 0 } },
    Case { name: "mem-order9", what: "slab + page index of 2^20 order-9 folios", kind: Kind::Folios { order: 9 } },
    Case { name: "mem-shadow", what: "an address space holding 2^20 shadow entries", kind: Kind::Shadows },
];

/// The case called `name`.
pub fn case(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.name == name)
}

/// One task doing `count` 4 KiB preads of one file with a generator's `pattern`.
pub struct Hits<'a> {
    pub name: &'a str,
    /// The file's first line (after `// `): what the scenario measures.
    pub comment: &'a str,
    pub memory: &'a str,
    pub size: &'a str,
    /// `Cached` or `Cold`.
    pub state: &'a str,
    pub pattern: &'a str,
    pub count: u64,
}

/// The scenario text of [`Hits`] (issue 16's `big_rand` with its fields as parameters).
pub fn hits_text(h: &Hits) -> String {
    format!(
        r#"// {comment}
Scenario(
    name: "{name}",
    seed: 7,
    machine: (memory: "{memory}", cpus: 2),
    devices: [(name: "disk0", read_ahead_kb: 128)],
    files: [(name: "data", size: "{size}", state: {state})],
    tasks: [(name: "reader", ops: [
        Open(file: "data"),
        Generate(fd: "data", pattern: {pattern}, block: "4k", count: {count}),
        Close(fd: "data"),
    ])],
)
"#,
        comment = h.comment,
        name = h.name,
        memory = h.memory,
        size = h.size,
        state = h.state,
        pattern = h.pattern,
        count = h.count
    )
}

/// `pcsim bench --vs-kernel`'s model side: random 4 KiB pread hits over a cached file of `size` bytes, `count` ops,
/// on a machine with room for it (24 GiB, or the file and 4 GiB more). The kernel side runs the same offsets (this
/// scenario's op stream).
pub fn vs_kernel_text(size: u64, count: u64) -> String {
    let memory = format!("{}m", (24 << 10).max((size >> 20) + (4 << 10)));
    hits_text(&Hits {
        name: "vs_kernel",
        comment: "pcsim bench --vs-kernel: random 4 KiB pread hits over a cached file",
        memory: &memory,
        size: &size.to_string(),
        state: "Cached",
        pattern: "Random",
        count,
    })
}

fn hit_64m_seq(s: Scale) -> String {
    sequential_hits("hit_64m_seq", s.pick(1 << 20, 64 << 20), s.pick(10_000, 20_000_000))
}

/// `bench::hit_path`'s scenario, as text.
fn sequential_hits(name: &str, size: u64, count: u64) -> String {
    hits_text(&Hits {
        name,
        comment: "4 KiB preads cycling over a cached file",
        memory: "16g",
        size: &size.to_string(),
        state: "Cached",
        pattern: "Sequential",
        count,
    })
}

fn hit_64m_rand(s: Scale) -> String {
    let size = s.pick(1 << 20, 64 << 20).to_string();
    let comment = "random 4 KiB pread hits over a cached file";
    let count = s.pick(10_000, 20_000_000);
    hits_text(&Hits {
        name: "hit_64m_rand",
        comment,
        memory: "16g",
        size: &size,
        state: "Cached",
        pattern: "Random",
        count,
    })
}

fn cold_ra128(s: Scale) -> String {
    cold(s, 128)
}

fn cold_ra2048(s: Scale) -> String {
    cold(s, 2048)
}

/// `bench::cold_sequential`'s scenario (its text: the case runs in another process).
fn cold(s: Scale, ra_kb: u32) -> String {
    super::cold_sequential_text(s.pick(4096, 1 << 20), ra_kb)
}

fn pressure(s: Scale) -> String {
    super::pressure_stream_text(s.pick(32768, 1 << 20))
}

fn writer(s: Scale) -> String {
    super::throttled_writer_text(s.pick(64 << 20, 4 << 30))
}

/// Issue 16's hit scenarios: `pattern` over a cached file of `size_gib`.
fn scale_hits(name: &str, size_gib: u64, pattern: &str, s: Scale) -> String {
    let (size, memory) = match s {
        Scale::Tiny => ("4m".to_string(), "1g".to_string()),
        Scale::Full => (format!("{size_gib}g"), if size_gib > 16 { "128g" } else { "24g" }.to_string()),
    };
    let what = if pattern == "Random" { "random" } else { "zipf(1.0)" };
    let comment = format!(
        "issue 16 scale: {what} 4 KiB pread hits over a {size_gib} GiB cached file, 20M ops (pcsim bench --case {})",
        name.replace('_', "-")
    );
    let count = s.pick(10_000, 20_000_000);
    hits_text(&Hits { name, comment: &comment, memory: &memory, size: &size, state: "Cached", pattern, count })
}

fn rand_10g(s: Scale) -> String {
    scale_hits("rand_10g", 10, "Random", s)
}

fn zipf_10g(s: Scale) -> String {
    scale_hits("zipf_10g", 10, "Zipfian(theta: 1.0)", s)
}

fn rand_100g(s: Scale) -> String {
    scale_hits("rand_100g", 100, "Random", s)
}

fn zipf_100g(s: Scale) -> String {
    scale_hits("zipf_100g", 100, "Zipfian(theta: 1.0)", s)
}

fn miss(s: Scale) -> String {
    let (size, memory) = match s {
        Scale::Tiny => ("256m", "64m"),
        Scale::Full => ("10g", "4g"),
    };
    hits_text(&Hits {
        name: "miss_10g_mem4g",
        comment: "issue 16 scale: random 4 KiB preads over a cold 10 GiB file with 4 GiB of memory: a miss, \
                  readahead and reclaim on most ops, 20M ops (pcsim bench --case miss-10g-mem4g)",
        memory,
        size,
        state: "Cold",
        pattern: "Random",
        count: s.pick(10_000, 20_000_000),
    })
}

fn stream(s: Scale, count: u64) -> String {
    hits_text(&Hits {
        name: "zipf_stream_1e9",
        comment: "issue 16 scale: a 10^9-op zipf(0.99) stream of 4 KiB pread hits over a 1 GiB cached file, \
                  generated as it runs: memory does not grow with the op count (pcsim bench --case \
                  zipf-stream-1e7 and zipf-stream-1e8 compare two counts)",
        memory: "4g",
        size: if s == Scale::Tiny { "4m" } else { "1g" },
        state: "Cached",
        pattern: "Zipfian(theta: 0.99)",
        count,
    })
}

fn stream_1e7(s: Scale) -> String {
    stream(s, s.pick(10_000, 10_000_000))
}

fn stream_1e8(s: Scale) -> String {
    stream(s, s.pick(100_000, 100_000_000))
}

/// A host of `memory` with `files` files of `size` cached, one task doing `hits` random 4 KiB preads on the first
/// file and as many on the last.
fn host_text(files: u64, size: &str, memory: &str, hits: u64) -> String {
    let mut t = String::with_capacity(files as usize * 48 + 1024);
    t.push_str(
        "// issue 16 scale: a 1 TiB page cache in 65535 files of 16 MiB (the model's limit is 65535 files per \
         scenario: a folio names its file in a u16), 268M order-0 folios: set-up, then 500k random 4 KiB pread hits \
         on the first file and on the last (pcsim bench --case host-1t)\n",
    );
    t.push_str(&format!(
        "Scenario(\n    name: \"host_1t_64k_files\",\n    seed: 7,\n    machine: (memory: \"{memory}\", cpus: 2),\n    \
         devices: [(name: \"disk0\", read_ahead_kb: 128)],\n    files: [\n"
    ));
    for i in 0..files {
        t.push_str(&format!("        (name: \"f{i:05}\", size: \"{size}\", state: Cached),\n"));
    }
    t.push_str("    ],\n    tasks: [(name: \"reader\", ops: [\n");
    for f in [0, files - 1] {
        t.push_str(&format!(
            "        Open(file: \"f{f:05}\"),\n        Generate(fd: \"f{f:05}\", pattern: Random, block: \"4k\", \
             count: {hits}),\n        Close(fd: \"f{f:05}\"),\n"
        ));
    }
    t.push_str("    ])],\n)\n");
    t
}

fn host_1t(s: Scale) -> String {
    match s {
        Scale::Tiny => host_text(1000, "64k", "1g", 5000),
        Scale::Full => host_text(65_535, "16m", "1100g", 500_000),
    }
}

/// The files of scenarios/scale/ (file stem, text): the scale cases at full scale, and the 10^9-op stream.
pub fn scale_scenarios() -> Vec<(&'static str, String)> {
    let f = Scale::Full;
    vec![
        ("rand_10g", rand_10g(f)),
        ("zipf_10g", zipf_10g(f)),
        ("rand_100g", rand_100g(f)),
        ("zipf_100g", zipf_100g(f)),
        ("miss_10g_mem4g", miss(f)),
        ("host_1t_64k_files", host_1t(f)),
        ("zipf_stream_1e9", stream(f, 1_000_000_000)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn every_case_parses_at_both_scales() {
        for c in CASES {
            if let Kind::Run { scenario, .. } = c.kind {
                for s in [Scale::Tiny, Scale::Full] {
                    if c.name == "host-1t" && s == Scale::Full {
                        continue; // 65535 files: tests/scenario_bundled.rs loads it once
                    }
                    Scenario::parse(&scenario(s), c.name).unwrap_or_else(|e| panic!("{} {s:?}: {e}", c.name));
                }
            }
        }
        assert_eq!(CASES.iter().filter(|c| case(c.name).is_some()).count(), CASES.len());
        let v = Scenario::parse(&vs_kernel_text(1 << 30, 100), "vs").unwrap();
        assert_eq!(v.files[0].size, 1 << 30);
    }
}
