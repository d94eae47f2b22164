//! The model driven by arbitrary op sequences: the bytes choose a machine, two files and up to three tasks of ops
//! (reads, writes, mappings, fadvise, truncation, syncs...), written as a scenario and run; the run must finish
//! (the model's invariants are checked at its end in builds with debug assertions: `cargo fuzz run -a`) or refuse
//! the scenario with an error, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

const SIZES: [&str; 8] = ["1", "512", "4k", "12k", "64k", "1m", "3m", "16m"];

fn op(b: &[u8], fd: &str) -> String {
    let g = |i: usize| b.get(i).copied().unwrap_or(0);
    let s = |i: usize| SIZES[g(i) as usize % SIZES.len()];
    match b[0] % 16 {
        0 => format!("Read(fd: \"{fd}\", len: \"{}\")", s(1)),
        1 => format!("Pread(fd: \"{fd}\", off: \"{}\", len: \"{}\")", s(1), s(2)),
        2 => format!("Write(fd: \"{fd}\", len: \"{}\")", s(1)),
        3 => format!("Pwrite(fd: \"{fd}\", off: \"{}\", len: \"{}\")", s(1), s(2)),
        4 => format!("Lseek(fd: \"{fd}\", off: \"{}\", whence: Set)", s(1)),
        5 => format!("Fadvise(fd: \"{fd}\", advice: {})", ["Sequential", "Random", "WillNeed", "DontNeed"][g(1) as usize % 4]),
        6 => format!("Fsync(fd: \"{fd}\")"),
        7 => format!("Ftruncate(fd: \"{fd}\", len: \"{}\")", s(1)),
        8 => format!("Madvise(map: \"m{fd}\", len: \"{}\", advice: {})", s(1), ["Sequential", "Random", "WillNeed"][g(2) as usize % 3]),
        9 => format!("Touch(map: \"m{fd}\", off: \"{}\", len: \"{}\", write: {})", s(1), s(2), g(3) & 1 == 1),
        10 => format!("Sleep(\"{}ms\")", g(1).max(1)),
        11 => format!("Readahead(fd: \"{fd}\", off: \"{}\", len: \"{}\")", s(1), s(2)),
        12 => "Sync".to_string(),
        13 => format!("Generate(fd: \"{fd}\", pattern: Random, block: \"4k\", count: {})", g(1).max(1)),
        14 => format!("Cachestat(fd: \"{fd}\", off: 0, len: \"{}\")", s(1)),
        _ => format!("Fdatasync(fd: \"{fd}\")"),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let memory = ["64m", "256m", "1g"][data[0] as usize % 3];
    let memcg = if data[1] & 1 == 1 { ", memcg_limit: \"32m\"" } else { "" };
    let mut tasks = Vec::new();
    for (t, chunk) in data[2..].chunks(64).take(3).enumerate() {
        let fd = if t % 2 == 0 { "a" } else { "b" };
        let ops: Vec<String> = chunk.chunks(4).map(|b| op(b, fd)).collect();
        tasks.push(format!(
            "(name: \"t{t}\", ops: [Open(file: \"{fd}\", flags: [RDWR]), Mmap(fd: \"{fd}\", map: \"m{fd}\", \
             len: \"2m\", write: true), {}, Close(fd: \"{fd}\")])",
            ops.join(", ")
        ));
    }
    let text = format!(
        "Scenario(name: \"fuzz\", machine: (memory: \"{memory}\"{memcg}), devices: [(name: \"d\")], \
         files: [(name: \"a\", size: \"2m\"), (name: \"b\", size: \"8m\")], tasks: [{}])",
        tasks.join(", ")
    );
    let sc = match pcsim::scenario::Scenario::parse(&text, "fuzz") {
        Ok(sc) => sc,
        Err(_) => return,
    };
    let _ = pcsim::sim::simulate(&sc, &pcsim::sim::SimOptions { events: true, ..Default::default() });
});
