//! strace importer: two real traces of one program (testdata/t.c: `strace -f -tt -T -y -o t_y.strace ./t` and
//! strace's stderr without -y), and hand-written lines for each call shape, process rule and malformed input.

use super::{collect_ok, collect_until_err};
use crate::replay::strace::StraceImporter;
use crate::replay::{ErrorKind, Importer, Location, Record, Stats, TraceFile};
use crate::trace::op::{Access, Fd, FileId, MapId, Op, OpenFlags, Whence};

pub(crate) const T_Y: &str = include_str!("../testdata/t_y.strace");
pub(crate) const T_STDERR: &str = include_str!("../testdata/t_stderr.strace");
/// The ops of T_Y, one `PROCESS THREAD {op:?}` per line (regenerate from the failure message if `Op` changes).
const T_Y_OPS: &str = include_str!("../testdata/t_y.ops");

fn import(text: &str) -> (Vec<Record>, StraceImporter<&[u8]>) {
    let mut imp = StraceImporter::new("t.strace", text.as_bytes());
    let recs = collect_ok(&mut imp);
    (recs, imp)
}

fn listing(recs: &[Record]) -> String {
    recs.iter().map(|r| format!("{} {} {:?}\n", r.process, r.thread, r.op)).collect()
}

fn ops(recs: &[Record]) -> Vec<Op> {
    recs.iter().map(|r| r.op.clone()).collect()
}

fn flags(access: Access) -> OpenFlags {
    OpenFlags { access, ..Default::default() }
}

fn check(st: &Stats, skips: &[(&str, u64)], notes: &[(&str, u64)]) {
    for &(r, n) in skips {
        assert_eq!(st.skipped(r), n, "skip {r}: {st:#?}");
    }
    for &(r, n) in notes {
        assert_eq!(st.noted(r), n, "note {r}: {st:#?}");
    }
}

#[test]
fn real_trace_with_y_gives_exact_ops() {
    let (recs, imp) = import(T_Y);
    let got = listing(&recs);
    assert!(got == T_Y_OPS, "ops differ from testdata/t_y.ops; now:\n{got}");
    let f = |i: usize| imp.files()[i].clone();
    assert_eq!(f(2), TraceFile { name: "/tmp/rp/c/data".into(), size: 200_000, existed_before: false });
    assert_eq!(f(3).name, "/tmp/rp/c/copy dst <x>"); // `\74x\76` decoded
    assert_eq!((f(4).name.as_str(), f(4).size), ("/tmp/rp/c/log", 150));
    assert!(f(0).existed_before && f(1).existed_before);
    let names: Vec<_> = imp.processes().iter().map(|p| (p.pid, p.name.clone())).collect();
    assert_eq!(names, vec![(4410, Some("true".into())), (4413, Some("t".into()))]);
    assert_eq!(imp.threads()[2].tid, 4414);
    assert_eq!(imp.threads()[2].process, 0);
    // Times: entry times less the first line's (02:41:42.125480), durations from -T.
    let pw = recs.iter().find(|r| matches!(r.op, Op::Pwrite { fd: Fd(7), .. })).unwrap();
    assert_eq!((pw.time_ns, pw.duration_ns), (35_877_000, Some(7_198_000)));
    assert!(recs.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    check(
        &imp.stats(),
        &[("failed_call", 11), ("non_regular_fd", 2), ("unlink", 1), ("rename", 1), ("anonymous_mapping", 7)],
        &[("lseek_for_shared_position", 4), ("mmap_file_touches_invisible", 11), ("implicit_munmap", 8)],
    );
}

#[test]
fn stderr_trace_without_y_gives_the_same_ops() {
    // [pid N] prefixes only while several tasks live, `strace: Process N attached` inside lines, no -y paths.
    let (recs, imp) = import(T_STDERR);
    assert_eq!(listing(&recs), T_Y_OPS);
    assert_eq!(imp.files()[2].name, "data");
    let tids: Vec<u32> = imp.threads().iter().map(|t| t.tid).collect();
    assert_eq!(tids, vec![4452, 4453, 4454]);
    check(&imp.stats(), &[("strace_message", 2)], &[]);
}

const OPEN_DATA: &str = r#"100 10:00:00.000000 openat(AT_FDCWD</w>, "data", O_RDWR) = 3</w/data> <0.000010>"#;

#[test]
fn tricky_arguments_and_results() {
    let t = [
        OPEN_DATA,
        // A string holding `, ) = "` and escapes, truncated.
        r#"100 10:00:00.000100 write(3</w/data>, "a, b) = \"x\" <1>\n"..., 300) = 300 <0.000020>"#,
        // Padding before `=`, an errno text with parentheses, a duration.
        r#"100 10:00:00.000200 read(3</w/data>, 0x7ffd, 10)    = -1 EINTR (Interrupted (really)) <0.000001>"#,
        r#"100 10:00:00.000300 read(3</w/data>, ""..., 4096) = 0 <0.000002>"#,
        // A path with `>` and `<` (escaped by strace), and a -yy device suffix.
        r#"100 10:00:00.000400 openat(AT_FDCWD</w>, "a>b", O_RDONLY|O_CLOEXEC) = 4</w/a\76b> <0.000010>"#,
        r#"100 10:00:00.000500 fstat(4</w/a\76b>, {st_mode=S_IFREG|0644, st_size=8192, ...}) = 0 <0.000001>"#,
        r#"100 10:00:00.000600 read(4</w/a\76b>, "x"..., 100) = 100"#,
        r#"100 10:00:00.000700 ioctl(1</dev/pts/0<char 136:0>>, TCGETS, {c_iflag=ICRNL}) = 0 <0.000003>"#,
        // A comment and nested braces.
        r#"100 10:00:00.000800 execve("/bin/x", ["x", "a) b"], 0x7fff /* 20 vars */) = 0 <0.000100>"#,
    ]
    .join("\n");
    let (recs, imp) = import(&t);
    assert_eq!(
        ops(&recs),
        vec![
            Op::Open { fd: Fd(3), file: FileId(0), flags: flags(Access::ReadWrite) },
            Op::Write { fd: Fd(3), len: 300 },
            Op::Read { fd: Fd(3), len: 0 },
            Op::Open { fd: Fd(4), file: FileId(1), flags: flags(Access::ReadOnly) },
            Op::Read { fd: Fd(4), len: 100 },
            Op::Close { fd: Fd(4) }, // O_CLOEXEC, closed by the execve
        ]
    );
    assert_eq!(recs[1].duration_ns, Some(20_000));
    assert_eq!(recs[2].time_ns, 300_000);
    assert_eq!(imp.files()[1], TraceFile { name: "/w/a>b".into(), size: 8192, existed_before: true });
    assert_eq!(imp.files()[0].size, 300);
    assert_eq!(imp.processes()[0].name.as_deref(), Some("x"));
    check(&imp.stats(), &[("failed_call", 1), ("non_io_syscall", 2)], &[("implicit_close", 1), ("execve", 1)]);
}

#[test]
fn unfinished_calls_join_per_thread() {
    let t = [
        OPEN_DATA,
        "100 10:00:00.001000 read(3</w/data>,  <unfinished ...>",
        "101 10:00:00.001500 clone3({flags=CLONE_VM|CLONE_FILES|CLONE_THREAD, stack=0x1} => {parent_tid=[102]}, 88) = 102",
        "102 10:00:00.001600 pread64(3</w/data>, \"z\"..., 512, 1024) = 512 <0.000010>",
        "100 10:00:00.002000 <... read resumed>\"abc\", 4096) = 3 <0.001000>",
        "100 10:00:00.002100 <... write resumed>) = 3",
        "102 10:00:00.002200 read(3</w/data>, <unfinished ...>",
        "102 10:00:00.002300 <... read resumed> <unfinished ...>) = ?",
        "102 10:00:00.002400 +++ killed by SIGKILL +++",
    ]
    .join("\n");
    let (recs, imp) = import(&t);
    let got: Vec<(u64, u32, u32, Op)> = recs.iter().map(|r| (r.time_ns, r.process, r.thread, r.op.clone())).collect();
    assert_eq!(
        got,
        vec![
            (0, 0, 0, Op::Open { fd: Fd(3), file: FileId(0), flags: flags(Access::ReadWrite) }),
            // 101 has no known parent: a process of its own (1), 102 its thread, which adopts fd 3 from its -y
            // annotation (the trace never showed process 1 opening it).
            (1_600_000, 1, 2, Op::Open { fd: Fd(3), file: FileId(0), flags: flags(Access::ReadWrite) }),
            (1_600_000, 1, 2, Op::Pread { fd: Fd(3), off: 1024, len: 512 }),
            // The read resumed: entry time 1.0 ms, raised to stay after the pread.
            (1_600_000, 0, 0, Op::Read { fd: Fd(3), len: 3 }),
        ]
    );
    let st = imp.stats();
    check(
        &st,
        &[("unmatched_resumed", 1), ("no_result", 1), ("exit_line", 1)],
        &[("adopted_fd", 1), ("task_without_parent", 1), ("time_raised_to_monotonic", 1)],
    );
}

#[test]
fn clone_children_before_and_after_the_parent_returns() {
    let t = [
        OPEN_DATA,
        // fork-like clone returning first: the child gets a copy of the table.
        "100 10:00:00.000100 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 200",
        "200 10:00:00.000200 read(3</w/data>, \"a\"..., 10) = 10",
        // A thread whose first line comes before its parent's clone3 returns.
        "100 10:00:00.000300 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, stack=0x1}, 88 <unfinished ...>",
        "101 10:00:00.000400 pread64(3</w/data>, \"b\"..., 10, 0) = 10",
        "100 10:00:00.000500 <... clone3 resumed> => {parent_tid=[101]}, 88) = 101",
        // vfork: a copy; the child closes its copy of 3 (never used: nothing to replay), then execs.
        "100 10:00:00.000600 vfork() = 300",
        "300 10:00:00.000700 close(3</w/data>) = 0",
        "300 10:00:00.000800 +++ exited with 0 +++",
        "200 10:00:00.000900 +++ exited with 0 +++",
        "100 10:00:00.001000 read(3</w/data>, \"c\"..., 10) = 10",
    ]
    .join("\n");
    let (recs, imp) = import(&t);
    let got: Vec<(u32, u32, Op)> = recs.iter().map(|r| (r.process, r.thread, r.op.clone())).collect();
    let rw = flags(Access::ReadWrite);
    assert_eq!(
        got,
        vec![
            (0, 0, Op::Open { fd: Fd(3), file: FileId(0), flags: rw }),
            (1, 1, Op::Open { fd: Fd(3), file: FileId(0), flags: rw }),
            (1, 1, Op::Read { fd: Fd(3), len: 10 }),
            (0, 2, Op::Pread { fd: Fd(3), off: 0, len: 10 }),
            (1, 1, Op::Close { fd: Fd(3) }), // process 1 exits: its descriptors close
            (0, 0, Op::Lseek { fd: Fd(3), off: 10, whence: Whence::Set }), // the child moved the shared position
            (0, 0, Op::Read { fd: Fd(3), len: 10 }),
        ]
    );
    assert_eq!(imp.processes().len(), 3);
    assert_eq!(imp.threads()[2].process, 0);
    check(&imp.stats(), &[("exit_line", 2)], &[("close_of_unopened_inherited_fd", 1), ("clone", 3)]);
}

#[test]
fn descriptors_dup_append_adopt_and_close() {
    let t = [
        r#"openat(AT_FDCWD, "/w/log", O_WRONLY|O_CREAT|O_APPEND, 0644) = 3"#,
        r#"write(3, "abc", 3) = 3"#,
        r#"dup2(3, 7) = 7"#,
        r#"write(7, "de", 2) = 2"#,
        r#"fcntl(3, F_DUPFD_CLOEXEC, 10) = 10"#,
        r#"close_range(9, 4294967295, 0) = 0"#,
        r#"close(7) = 0"#,
        r#"read(5, "x", 1) = 1"#,
        r#"pipe2([5, 6], O_CLOEXEC) = 0"#,
        r#"read(5, "x", 1) = 1"#,
        r#"socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 8"#,
        r#"sendfile(8, 3, [0] => [5], 5) = 5"#,
        r#"openat(AT_FDCWD, "/proc/self/stat", O_RDONLY) = 9"#,
        r#"read(9, "1 (x) R", 100) = 7"#,
        r#"openat(AT_FDCWD, "/w/log", O_RDONLY) = 3"#,
        r#"lseek(3, 0, SEEK_END) = 4096"#,
        r#"preadv2(3, [{iov_base="", iov_len=10}], 1, 0, RWF_DONTCACHE) = 10"#,
    ]
    .join("\n");
    let (recs, imp) = import(&t);
    let wo = OpenFlags { access: Access::WriteOnly, creat: true, append: true, ..Default::default() };
    assert_eq!(
        ops(&recs),
        vec![
            Op::Open { fd: Fd(3), file: FileId(0), flags: wo },
            Op::Write { fd: Fd(3), len: 3 },
            Op::Open { fd: Fd(7), file: FileId(0), flags: OpenFlags { creat: false, ..wo } },
            Op::Write { fd: Fd(7), len: 2 },
            Op::Close { fd: Fd(7) },
            Op::Sendfile { fd: Fd(3), off: 0, len: 5 },
            Op::Close { fd: Fd(3) }, // the stale fd 3 replaced by the second open
            Op::Open { fd: Fd(3), file: FileId(0), flags: flags(Access::ReadOnly) },
            Op::Lseek { fd: Fd(3), off: 0, whence: Whence::End },
        ]
    );
    assert_eq!(imp.files()[0], TraceFile { name: "/w/log".into(), size: 4096, existed_before: false });
    check(
        &imp.stats(),
        &[("unknown_fd", 1), ("non_regular_fd", 2), ("non_regular_file", 1), ("unsupported_flag", 1)],
        &[("dup", 2), ("stale_fd_replaced", 1), ("close_range", 1)],
    );
}

#[test]
fn y_annotations_adopt_unknown_fds() {
    let t = [
        r#"read(0</w/input>, "abc", 4096) = 3 <0.000010>"#,
        r#"read(0</w/input>, "", 4096) = 0 <0.000010>"#,
        r#"write(1</w/out (deleted)>, "abc", 3) = 3 <0.000010>"#,
        r#"write(2</dev/pts/1>, "abc", 3) = 3 <0.000010>"#,
        r#"openat(AT_FDCWD</w>, "b", O_RDONLY) = 5</w/b> <0.000010>"#,
        r#"read(5</w/c>, "abc", 3) = 3 <0.000010>"#,
    ]
    .join("\n");
    let (recs, imp) = import(&t);
    let rw = flags(Access::ReadWrite);
    assert_eq!(
        ops(&recs),
        vec![
            Op::Open { fd: Fd(0), file: FileId(0), flags: rw },
            Op::Read { fd: Fd(0), len: 3 },
            Op::Read { fd: Fd(0), len: 0 },
            Op::Open { fd: Fd(1), file: FileId(1), flags: rw },
            Op::Write { fd: Fd(1), len: 3 },
            Op::Open { fd: Fd(5), file: FileId(2), flags: flags(Access::ReadOnly) },
            Op::Close { fd: Fd(5) }, // the annotation says fd 5 is /w/c now: a trace gap; trust it
            Op::Open { fd: Fd(5), file: FileId(3), flags: rw },
            Op::Read { fd: Fd(5), len: 3 },
        ]
    );
    assert_eq!(imp.files()[0].size, 3);
    assert_eq!(imp.files()[1].name, "/w/out (deleted)");
    check(&imp.stats(), &[("non_regular_fd", 1)], &[("adopted_fd", 3), ("fd_path_mismatch", 1)]);
}

#[test]
fn mappings() {
    let t = [
        OPEN_DATA,
        "100 10:00:00.1 mmap(NULL, 8192, PROT_READ, MAP_SHARED, 3</w/data>, 4096) = 0x7f0000000000",
        "100 10:00:00.2 madvise(0x7f0000001000, 4096, MADV_SEQUENTIAL) = 0",
        "100 10:00:00.3 madvise(0x7f0000001000, 8192, MADV_WILLNEED) = 0",
        "100 10:00:00.4 madvise(0x7f0000000000, 4096, MADV_FREE) = 0",
        "100 10:00:00.5 msync(0x7f0000000000, 8192, MS_ASYNC|MS_INVALIDATE) = 0",
        "100 10:00:00.6 munmap(0x7f0000000000, 4096) = 0",
        "100 10:00:00.7 mmap2(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE, 3</w/data>, 3) = 0x7f0000100000",
        "100 10:00:00.8 munmap(0x7f0000000000, 8192) = 0",
        "100 10:00:00.9 munmap(0x7f0000000000, 8192) = 0",
        "100 10:00:01.0 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000200000",
        "100 10:00:01.1 mremap(0x7f0000100000, 4096, 8192, MREMAP_MAYMOVE) = 0x7f0000300000",
        "100 10:00:01.2 mmap(NULL, 4096, PROT_READ, MAP_SHARED, 3</w/data>, 18446744073709551615) = 0x7f0000400000",
    ]
    .join("\n");
    let (recs, imp) = import(&t);
    let m = |i| MapId(i);
    assert_eq!(
        ops(&recs)[1..],
        [
            Op::Mmap { fd: Fd(3), map: m(0), off: 4096, len: 8192, write: false, shared: true },
            Op::Madvise { map: m(0), off: 4096, len: 4096, advice: crate::trace::op::Madvice::Sequential },
            Op::Msync { map: m(0), off: 0, len: 8192, mode: crate::trace::op::MsyncMode::Async },
            Op::Mmap { fd: Fd(3), map: m(1), off: 3 * 4096, len: 4096, write: true, shared: false },
            Op::Munmap { map: m(0) },
        ]
    );
    assert_eq!(imp.files()[0].size, 16384);
    check(
        &imp.stats(),
        &[
            ("unknown_mapping", 2), // the WILLNEED past the mapping's end, the second munmap
            ("unsupported_advice", 1),
            ("partial_munmap", 1),
            ("anonymous_mapping", 1),
            ("mremap", 1),
            ("offset_out_of_range", 1),
        ],
        &[("mmap_file_touches_invisible", 2)],
    );
}

fn pread_times(lines: &[&str]) -> Vec<u64> {
    let (recs, _) = import(&lines.join("\n"));
    recs.iter().filter(|r| matches!(r.op, Op::Pread { .. })).map(|r| r.time_ns).collect()
}

#[test]
fn times_in_every_clock() {
    let open = r#"openat(AT_FDCWD, "/w/data", O_RDONLY) = 3"#;
    let pread = r#"pread64(3, "", 1, 0) = 1"#;
    // -tt across midnight, and -t without a fraction.
    let t = [
        format!("100 23:59:59.999000 {open}"),
        format!("100 23:59:59.999500 {pread}"),
        format!("100 00:00:00.000500 {pread}"),
        format!("100 00:00:01 {pread}"),
        format!("100 00:00:01.000000001 {pread}"), // ns timestamps
    ];
    let t: Vec<&str> = t.iter().map(String::as_str).collect();
    assert_eq!(pread_times(&t), vec![500_000, 1_500_000, 1_001_000_000, 1_001_000_001]);
    // -ttt.
    let t = [format!("100 1700000000.000100 {open}"), format!("100 1700000000.000350 {pread}")];
    assert_eq!(pread_times(&[&t[0], &t[1]]), vec![250_000]);
    // No timestamps, with and without a pid column.
    assert_eq!(pread_times(&[&format!("100 {open}"), &format!("100 {pread}")]), vec![0]);
    assert_eq!(pread_times(&[open, pread]), vec![0]);
    // Absurd timestamps: no overflow, times stay monotonic.
    let t = [
        format!("100 10:00:00 {open}"),
        format!("100 10:00:99999999999999999999.5 {pread}"),
        format!("100 99:59:18446744073.709551615 {pread}"),
        format!("100 18446744073.709551615 {pread}"),
    ];
    let got = pread_times(&[&t[0], &t[1], &t[2], &t[3]]);
    assert!(got.windows(2).all(|w| w[0] <= w[1]), "{got:?}");
}

#[test]
fn malformed_lines_are_counted() {
    let long = format!(r#"100 10:00:00.000900 write(3</w/data>, "{}", 2000000) = 2000000"#, "x".repeat(2 << 20));
    let t = [
        OPEN_DATA,
        r#"100 10:00:00.000100 pread64(3</w/data>, "", 1, 9223372036854775807) = 1"#, // past MAX_FILE_END
        r#"100 10:00:00.000110 pread64(3</w/data>, "", 1, -5) = 1"#,                  // negative offset
        r#"100 10:00:00.000120 read(3</w/data>, "", 1) = 99999999999999999999999"#,   // absurd result
        r#"100 10:00:00.000130 ftruncate(3</w/data>, 18446744073709551615) = 0"#,
        r#"100 10:00:00.000140 lseek(3</w/data>, 0, SEEK_WHERE) = 0"#,
        r#"100 10:00:00.000150 read(3</w/data>, "abc"#, // cut mid-line
        r#"100 10:00:00.000160 close(12) = 0"#,         // unknown fd
        r#"100 10:00:00.000170 close(-1) = 0"#,
        r#"100 10:00:00.000180 <... read resumed>"x", 1) = 1"#, // nothing unfinished
        r#"100 10:00:00.000190 read(3</w/data>,  <unfinished ...>"#,
        r#"100 10:00:00.000195 write(3</w/data>,  <unfinished ...>"#, // unfinished twice
        r#"100 10:00:00.000200 --- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---"#,
        r#"100 10:00:00.000210 read(3</w/data>, 0x7f, 1) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)"#,
        r#"100 10:00:00.000220 ????( <unfinished ...>"#,
        "",
        "strace: Process 100 detached",
        r#"999 10:00:00.000230 +++ exited with 1 +++"#,
        r#"100 10:00:00.000240 readv(3</w/data>, [{iov_base="ab", iov_len=2}, ...], 1025) = 6"#,
        &long,
        r#"100 10:00:00.001000 pread64(3</w/data>, "", 1, 4096) = 1"#,
    ]
    .join("\n");
    let (recs, imp) = import(&t);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1].op, Op::Readv { fd: Fd(3), lens: vec![2, 4] });
    assert_eq!(recs[2].op, Op::Pread { fd: Fd(3), off: 4096, len: 1 });
    check(
        &imp.stats(),
        &[
            ("offset_out_of_range", 2),
            ("malformed_args", 2),
            ("malformed_result", 1),
            ("malformed_line", 2),
            ("unknown_fd", 2),
            ("unmatched_resumed", 1),
            ("unmatched_unfinished", 1),
            ("signal", 1),
            ("no_result", 1),
            ("blank_line", 1),
            ("strace_message", 1),
            ("exit_line", 1),
            ("line_too_long", 1),
        ],
        &[],
    );
}

#[test]
fn inputs_that_are_not_strace() {
    let err = |t: &str| {
        let mut imp = StraceImporter::new("t.strace", t.as_bytes());
        let (recs, e) = collect_until_err(&mut imp);
        assert!(recs.is_empty());
        e.expect("an error")
    };
    let e = err("");
    assert_eq!((e.kind, e.at), (ErrorKind::NotThisFormat, Location::Line(1)));
    let e = err("fio version 3 iolog\n0 /a add\n");
    assert_eq!((e.kind, e.at), (ErrorKind::NotThisFormat, Location::Line(1)));
    assert!(e.to_string().starts_with("t.strace: line 1: not an strace line"), "{e}");
    // Garbage after a good first line is a counted skip, never an error.
    let text = format!("{OPEN_DATA}\n\u{1}\u{2}garbage (\n");
    let (recs, imp) = import(&text);
    assert_eq!(recs.len(), 1);
    assert_eq!(imp.stats().skipped("malformed_line"), 1);
}

#[test]
fn files_created_or_not() {
    let t = [
        r#"openat(AT_FDCWD, "/w/new", O_WRONLY|O_CREAT|O_EXCL, 0600) = 3"#,
        r#"openat(AT_FDCWD, "/w/maybe", O_RDWR|O_CREAT, 0600) = 4"#,
        r#"pread64(4, "old", 3, 0) = 3"#,
        r#"openat(AT_FDCWD, "/w/fresh", O_RDWR|O_CREAT, 0600) = 5"#,
        r#"write(5, "new", 3) = 3"#,
        r#"openat(AT_FDCWD, "/tmp", O_RDWR|O_TMPFILE, 0600) = 6</tmp/#123 (deleted)>"#,
        r#"openat(AT_FDCWD, "/w/dir", O_RDONLY|O_DIRECTORY) = 7"#,
        r#"creat("/w/c", 0644) = 8"#,
        r#"openat(AT_FDCWD, "/w/locale", O_RDONLY|O_CLOEXEC) = 9"#,
        r#"fstat(9, {st_mode=S_IFDIR|0755, st_size=4096, ...}) = 0"#,
        r#"statx(8, "", AT_STATX_SYNC_AS_STAT|AT_EMPTY_PATH, STATX_ALL, {stx_mask=STATX_ALL, stx_mode=S_IFREG|0644, stx_size=77, ...}) = 0"#,
        r#"copy_file_range(4, NULL, 8, NULL, 1024, 0) = 0"#,
    ]
    .join("\n");
    let (recs, imp) = import(&t);
    let existed: Vec<(&str, bool)> = imp.files().iter().map(|f| (f.name.as_str(), f.existed_before)).collect();
    assert_eq!(
        existed,
        vec![
            ("/w/new", false),
            ("/w/maybe", true),
            ("/w/fresh", false),
            ("/tmp/#123 (deleted)", false),
            ("/w/c", false),
            ("/w/locale", true),
        ]
    );
    let c = OpenFlags { access: Access::WriteOnly, creat: true, trunc: true, ..Default::default() };
    assert_eq!(recs[recs.len() - 3].op, Op::Open { fd: Fd(8), file: FileId(4), flags: c });
    // The copy read to EOF (kept) and wrote nothing (no write).
    assert_eq!(recs.last().map(|r| &r.op), Some(&Op::Read { fd: Fd(4), len: 0 }));
    assert_eq!((imp.files()[4].size, imp.files()[5].size), (77, 0));
    assert_eq!(imp.stats().skipped("non_regular_file"), 1);
}
