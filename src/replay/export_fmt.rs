//! blkparse's default text for one record (blkparse_fmt.c `process_default`) and its trailing summary
//! (blkparse.c `show_device_and_cpu_stats`, `dump_io_stats`, `show_stats`), as blkparse 1.2 prints them in the C
//! numeric locale (blkparse asks for `en_US`, which adds thousands separators where that locale is installed).

use std::fmt::Write as _;

use super::block::tc;
use super::export_bit::{ta, Bit};

/// blkparse's letters for an action code.
fn act_letters(act: u32) -> &'static str {
    match act {
        1 => "Q",
        2 => "M",
        3 => "F",
        4 => "G",
        5 => "S",
        6 => "R",
        7 => "D",
        8 => "C",
        9 => "P",
        10 => "U",
        11 => "UT",
        12 => "I",
        13 => "X",
        14 => "B",
        15 => "A",
        _ => "?",
    }
}

/// blkparse's `fill_rwbs`: the RWBS column from the category bits and the byte count.
pub(crate) fn fill_rwbs(action: u32, bytes: u32, out: &mut String) {
    let c = action >> 16;
    if c & tc::FLUSH != 0 {
        out.push('F');
    }
    out.push(if c & tc::DISCARD != 0 {
        'D'
    } else if c & tc::WRITE != 0 {
        'W'
    } else if bytes != 0 {
        'R'
    } else {
        'N'
    });
    for (bit, letter) in [(tc::FUA, 'F'), (tc::AHEAD, 'A'), (tc::SYNC, 'S'), (tc::META, 'M')] {
        if c & bit != 0 {
            out.push(letter);
        }
    }
}

/// Appends the record's line (with its newline).
pub(crate) fn format_record(b: &Bit, name: &str, out: &mut String) {
    let mut rwbs = String::with_capacity(8);
    fill_rwbs(b.action, b.bytes, &mut rwbs);
    let act = b.action & 0xffff;
    let _ = write!(
        out,
        "{:3},{:<3} {:2} {:8} {:5}.{:09} {:5} {:>2} {:>3} ",
        b.device >> 20,
        b.device & 0xfffff,
        0,
        b.sequence,
        b.time / 1_000_000_000,
        b.time % 1_000_000_000,
        b.pid,
        act_letters(act),
        rwbs
    );
    let nsect = b.bytes >> 9;
    let _ = match act {
        ta::REQUEUE | ta::COMPLETE if nsect != 0 => writeln!(out, "{} + {} [{}]", b.sector, nsect, b.error),
        ta::REQUEUE | ta::COMPLETE => writeln!(out, "{} [{}]", b.sector, b.error),
        ta::SPLIT => writeln!(out, "{} / {} [{}]", b.sector, b.split_to.unwrap_or(0) as u32, name),
        _ if nsect != 0 => writeln!(out, "{} + {} [{}]", b.sector, nsect, name),
        _ => writeln!(out, "[{name}]"),
    };
}

/// blkparse's `struct io_stats`, the fields the exported actions touch.
#[derive(Clone, Copy, Debug, Default)]
struct IoStats {
    q: [u64; 2],
    q_kb: [u64; 2],
    q_b: [u64; 2],
    i: [u64; 2],
    i_kb: [u64; 2],
    i_b: [u64; 2],
    c: [u64; 2],
    c_kb: [u64; 2],
    c_b: [u64; 2],
    m: [u64; 2],
    m_kb: [u64; 2],
    m_b: [u64; 2],
    rq: [u64; 2],
}

#[derive(Clone, Debug)]
struct DevStats {
    device: u32,
    ios: IoStats,
    cur_depth: [u32; 2],
    max_depth: [u32; 2],
    events: u64,
    first_time: u64,
    last_time: u64,
}

/// The summary's counters, per device in order of first appearance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Summary {
    devices: Vec<DevStats>,
}

impl Summary {
    /// Counts one record as blkparse's `dump_trace_fs` does.
    pub(crate) fn account(&mut self, b: &Bit) {
        let d = match self.devices.iter().position(|d| d.device == b.device) {
            Some(i) => &mut self.devices[i],
            None => {
                self.devices.push(DevStats {
                    device: b.device,
                    ios: IoStats::default(),
                    cur_depth: [0; 2],
                    max_depth: [0; 2],
                    events: 0,
                    first_time: b.time,
                    last_time: b.time,
                });
                let n = self.devices.len() - 1;
                &mut self.devices[n]
            }
        };
        let w = ((b.action >> 16) & tc::WRITE != 0) as usize;
        let (kb, rem) = ((b.bytes >> 10) as u64, (b.bytes & 1023) as u64);
        let s = &mut d.ios;
        match b.action & 0xffff {
            ta::QUEUE => {
                s.q[w] += 1;
                s.q_kb[w] += kb;
                s.q_b[w] += rem;
            }
            ta::BACKMERGE | ta::FRONTMERGE => {
                s.m[w] += 1;
                s.m_kb[w] += kb;
                s.m_b[w] += rem;
            }
            ta::REQUEUE => {
                d.cur_depth[w] = d.cur_depth[w].saturating_sub(1);
                s.rq[w] += 1;
                s.i_kb[w] = s.i_kb[w].wrapping_sub(kb);
                s.i_b[w] = s.i_b[w].wrapping_sub(rem);
            }
            ta::ISSUE => {
                s.i[w] += 1;
                s.i_kb[w] += kb;
                s.i_b[w] += rem;
                d.cur_depth[w] += 1;
                d.max_depth[w] = d.max_depth[w].max(d.cur_depth[w]);
            }
            ta::COMPLETE => {
                d.cur_depth[w] = d.cur_depth[w].saturating_sub(1);
                s.c[w] += 1;
                s.c_kb[w] += kb;
                s.c_b[w] += rem;
            }
            _ => {}
        }
        d.events += 1;
        d.last_time = b.time;
    }

    /// Appends the summary: per device, its CPU0 block, throughput, events and skips.
    pub(crate) fn write(&self, out: &mut String) {
        for (n, d) in self.devices.iter().enumerate() {
            if n > 0 {
                out.push('\n');
            }
            let name = format!("{},{}", d.device >> 20, d.device & 0xfffff);
            let s = &d.ios;
            let _ = writeln!(out, "CPU0 ({name}):");
            let pair = |out: &mut String, l: &str, r: &str, count: [u64; 2], kb: [u64; 2], b: [u64; 2]| {
                let _ = write!(out, " {l}{}, {}iB\t", size_cnv(count[0], false), size_cnv(kb[0] + (b[0] >> 10), true));
                let _ = writeln!(out, " {r}{}, {}iB", size_cnv(count[1], false), size_cnv(kb[1] + (b[1] >> 10), true));
            };
            pair(out, "Reads Queued:    ", "Writes Queued:    ", s.q, s.q_kb, s.q_b);
            pair(out, "Read Dispatches: ", "Write Dispatches: ", s.i, s.i_kb, s.i_b);
            let _ = write!(out, " Reads Requeued:  {}\t\t", size_cnv(s.rq[0], false));
            let _ = writeln!(out, " Writes Requeued:  {}", size_cnv(s.rq[1], false));
            pair(out, "Reads Completed: ", "Writes Completed: ", s.c, s.c_kb, s.c_b);
            pair(out, "Read Merges:     ", "Write Merges:     ", s.m, s.m_kb, s.m_b);
            let _ = write!(out, " Read depth:      {:8}{:8}\t", d.max_depth[0], ' ');
            let _ = writeln!(out, " Write depth:      {:8}", d.max_depth[1]);
            let _ = write!(out, " IO unplugs:      {:8}{:8}\t", 0, ' ');
            let _ = writeln!(out, " Timer unplugs:    {:8}", 0);
            let msec = d.last_time.wrapping_sub(d.first_time) / 1_000_000;
            let rate = |kb: u64, b: u64| kb.wrapping_mul(1000).wrapping_add(b).checked_div(msec).unwrap_or(0);
            let (r, w) = (rate(s.c_kb[0], s.c_b[0]), rate(s.c_kb[1], s.c_b[1]));
            let _ = writeln!(out, "\nThroughput (R/W): {r}KiB/s / {w}KiB/s");
            let _ = writeln!(out, "Events ({name}): {} entries", d.events);
            let _ = writeln!(out, "Skips: 0 forward (0 -   0.0%)");
        }
    }
}

/// blkparse's `size_cnv`: `%8Lu` plus a K/M/G/P suffix past a million (`in_kb`: the value is already KiB).
fn size_cnv(mut num: u64, in_kb: bool) -> String {
    const SUFF: [&str; 5] = ["", "K", "M", "G", "P"];
    let mut i = in_kb as usize;
    while num > 1_000_000 && i < SUFF.len() - 1 {
        i += 1;
        num /= 1000;
    }
    format!("{num:8}{}", SUFF[i])
}
