//! Every bundled scenario loads, streams a finite, deterministic op sequence, and the validation set keeps the
//! shape its probe runs rely on (small cold files, the default readahead unless the name says otherwise).

use pcsim::scenario::{InitialState, Scenario};
use pcsim::trace::op::{Fd, Op};
use std::path::{Path, PathBuf};

/// The bundled scenarios, without scenarios/scale/ (10^7 to 10^9 ops and up to 1 TiB cached: minutes each, run by
/// `pcsim bench`; `scale_scenarios_load_and_are_the_bench_cases` checks them).
fn ron_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.ends_with("scenarios/scale") {
            continue;
        }
        if path.is_dir() {
            ron_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "ron") {
            out.push(path);
        }
    }
}

fn bundled() -> Vec<PathBuf> {
    let mut files = Vec::new();
    ron_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"), &mut files);
    files.sort();
    files
}

fn load(rel: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(rel);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// All ops of task 0 (the bundled scenarios are small).
fn ops(s: &Scenario) -> Vec<Op> {
    let ops: Vec<Op> = s.ops(0).take(1_000_001).collect();
    assert!(ops.len() <= 1_000_000, "{}: task 0 looks endless", s.name);
    ops
}

fn offsets(ops: &[Op]) -> Vec<u64> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Pread { off, .. } | Op::Touch { off, .. } => Some(*off),
            _ => None,
        })
        .collect()
}

#[test]
fn every_bundled_scenario_loads_and_streams_deterministically() {
    let files = bundled();
    assert!(files.len() >= 21, "{files:?}");
    for path in files {
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.source, path.display().to_string());
        assert_eq!(s.sha256.len(), 64);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("// "), "{}: first line must say what it checks", path.display());
        for t in 0..s.tasks.len() {
            let a: Vec<Op> = s.ops(t).take(1_000_001).collect();
            assert!(!a.is_empty() && a.len() <= 1_000_000, "{}: task {t}", path.display());
            assert_eq!(a, s.ops(t).collect::<Vec<_>>(), "{}: task {t} is not deterministic", path.display());
        }
    }
}

#[test]
fn validation_scenarios_are_small_and_cold() {
    for path in bundled().into_iter().filter(|p| p.parent().unwrap().ends_with("validation")) {
        let s = Scenario::load(&path).unwrap();
        for f in &s.files {
            assert!(f.size <= 64 << 20, "{}: {} is too big for a quick probe run", s.name, f.name);
            if s.name != "reread_partial_cached" {
                assert_eq!(f.state, InitialState::Cold, "{}", s.name);
            }
        }
        let ra = s.devices[0].read_ahead_kb;
        match s.name.as_str() {
            "ra_kb_2048" => assert_eq!(ra, 2048),
            _ => assert_eq!(ra, 128, "{}", s.name),
        }
        assert_eq!(path.file_stem().unwrap().to_str(), Some(s.name.as_str()));
    }
}

#[test]
fn sequential_reads_cover_the_file() {
    for (name, count, len) in
        [("seq_read_4k", 16384, 4096), ("seq_read_64k", 1024, 65536), ("seq_read_1m", 64, 1 << 20)]
    {
        let s = load(&format!("validation/{name}.ron"));
        let ops = ops(&s);
        assert_eq!(ops.len(), count + 2, "{name}");
        assert!(ops[1..=count].iter().all(|op| *op == Op::Read { fd: Fd(0), len }), "{name}");
        assert_eq!(count as u64 * len, s.files[0].size);
    }
    let q = ops(&load("quickstart.ron"));
    assert_eq!((q.len(), q.last()), (16386, Some(&Op::Close { fd: Fd(0) })));
}

#[test]
fn pattern_scenarios_have_their_shape() {
    let rev = offsets(&ops(&load("validation/reverse_read.ron")));
    assert_eq!(rev.len(), 4096);
    assert_eq!((rev[0], rev[1], rev[4095]), ((16 << 20) - 4096, (16 << 20) - 8192, 0));

    let strided = offsets(&ops(&load("validation/strided_read.ron")));
    assert_eq!(strided.len(), 1024);
    assert!(strided.iter().enumerate().all(|(i, &o)| o == i as u64 * 65536));

    let random = ops(&load("validation/random_read.ron"));
    let offs = offsets(&random);
    assert_eq!(offs.len(), 2000);
    assert!(offs.iter().all(|&o| o % 4096 == 0 && o < 64 << 20));
    assert!(random.iter().all(|op| !matches!(op, Op::Pread { len, .. } if *len != 4096)));

    let one = offsets(&ops(&load("validation/interleaved_one_fd.ron")));
    assert_eq!(one.len(), 16384);
    assert_eq!(one[..4], [0, 32 << 20, 4096, (32 << 20) + 4096]);

    let two = ops(&load("validation/interleaved_two_fds.ron"));
    assert_eq!(two[3..5], [Op::Read { fd: Fd(0), len: 4096 }, Op::Read { fd: Fd(1), len: 4096 }]);
    assert_eq!(two.iter().filter(|op| matches!(op, Op::Read { .. })).count(), 16384);

    let mseq = offsets(&ops(&load("validation/mmap_seq.ron")));
    assert_eq!((mseq.len(), mseq[1], mseq[16383]), (16384, 4096, (64 << 20) - 4096));
    for name in ["mmap_random", "mmap_random_madv_random"] {
        let s = load(&format!("validation/{name}.ron"));
        assert_eq!(offsets(&ops(&s)).len(), 2000, "{name}");
    }
    // Same seed, same program: the MADV_RANDOM variant touches exactly the pages mmap_random does.
    assert_eq!(
        offsets(&ops(&load("validation/mmap_random.ron"))),
        offsets(&ops(&load("validation/mmap_random_madv_random.ron")))
    );

    let small = ops(&load("validation/small_file.ron"));
    assert_eq!(small.iter().filter(|op| matches!(op, Op::Read { .. })).count(), 11);

    let partial = load("validation/reread_partial_cached.ron");
    assert_eq!(partial.files[0].state, InitialState::CachedRange { off: 0, len: 400 << 10 });
}

#[test]
fn the_documented_example_is_valid() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/SCENARIO.md")).unwrap();
    let start = doc.find("```ron\n").expect("docs/SCENARIO.md has a ```ron example") + "```ron\n".len();
    let text = &doc[start..start + doc[start..].find("```").unwrap()];
    let s = Scenario::parse(text, "docs/SCENARIO.md").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.name.as_str(), s.seed, s.tasks.len()), ("example", 7, 2));
    assert_eq!(s.sysctls.dirty_background_ratio, 5);
    assert_eq!(s.sysctls.explicit().len(), 2);
    // (256m + 8m + 16m) * 5/4 + 64m.
    assert_eq!(s.devices[0].size, 414 << 20);
    let logger: Vec<Op> = s.ops(1).collect();
    // Open, Lseek, then (write, sleep) x 4096 with an fsync after every 64th write, Close.
    assert_eq!(logger.len(), 1 + 1 + 4096 * 2 + 64 + 1);
    assert_eq!(logger[2], Op::Write { fd: Fd(0), len: 16384 });
    // The model runs it (check and run refuse what only the probe can run).
    assert!(s.model_refusal.is_none(), "{:?}", s.model_refusal);
    let r = pcsim::sim::simulate(&s, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.tasks.len(), 2);
}

/// scenarios/scale/ holds issue 16's scale scenarios, each the text `pcsim bench` runs for its case at full scale
/// (`bench::cases::scale_scenarios`; `PCSIM_BLESS_SCALE=1` rewrites the files from it). Too big to run here, each
/// is loaded as `pcsim check` loads it, the model accepts it, and its first ops stream; the op streams are lazy,
/// so a 10^9-op generator costs no more to start than a small one.
#[test]
fn scale_scenarios_load_and_are_the_bench_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/scale");
    let cases = pcsim::bench::cases::scale_scenarios();
    if std::env::var_os("PCSIM_BLESS_SCALE").is_some() {
        for (stem, text) in &cases {
            std::fs::write(dir.join(format!("{stem}.ron")), text).unwrap();
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = cases.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(on_disk, names, "scenarios/scale/ holds exactly the scale cases");
    for (stem, text) in &cases {
        let path = dir.join(format!("{stem}.ron"));
        let file = std::fs::read_to_string(&path).unwrap();
        assert!(
            file == *text,
            "{}: differs from the bench case; PCSIM_BLESS_SCALE=1 cargo test --test scenario_bundled",
            path.display()
        );
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.model_refusal.is_none(), "{stem}: {:?}", s.model_refusal);
        assert_eq!(s.name, *stem);
        let first: Vec<Op> = s.ops(0).take(1000).collect();
        assert_eq!(first.len(), 1000, "{stem}");
        assert!(offsets(&first).iter().all(|&o| o % 4096 == 0), "{stem}");
        let cached: u64 = s.files.iter().filter(|f| f.state == InitialState::Cached).map(|f| f.size).sum();
        let gib = |n: u64| n << 30;
        match *stem {
            "rand_10g" | "zipf_10g" => assert_eq!(cached, gib(10)),
            "rand_100g" | "zipf_100g" => assert_eq!(cached, gib(100)),
            "miss_10g_mem4g" => assert_eq!((cached, s.files[0].size), (0, gib(10))),
            "host_1t_64k_files" => assert_eq!((s.files.len(), cached), (65_535, 65_535 * (16 << 20))),
            "zipf_stream_1e9" => assert_eq!(cached, gib(1)),
            other => panic!("{other}: give its shape here"),
        }
    }
    let stream = &cases.iter().find(|(n, _)| *n == "zipf_stream_1e9").unwrap().1;
    assert!(stream.contains("count: 1000000000"), "{stream}");
}
