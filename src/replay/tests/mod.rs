//! Tests of the importers and exporters: happy paths with exact ops, malformed inputs, fuzzing, round trips and
//! checks against the real tools (skipped, with a message, where they are not installed).

mod blkparse;
mod blktrace;
mod export;
mod fuzz;
mod iolog;
mod partition;
mod strace;

use std::path::Path;
use std::process::Command;

use super::{ImportError, Importer, Record};
use crate::trace::event::Event;

/// Events from log lines (`TIME TASK NAME key=value ...`).
pub(crate) fn events(text: &str) -> Vec<Event> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| crate::trace::log::parse_event(l).unwrap_or_else(|e| panic!("bad test event `{l}`: {e:?}")))
        .collect()
}

/// All records of an importer, panicking on an error.
pub(crate) fn collect_ok<I: Importer>(imp: &mut I) -> Vec<Record> {
    let mut out = Vec::new();
    for r in imp.by_ref() {
        match r {
            Ok(r) => out.push(r),
            Err(e) => panic!("unexpected import error: {e}"),
        }
    }
    out
}

/// Records up to the first error, and the error.
pub(crate) fn collect_until_err<I: Importer>(imp: &mut I) -> (Vec<Record>, Option<ImportError>) {
    let mut out = Vec::new();
    for r in imp.by_ref() {
        match r {
            Ok(r) => out.push(r),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// Whether a tool is installed; prints why a test is skipped when not.
pub(crate) fn have_tool(name: &str) -> bool {
    let ok = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: `{name}` is not installed (apt-get install blktrace fio strace)");
    }
    ok
}

/// Runs a shell command in `dir`, returning stdout; panics with stderr on failure.
pub(crate) fn sh(dir: &Path, cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).current_dir(dir).env("TZ", "UTC").env("LC_ALL", "C").output();
    let out = out.unwrap_or_else(|e| panic!("running `{cmd}`: {e}"));
    assert!(out.status.success(), "`{cmd}` failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The integrator can hold any importer as a trait object.
#[test]
fn importers_are_object_safe() {
    use crate::replay::{blkparse, blktrace, iolog, strace, BlockOptions};
    let empty: &[u8] = b"";
    let mut all: Vec<Box<dyn Importer + '_>> = vec![
        Box::new(blktrace::BlktraceImporter::new(vec![("b".to_string(), empty)], BlockOptions::default())),
        Box::new(blkparse::BlkparseImporter::new("p", empty, BlockOptions::default())),
        Box::new(iolog::IologImporter::new(
            "i",
            empty,
            iolog::IologOptions { direct: true, trim_as_punch_hole: false },
        )),
        Box::new(strace::StraceImporter::new("s", empty)),
    ];
    for imp in &mut all {
        let e = imp.next().and_then(Result::err).expect("empty input is an error");
        assert_eq!(e.kind, crate::replay::ErrorKind::NotThisFormat, "{e}");
        assert!(imp.next().is_none());
        assert_eq!(imp.stats().ops, 0);
    }
}
