//! Every way a scenario can be refused, with the position and the key words of the message pinned.
//!
//! Each case edits one line of a small valid scenario (`BASE`), so the expected line:col can be read off the text.

use pcsim::scenario::{Scenario, ScenarioError};

const BASE: &str = r#"Scenario(
    name: "t",
    machine: (memory: "1g"),
    devices: [(name: "disk0")],
    files: [(name: "data", size: "64m")],
    tasks: [(name: "reader", ops: [
        Open(file: "data"),
        Read(fd: "data", len: "4k"),
    ])],
)
"#;

/// `BASE` with line `line` (1-based) replaced by `with`.
fn edit(line: usize, with: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[line - 1] = with;
    lines.join("\n") + "\n"
}

/// `BASE` with `ops` as the task's op lines (line 7 onwards).
fn ops(ops: &[&str]) -> String {
    let mut lines: Vec<&str> = BASE.lines().take(6).collect();
    lines.extend_from_slice(ops);
    lines.extend_from_slice(&["    ])],", ")"]);
    lines.join("\n") + "\n"
}

#[track_caller]
fn refused(text: &str, line: usize, col: usize, words: &[&str]) -> ScenarioError {
    let e = match Scenario::parse(text, "case.ron") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    };
    let shown = e.to_string();
    assert_eq!((e.line, e.col), (line, col), "wrong position for: {shown}\n{text}");
    assert_eq!(e.origin, "case.ron");
    for w in words {
        assert!(shown.contains(w), "`{w}` missing from: {shown}");
    }
    e
}

#[test]
fn base_is_valid() {
    Scenario::parse(BASE, "case.ron").unwrap();
}

#[test]
fn display_is_origin_line_col_message_hint() {
    let e = refused(&edit(7, r#"        Open(file: "nosuch"),"#), 7, 20, &[]);
    assert_eq!(e.to_string(), "case.ron:7:20: unknown file `nosuch`\n  hint: the scenario's files: `data`");
    let no_hint = ScenarioError { origin: "o".into(), line: 1, col: 2, msg: "m".into(), hint: None };
    assert_eq!(no_hint.to_string(), "o:1:2: m");
}

#[test]
fn syntax_errors_use_rons_position() {
    refused(
        &edit(5, r#"    files: [(name: "data" size: "64m")],"#),
        5,
        27,
        &["expected comma", "hint: a comma may be missing"],
    );
    let unclosed = BASE.trim_end().trim_end_matches(')').to_string();
    refused(&unclosed, 9, 9, &["unexpected end of file", "never closed"]);
}

#[test]
fn unknown_field_lists_the_expected_fields() {
    refused(
        &edit(4, r#"    devices: [(name: "disk0", read_ahead: 256)],"#),
        4,
        31,
        &["unknown field `read_ahead` in `Device`", "did you mean `read_ahead_kb`?", "`queue_depth`"],
    );
    refused(&edit(7, r#"        Open(file: "data", mode: "r"),"#), 7, 28, &["unknown field `mode`", "`flags`"]);
    refused(&edit(7, r#"        Opne(file: "data"),"#), 7, 9, &["unknown variant `Opne`", "did you mean `Open`?"]);
}

#[test]
fn negative_sizes_and_bad_units() {
    refused(&edit(5, r#"    files: [(name: "data", size: "-4k")],"#), 5, 34, &["cannot be negative"]);
    refused(&edit(5, r#"    files: [(name: "data", size: -4096)],"#), 5, 34, &["cannot be negative"]);
    refused(
        &edit(5, r#"    files: [(name: "data", size: "4q")],"#),
        5,
        34,
        &["unknown size unit `q`", "k, m, g, t, p"],
    );
    refused(&edit(8, r#"        Read(fd: "data", len: "4kk"),"#), 8, 31, &["unknown size unit"]);
}

#[test]
fn unknown_names_point_at_the_string() {
    refused(&edit(7, r#"        Open(file: "nosuch"),"#), 7, 20, &["unknown file `nosuch`", "`data`"]);
    // Inside a nested Repeat, the exact token still.
    let text =
        ops(&[r#"        Repeat(count: 2, ops: [Repeat(count: 3, ops: [Open(file: "dta"), Close(fd: "dta")])]),"#]);
    refused(&text, 7, 66, &["unknown file `dta`", "did you mean `data`?"]);
    refused(
        &edit(5, r#"    files: [(name: "data", device: "disk9", size: "64m")],"#),
        5,
        36,
        &["unknown device `disk9`", "did you mean `disk0`?"],
    );
}

#[test]
fn duplicate_and_bad_names() {
    refused(
        &edit(5, r#"    files: [(name: "data", size: "1m"), (name: "data", size: "2m")],"#),
        5,
        48,
        &["duplicate file name `data`"],
    );
    refused(&edit(4, r#"    devices: [(name: "d"), (name: "d")],"#), 4, 35, &["duplicate device name `d`"]);
    refused(
        &edit(5, r#"    files: [(name: "my data", size: "1m")],"#),
        5,
        20,
        &["bad file name `my data`", "letters, digits"],
    );
    refused(&edit(6, r#"    tasks: [(name: "a_long_task_name", ops: ["#), 6, 20, &["longer than 15", "thread names"]);
    refused(&edit(7, r#"        Open(file: "data", fd: "a/b"),"#), 7, 32, &["bad fd name `a/b`"]);
}

#[test]
fn fds_and_maps_must_be_open() {
    refused(
        &ops(&[r#"        Read(fd: "data", len: "4k"),"#, r#"        Open(file: "data"),"#]),
        7,
        18,
        &["fd `data` is used before it is opened", "move its Open earlier"],
    );
    refused(
        &ops(&[r#"        Fsync(fd: "log"),"#]),
        7,
        19,
        &["fd `log` is never opened", "Open(file: ..., fd: \"log\")"],
    );
    refused(
        &ops(&[r#"        Open(file: "data"),"#, r#"        Touch(map: "m", off: 0),"#]),
        8,
        20,
        &["map `m` is never mapped", "Mmap(fd: ..., map: \"m\")"],
    );
    refused(
        &ops(&[
            r#"        Open(file: "data"),"#,
            r#"        Mmap(fd: "data", map: "m"),"#,
            r#"        Munmap(map: "m"),"#,
            r#"        Touch(map: "m"),"#,
        ]),
        10,
        20,
        &["map `m` is used before it is mapped (or after Munmap)"],
    );
    // The second repetition finds the fd closed.
    refused(
        &ops(&[
            r#"        Open(file: "data"),"#,
            r#"        Repeat(count: 2, ops: [Read(fd: "data", len: "4k"), Close(fd: "data")]),"#,
        ]),
        8,
        41,
        &["not open on the second repetition"],
    );
    refused(
        &ops(&[r#"        Open(file: "data"),"#, r#"        Open(file: "data"),"#]),
        8,
        9,
        &["fd `data` is already open"],
    );
    refused(
        &ops(&[
            r#"        Open(file: "data"),"#,
            r#"        Mmap(fd: "data", len: "4k"),"#,
            r#"        Touch(map: "data", off: "4k"),"#,
        ]),
        9,
        33,
        &["outside map `data`", "SIGSEGV"],
    );
}

#[test]
fn generator_parameters() {
    let open = r#"        Open(file: "data"),"#;
    refused(&ops(&[open, r#"        Generate(fd: "data", block: 0),"#]), 8, 37, &["block size is 0"]);
    refused(
        &ops(&[open, r#"        Generate(fd: "data", count: 10, bytes: "1m"),"#]),
        8,
        48,
        &["count and bytes are both given"],
    );
    refused(&ops(&[open, r#"        Generate(fd: "data", read_pct: 101),"#]), 8, 40, &["read_pct = 101 is above 100"]);
    refused(&ops(&[open, r#"        Generate(block: "4k"),"#]), 8, 9, &["exactly one of `fd:` or `map:`"]);
    refused(
        &ops(&[open, r#"        Generate(fd: "data", pattern: Strided(stride: "6k")),"#]),
        8,
        39,
        &["stride 6k is not a non-zero multiple of block (4k)"],
    );
    refused(
        &ops(&[open, r#"        Generate(fd: "data", pattern: Random, syscall: Read),"#]),
        8,
        56,
        &["syscall: Read needs `fd:` and pattern: Sequential"],
    );
    refused(
        &ops(&[open, r#"        Generate(fd: "data", range: (off: "60m", len: "8m")),"#]),
        8,
        37,
        &["past the end of the file of fd `data`"],
    );
    refused(
        &ops(&[open, r#"        Generate(fd: "data", pattern: Zipfian(theta: 0.0)),"#]),
        8,
        39,
        &["theta = 0 is outside"],
    );
}

#[test]
fn sysctls_are_checked() {
    let with = |s: &str| edit(2, &format!("    name: \"t\", sysctls: {{ {s} }},"));
    refused(
        &with(r#""vm.dirty_ration": 5"#),
        2,
        27,
        &["unknown sysctl `vm.dirty_ration`", "did you mean `vm.dirty_ratio`?"],
    );
    refused(&with(r#""dirty_ratio": 5"#), 2, 27, &["unknown sysctl", "`vm.dirty_ratio`"]);
    refused(
        &with(r#""vm.dirty_ratio": 10, "vm.dirty_bytes": 1048576"#),
        2,
        49,
        &["vm.dirty_bytes and vm.dirty_ratio are both set", "exclusive"],
    );
    refused(&with(r#""vm.dirty_background_ratio": 101"#), 2, 27, &["out of range", "0..=100"]);
}

#[test]
fn absurd_sizes() {
    refused(&edit(3, r#"    machine: (memory: "32m"),"#), 3, 23, &["machine memory 32m is outside 64m..=64t"]);
    refused(&edit(3, r#"    machine: (memory: "65t"),"#), 3, 23, &["outside 64m..=64t"]);
    refused(
        &edit(3, r#"    machine: (memory: "1g", used: "1016m"),"#),
        3,
        35,
        &["used 1016m leaves less than 8m of the machine's 1g"],
    );
    refused(&edit(5, r#"    files: [(name: "data", size: "17t")],"#), 5, 34, &["above the 16t limit"]);
    refused(
        &edit(4, r#"    devices: [(name: "disk0", size: "1g")],"#).replace(r#"size: "64m""#, r#"size: "2g""#),
        5,
        34,
        &["file `data` (2g) is larger than its device `disk0` (1g)"],
    );
    refused(
        &edit(5, r#"    files: [(name: "data", size: "64m", state: CachedRange(off: "60m", len: "8m"))],"#),
        5,
        48,
        &["past its end"],
    );
}

#[test]
fn cachestat_needs_an_open_fd_and_a_range_that_fits_64_bits() {
    let ok = ops(&[
        r#"        Open(file: "data"),"#,
        r#"        Cachestat(fd: "data"),"#,
        r#"        Cachestat(fd: "data", off: "1m", len: "4k"),"#,
    ]);
    let s = Scenario::parse(&ok, "case.ron").unwrap();
    let all: Vec<pcsim::trace::op::Op> = s.ops(0).collect();
    assert_eq!(all[2], pcsim::trace::op::Op::Cachestat { fd: pcsim::trace::op::Fd(0), off: 1 << 20, len: 4096 });
    refused(
        &ops(&[r#"        Cachestat(fd: "dta"),"#, r#"        Open(file: "data"),"#]),
        7,
        23,
        &["fd `dta` is never opened", "did you mean `data`?"],
    );
    refused(
        &ops(&[r#"        Open(file: "data"),"#, r#"        Close(fd: "data"),"#, r#"        Cachestat(fd: "data"),"#]),
        9,
        23,
        &["fd `data` is used before it is opened (or after it is closed)"],
    );
    refused(
        &ops(&[
            r#"        Open(file: "data"),"#,
            r#"        Cachestat(fd: "data", off: "16t", len: 18446744073709551615),"#,
        ]),
        8,
        48,
        &["off + len (16t + ", "overflows 64 bits", "len 0 means to the end of the file"],
    );
    refused(
        &ops(&[r#"        Open(file: "data"),"#, r#"        Cachestat(fd: "data", length: "4k"),"#]),
        8,
        31,
        &["unknown field `length`", "did you mean `len`?"],
    );
}

#[test]
fn a_device_profile_fills_the_fields_a_device_leaves_out() {
    // What `pcsim calibrate --out` writes (probe::calibrate::Calibration::to_ron), comments included.
    let dir = std::env::temp_dir().join(format!("pcsim-profile-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("disk.ron"),
        "// pcsim calibrate\n// measured ...\n(name: \"disk0\", read_bw: \"1283m\", write_bw: \"4212m\", \
         read_latency: \"46us\", write_latency: \"79us\", queue_depth: 32)\n",
    )
    .unwrap();
    let sc_text = |dev: &str| {
        format!(
            "Scenario(name: \"p\", machine: (memory: \"1g\"), devices: [{dev}], files: [(name: \"f\", size: \"1m\")], \
             tasks: [(name: \"t\", ops: [Sleep(\"1ms\")])])"
        )
    };
    let path = dir.join("s.ron");
    std::fs::write(&path, sc_text("(name: \"d\", profile: \"disk.ron\", write_bw: \"100m\")")).unwrap();
    let sc = Scenario::load(&path).unwrap();
    let d = &sc.devices[0];
    assert_eq!(d.name, "d", "the scenario names the device");
    assert_eq!((d.read_bw, d.write_bw, d.queue_depth), (1283 << 20, 100 << 20, 32), "the scenario's fields win");
    assert_eq!((d.read_latency.0, d.write_latency.0), (46_000, 79_000));
    // A missing profile: the scenario's line, the path, and how to make one.
    std::fs::write(&path, sc_text("(name: \"d\", profile: \"nope.ron\")")).unwrap();
    let e = Scenario::load(&path).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.msg.contains("nope.ron") && e.hint.as_deref().unwrap_or("").contains("pcsim calibrate"), "{e}");
    // A malformed profile: its own file and line.
    std::fs::write(dir.join("bad.ron"), "// x\n(name: \"d\", write_bw: 12x)\n").unwrap();
    std::fs::write(&path, sc_text("(name: \"d\", profile: \"bad.ron\")")).unwrap();
    let e = Scenario::load(&path).unwrap_err();
    assert!(e.origin.ends_with("bad.ron") && e.line == 2, "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_seek_model_slows_scattered_requests_and_bad_figures_are_refused() {
    use pcsim::sim::{simulate, SimOptions};
    let sc = |seek: &str, ops: &str| {
        Scenario::parse(
            &format!(
                "Scenario(name: \"s\", machine: (memory: \"1g\"), devices: [(name: \"d\", size: \"1g\"{seek})], \
                 files: [(name: \"f\", size: \"64m\")], tasks: [(name: \"t\", ops: [Open(file: \"f\", flags: [RDONLY]), \
                 Fadvise(fd: \"f\", advice: Random), {ops}])])"
            ),
            "inline",
        )
    };
    let hdd = ", seek: (min: \"0.5ms\", max: \"12ms\", rpm: 7200)";
    let scattered = "Pread(fd: \"f\", off: \"60m\", len: \"4k\"), Pread(fd: \"f\", off: 0, len: \"4k\"), \
                     Pread(fd: \"f\", off: \"30m\", len: \"4k\")";
    let end = |text: Scenario| simulate(&text, &SimOptions::default()).unwrap().end.0;
    let (ssd, disk) = (end(sc("", scattered).unwrap()), end(sc(hdd, scattered).unwrap()));
    // Each of the 3 reads moves the head: at least a track-to-track seek and half a rotation (4.17 ms) each.
    assert!(disk >= ssd + 3 * (500_000 + 4_166_666), "{ssd} {disk}");
    // A bad disk: min above max.
    let e = sc(", seek: (min: \"20ms\", max: \"12ms\", rpm: 7200)", scattered).unwrap_err();
    assert!(e.msg.contains("not a disk's") && e.hint.is_some(), "{e}");
}

#[test]
fn write_batch_spread_is_a_fraction_and_seeded() {
    use pcsim::sim::{simulate, SimOptions};
    let sc = |spread: &str, seed: u64| {
        Scenario::parse(
            &format!(
                "Scenario(name: \"s\", seed: {seed}, machine: (memory: \"1g\"), devices: [(name: \"d\", size: \"1g\"{spread})], \
                 sysctls: {{\"vm.dirty_bytes\": 16777216, \"vm.dirty_background_bytes\": 8388608}}, \
                 files: [(name: \"f\", size: 0)], tasks: [(name: \"t\", ops: [Open(file: \"f\", flags: [WRONLY]), \
                 Repeat(count: 512, ops: [Write(fd: \"f\", len: \"128k\")])])])"
            ),
            "inline",
        )
    };
    let end = |text: Scenario| simulate(&text, &SimOptions::default()).unwrap().end.0;
    // Same seed, same run; the batches' rates (and the writer's stalls) come from the seed.
    assert_eq!(end(sc("", 1).unwrap()), end(sc("", 1).unwrap()));
    assert_ne!(end(sc("", 1).unwrap()), end(sc("", 2).unwrap()));
    assert!(end(sc(", write_bw_spread: 0", 1).unwrap()) > 0);
    let e = sc(", write_bw_spread: 1.5", 1).unwrap_err();
    assert!(e.msg.contains("write_bw_spread") && e.msg.contains("0..=0.9") && e.hint.is_some(), "{e}");
    assert_eq!(e.line, 1, "{e}");
}
