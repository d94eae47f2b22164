//! cachestat(2) results, one line per `Cachestat` op, as both the simulator (`pcsim run --out`) and the probe write
//! them to `cachestat.txt`:
//!
//! ```text
//! # time_ns task file off len nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted
//! 1503211 reader data 0 0 4096 0 0 0 0
//! ```
//! `time_ns` is the op's start from the start of the run (the model's virtual clock, the probe's CLOCK_MONOTONIC),
//! so the two sides are aligned by task and by the op's position among that task's cachestat ops, never by time.
//! Counts are compared exactly; over several probe runs each count is also set against the kernel's range.

use serde::Serialize;

/// The header line of cachestat.txt.
pub const HEADER: &str = "# time_ns task file off len nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted";

/// The five counts, in cachestat.txt's (and struct cachestat's) order.
pub const FIELDS: [&str; 5] = ["nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted"];

/// struct cachestat (include/uapi/linux/mman.h): pages of a range by state (the model's, and the probe's from the
/// syscall).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cachestat {
    /// Pages cached.
    pub nr_cache: u64,
    /// Pages dirty.
    pub nr_dirty: u64,
    /// Pages under writeback.
    pub nr_writeback: u64,
    /// Pages evicted (shadow entries).
    pub nr_evicted: u64,
    /// Evicted pages whose refault would activate them.
    pub nr_recently_evicted: u64,
}

impl Cachestat {
    /// The counts in cachestat.txt's order.
    pub fn counts(&self) -> [u64; 5] {
        [self.nr_cache, self.nr_dirty, self.nr_writeback, self.nr_evicted, self.nr_recently_evicted]
    }
}

/// One cachestat op's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The op's start, nanoseconds from the run's start.
    pub time_ns: u64,
    /// The task that ran it.
    pub task: String,
    /// The file.
    pub file: String,
    /// The range's start, bytes.
    pub off: u64,
    /// The range's length, bytes (0: to the end of the file).
    pub len: u64,
    /// nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted.
    pub counts: [u64; 5],
}

impl Record {
    /// The record's line (without a newline).
    pub fn line(&self) -> String {
        let [c, d, w, e, r] = self.counts;
        format!("{} {} {} {} {} {c} {d} {w} {e} {r}", self.time_ns, self.task, self.file, self.off, self.len)
    }
}

/// cachestat.txt with its header.
pub fn format(records: &[Record]) -> String {
    let mut s = format!("{HEADER}\n");
    for r in records {
        s.push_str(&r.line());
        s.push('\n');
    }
    s
}

/// Parses a cachestat.txt; errors give the 1-based line.
pub fn parse(text: &str) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for (line, cols) in super::table::table_rows(text, HEADER)? {
        let err = |msg: String| format!("line {line}: {msg}");
        let num = |k: usize| {
            cols[k]
                .parse::<u64>()
                .map_err(|_| err(format!("column {}: `{}` is not an unsigned integer", k + 1, cols[k])))
        };
        let mut counts = [0u64; 5];
        for (j, c) in counts.iter_mut().enumerate() {
            *c = num(5 + j)?;
        }
        out.push(Record {
            time_ns: num(0)?,
            task: cols[1].to_string(),
            file: cols[2].to_string(),
            off: num(3)?,
            len: num(4)?,
            counts,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(task: &str, time_ns: u64, counts: [u64; 5]) -> Record {
        Record { time_ns, task: task.into(), file: "data".into(), off: 0, len: 0, counts }
    }

    #[test]
    fn lines_round_trip_and_errors_name_the_line() {
        let rs = vec![rec("reader", 10, [4096, 0, 0, 0, 0]), rec("other", 20, [1, 2, 3, 4, 5])];
        let text = format(&rs);
        assert!(text.starts_with(HEADER));
        assert_eq!(parse(&text).unwrap(), rs);
        let e = parse("# x\n1 t f 0 0 1 2 3 4\n").unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("10 columns"), "{e}");
        let e = parse("1 t f 0 0 1 2 x 4 5\n").unwrap_err();
        assert!(e.contains("column 8") && e.contains("`x`"), "{e}");
    }
}
