//! Kernel-truth vectors for the dirty-throttling arithmetic (src/mm/page_writeback): every balance_dirty_pages,
//! bdi_dirty_ratelimit and global_dirty_state event that dd triggered on this host (traces/write/vectors/*.txt,
//! captured by capture.sh on Linux 6.18, HZ 250) is recomputed from its inputs with the model's functions and
//! compared with what the kernel printed.
//!
//! One pass of balance_dirty_pages traces, in order, on the writer's pid:
//! global_dirty_state (thresh, bg_thresh, the domain's dirty_limit), then bdi_dirty_ratelimit when the 200 ms
//! bandwidth update runs in this pass, then balance_dirty_pages unless the pass was free running. The inputs the
//! events do not show are derived and said so:
//! - wb_thresh: from wb_setpoint = setpoint × wb_thresh / (thresh + 1), an interval of one or two values;
//! - avg_write_bandwidth: printed by bdi_dirty_ratelimit (its value before that update's bandwidth step); a pass
//!   with no update in it read the value left by the last update, which the next bdi_dirty_ratelimit prints unless
//!   the flusher's untraced update (do_writepages every 200 ms) came in between;
//! - the old dirty_ratelimit and balanced_dirty_ratelimit: the previous bdi_dirty_ratelimit's (INIT_BW for the
//!   first, the loop device being new).
//!
//! The report printed per capture (`cargo test --test page_writeback_vectors -- --nocapture`) gives, per quantity,
//! vectors checked, exact, and why the others are not (each reason is itself checked: an explanation that does not
//! fit counts as MISMATCH); the assertions require exactness wherever the inputs are complete. The strongest check
//! runs the model's whole `balance_dirty_pages` pass from state rebuilt to match a throttled pass and compares the
//! three lines it traces with the kernel's text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use pcsim::mm::page_writeback::{
    balance_dirty_pages, dirty_poll_interval, domain_dirty_limits, kbps, update_dirty_limit, wb_max_pause,
    wb_min_pause, wb_position_ratio, wb_update_dirty_ratelimit, wb_update_write_bandwidth, BackingDevInfo,
    BdiWriteback, BdpArgs, DirtyCounters, DirtyThrottleControl, DirtyableMemory, FpropGlobal, FpropLocal, TaskDirty,
    VmDirtySysctls, WbBandwidth, WbDomain, HZ, INIT_BW, PAGE_SIZE,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Gds,
    Rl,
    Bdp,
}

#[derive(Clone, Debug)]
struct Ev {
    line: usize,
    pid: u32,
    /// Trace time stamp (s).
    ts: f64,
    kind: Kind,
    bdi: String,
    /// The text after `event: ` (TP_printk's output).
    body: String,
    f: BTreeMap<String, i64>,
}

impl Ev {
    fn u(&self, k: &str) -> u64 {
        let v = self.i(k);
        assert!(v >= 0, "line {}: {k}={v} is negative", self.line);
        v as u64
    }
    fn i(&self, k: &str) -> i64 {
        *self.f.get(k).unwrap_or_else(|| panic!("line {}: no field {k}", self.line))
    }
    /// A KB/s field in pages/s (KBps(x) = x << 2: exact).
    fn pages(&self, k: &str) -> u64 {
        let v = self.u(k);
        assert_eq!(v % 4, 0, "line {}: {k} is not a whole number of pages", self.line);
        v / 4
    }
}

struct Capture {
    name: String,
    bdi: String,
    writers: Vec<u32>,
    sysctl: BTreeMap<String, u64>,
    meminfo: BTreeMap<String, u64>,
    vmstat: BTreeMap<String, u64>,
    /// The writer ran SCHED_FIFO (its limits get the RT boost).
    rt_writer: bool,
    /// Per zone: (high watermark, largest protection, managed).
    zones: Vec<(u64, u64, u64)>,
    events: Vec<Ev>,
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("traces/write/vectors")
}

/// One ftrace text line: `comm-pid [cpu] flags secs: event: body`. The comm may contain spaces and dashes.
fn parse_line(line_no: usize, line: &str) -> Option<Ev> {
    let open = line.find(" [")?;
    let pid = line[..open].trim_end().rsplit_once('-')?.1.parse().ok()?;
    let after = &line[open..];
    // `[001] ..... 123.456: event: body`
    let tail = &after[after.find(']')? + 1..];
    let colon = tail.find(": ")?;
    let ts = tail[..colon].split_whitespace().last()?.parse().ok()?;
    let rest = &tail[colon + 2..];
    let (name, body) = rest.split_once(": ")?;
    let full_body = body.to_string();
    let kind = match name {
        "global_dirty_state" => Kind::Gds,
        "bdi_dirty_ratelimit" => Kind::Rl,
        "balance_dirty_pages" => Kind::Bdp,
        _ => return None,
    };
    let mut bdi = String::new();
    let mut body = body;
    if let Some(b) = body.strip_prefix("bdi ") {
        let (name, rest) = b.split_once(": ")?;
        bdi = name.to_string();
        body = rest;
    }
    let mut f = BTreeMap::new();
    for tok in body.split_whitespace() {
        let (k, v) = tok.split_once('=')?;
        f.insert(k.to_string(), v.parse().ok()?);
    }
    Some(Ev { line: line_no, pid, ts, kind, bdi, body: full_body, f })
}

fn load(name: &str) -> Capture {
    let dir = vectors_dir();
    let text = std::fs::read_to_string(dir.join(format!("{name}.txt"))).expect("vector file");
    let meta = std::fs::read_to_string(dir.join(format!("{name}.meta"))).expect("meta file");
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let ev = parse_line(i + 1, line).unwrap_or_else(|| panic!("{name}.txt:{}: unparsed line `{line}`", i + 1));
        events.push(ev);
    }
    let mut cap = Capture {
        name: name.to_string(),
        bdi: String::new(),
        writers: Vec::new(),
        sysctl: BTreeMap::new(),
        meminfo: BTreeMap::new(),
        vmstat: BTreeMap::new(),
        rt_writer: false,
        zones: Vec::new(),
        events,
    };
    let mut section = "";
    let mut zone: Option<(u64, u64, u64)> = None;
    for line in meta.lines() {
        if let Some(s) = line.strip_prefix("## ") {
            section = if s.starts_with("/proc/meminfo") {
                "meminfo"
            } else if s.starts_with("/proc/vmstat") {
                "vmstat"
            } else {
                "zoneinfo"
            };
            continue;
        }
        match section {
            "" => {
                if let Some(v) = line.strip_prefix("bdi=") {
                    cap.bdi = v.to_string();
                } else if let Some(v) = line.strip_prefix("writer_pids=") {
                    cap.writers = v.split_whitespace().map(|p| p.parse().unwrap()).collect();
                } else if let Some(v) = line.strip_prefix("sysctl_start=") {
                    for kv in v.split_whitespace() {
                        let (k, v) = kv.split_once('=').unwrap();
                        cap.sysctl.insert(k.to_string(), v.parse().unwrap());
                    }
                } else if let Some(v) = line.strip_prefix("rt_writer=") {
                    cap.rt_writer = v == "1";
                } else if let Some(v) = line.strip_prefix("hz=") {
                    assert_eq!(v.parse::<u64>().unwrap(), HZ, "the vectors were captured at another HZ");
                }
            }
            "meminfo" => {
                let mut it = line.split_whitespace();
                if let (Some(k), Some(v)) = (it.next(), it.next()) {
                    cap.meminfo.insert(k.trim_end_matches(':').to_string(), v.parse().unwrap_or(0));
                }
            }
            "vmstat" => {
                let mut it = line.split_whitespace();
                if let (Some(k), Some(v)) = (it.next(), it.next()) {
                    cap.vmstat.insert(k.to_string(), v.parse().unwrap());
                }
            }
            _ => {
                let t = line.trim();
                if t.starts_with("Node") {
                    if let Some(z) = zone.take() {
                        cap.zones.push(z);
                    }
                    zone = Some((0, 0, 0));
                } else if let Some(z) = zone.as_mut() {
                    if let Some(v) = t.strip_prefix("high ") {
                        z.0 = v.trim().parse().unwrap();
                    } else if let Some(v) = t.strip_prefix("managed ") {
                        z.2 = v.trim().parse().unwrap();
                    } else if let Some(v) = t.strip_prefix("protection: (") {
                        z.1 = v.trim_end_matches(')').split(", ").map(|x| x.parse::<u64>().unwrap()).max().unwrap();
                    }
                }
            }
        }
    }
    if let Some(z) = zone.take() {
        cap.zones.push(z);
    }
    assert!(!cap.bdi.is_empty() && !cap.writers.is_empty(), "{name}.meta names the bdi and the writers");
    cap
}

/// Vectors checked and exact for one quantity, with the reasons for the rest.
#[derive(Default)]
struct Tally {
    checked: u64,
    exact: u64,
    why: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Report {
    q: BTreeMap<&'static str, Tally>,
}

impl Report {
    fn hit(&mut self, q: &'static str, exact: bool, why_not: &str) {
        let t = self.q.entry(q).or_default();
        t.checked += 1;
        if exact {
            t.exact += 1;
        } else {
            *t.why.entry(why_not.to_string()).or_default() += 1;
        }
    }
    fn get(&self, q: &str) -> (u64, u64) {
        self.q.get(q).map_or((0, 0), |t| (t.checked, t.exact))
    }
    fn text(&self, name: &str) -> String {
        let mut s = format!("== {name}\n");
        for (q, t) in &self.q {
            let _ = write!(s, "{q:<44} {:>5} checked {:>5} exact", t.checked, t.exact);
            for (why, n) in &t.why {
                let _ = write!(s, "; {n} {why}");
            }
            s.push('\n');
        }
        s
    }
}

fn vm_of(cap: &Capture) -> VmDirtySysctls {
    VmDirtySysctls {
        dirty_ratio: cap.sysctl["vm.dirty_ratio"],
        dirty_bytes: cap.sysctl["vm.dirty_bytes"],
        dirty_background_ratio: cap.sysctl["vm.dirty_background_ratio"],
        dirty_background_bytes: cap.sysctl["vm.dirty_background_bytes"],
    }
}

/// The wb_thresh values that give the printed wb_setpoint = setpoint × wb_thresh / (thresh + 1).
fn wb_thresh_candidates(setpoint: u64, wb_setpoint: u64, thresh: u64) -> std::ops::RangeInclusive<u64> {
    let d = thresh + 1;
    let lo = (wb_setpoint * d).div_ceil(setpoint.max(1));
    let hi = ((wb_setpoint + 1) * d - 1) / setpoint.max(1);
    lo..=hi
}

/// pos_ratio of the global domain by the model, for the inputs of one pass.
fn pos_ratio(thresh: u64, bg: u64, limit: u64, dirty: u64, wb_thresh: u64, wb_dirty: u64, write_bw: u64) -> u64 {
    let mut dtc = DirtyThrottleControl {
        thresh,
        bg_thresh: bg,
        dirty,
        wb_thresh,
        wb_bg_thresh: wb_thresh * bg / thresh,
        wb_dirty,
        ..Default::default()
    };
    let dom = WbDomain { dirty_limit: limit, ..Default::default() };
    wb_position_ratio(&mut dtc, &dom, write_bw, false);
    assert_eq!(dtc.limit, limit);
    dtc.pos_ratio
}

/// The task_ratelimit values (pages/s) `rl × pos_ratio >> 10` over the wb_thresh candidates.
fn task_ratelimits(e: &Ev, g: &Ev, rl: u64, write_bw: u64, add: u64) -> Vec<u64> {
    let (thresh, bg) = (g.u("thresh"), g.u("bg_thresh"));
    wb_thresh_candidates(e.u("setpoint"), e.u("wb_setpoint"), thresh)
        .map(|w| {
            let p = pos_ratio(thresh, bg, e.u("limit"), e.u("dirty"), w, e.u("wb_dirty"), write_bw);
            ((rl * p) >> 10) + add
        })
        .collect()
}

/// Classifies a comparison over candidate inputs: all agree and match, some match, none.
fn classify(cands: &[u64], got: u64) -> (bool, &'static str) {
    if cands.is_empty() {
        (false, "no wb_thresh gives the printed wb_setpoint")
    } else if cands.iter().all(|&c| c == got) {
        (true, "")
    } else if cands.contains(&got) {
        (false, "wb_thresh ambiguous (2 candidates from wb_setpoint), the kernel's among them")
    } else {
        (false, "MISMATCH")
    }
}

/// totalreserve_pages from the zoneinfo snapshot: per zone, largest protection plus high watermark, ≤ managed.
fn totalreserve(cap: &Capture) -> u64 {
    cap.zones.iter().map(|&(high, prot, managed)| (prot + high).min(managed)).sum()
}

/// avg_write_bandwidth after one update by the model's estimator, from (avg, write_bandwidth) before and the new
/// write_bandwidth `bw` (the estimator is driven to produce `bw` over 1023 jiffies; None if it cannot be).
fn smoothed_avg(avg0: u64, old: u64, bw: u64) -> Option<u64> {
    let need = (1024 * bw).checked_sub(old)?.div_ceil(HZ);
    let mut w = WbBandwidth { write_bandwidth: old, avg_write_bandwidth: avg0, ..WbBandwidth::new(0) };
    wb_update_write_bandwidth(&mut w, 1023, need);
    (w.write_bandwidth == bw).then_some(w.avg_write_bandwidth)
}

/// A dirtyable memory size that gives the thresholds `g` printed (any, for the bytes settings).
fn avail_for(vm: &VmDirtySysctls, rt: bool, g: &Ev) -> u64 {
    if vm.dirty_bytes != 0 {
        return 1_000_000;
    }
    let rt_ratio = vm.dirty_ratio * PAGE_SIZE / 100;
    let thresh = g.u("thresh");
    let (lo, hi) = ((thresh * PAGE_SIZE).div_ceil(rt_ratio), ((thresh + 1) * PAGE_SIZE - 1) / rt_ratio);
    (lo..=hi)
        .find(|&a| {
            let mut dtc = DirtyThrottleControl { avail: a, ..Default::default() };
            domain_dirty_limits(&mut dtc, vm, rt, g.u("limit"));
            (dtc.thresh, dtc.bg_thresh) == (thresh, g.u("bg_thresh"))
        })
        .unwrap_or(lo)
}

/// The inputs of one throttled pass with a bandwidth update, as far as its three events and the next update show.
struct PassInputs<'a> {
    g: &'a Ev,
    b: &'a Ev,
    e: &'a Ev,
    /// The next bdi_dirty_ratelimit: its write_bw is this update's new estimate (absent a flusher update between).
    next: &'a Ev,
    old_rl: u64,
    prev_bal: u64,
    vm: VmDirtySysctls,
    rt: bool,
    /// Dirtyable memory that gives the pass's thresholds.
    avail: u64,
}

/// Runs the model's whole `balance_dirty_pages` pass from state rebuilt to match the events' inputs (wb_thresh
/// `w` through the writeout fraction w / thresh; WB_DIRTIED, WB_WRITTEN and the elapsed time chosen so that the update
/// computes the printed dirty_rate and the next update's write_bw) and compares the three lines it traces with the
/// kernel's text. `tick` 1: the jiffies ticked once between the pass's `now` and its tracepoint (which prints think
/// and paused from the later jiffies): the model runs at the earlier one and its think and paused are moved on.
fn whole_pass(p: &PassInputs, w: u64, bdi: &str, tick: u64) -> bool {
    let (g, b, e) = (p.g, p.b, p.e);
    let thresh = g.u("thresh");
    let (dirty_rate, old_bw, new_bw) = (b.pages("dirty_rate"), b.pages("write_bw"), p.next.pages("write_bw"));
    // An elapsed time (jiffies) and counts that make dirty_rate = Δdirtied × HZ / elapsed and
    // write_bw = (Δwritten × HZ + old × (1024 - elapsed)) >> 10 come out as printed.
    let Some((elapsed, d_dirtied, d_written)) = (HZ..1024).find_map(|el| {
        let dd = (dirty_rate * el).div_ceil(HZ);
        let need = (1024 * new_bw).checked_sub(old_bw * (1024 - el))?;
        let dw = need.div_ceil(HZ);
        ((dd * HZ / el == dirty_rate) && ((dw * HZ + old_bw * (1024 - el)) >> 10 == new_bw)).then_some((el, dd, dw))
    }) else {
        return false;
    };
    let now = 1_000_000;
    let think_j = e.i("think") * HZ as i64 / 1000 - tick as i64;
    let mut dom = WbDomain {
        completions: FpropGlobal { events: thresh as i64, period: 0 },
        period_time: 0,
        dirty_limit_tstamp: now - elapsed,
        dirty_limit: g.u("limit"),
        bdi_min_ratio: 0,
    };
    let avg = b.pages("awrite_bw");
    let mut bdi_info = BackingDevInfo { tot_write_bandwidth: avg, ..Default::default() };
    let mut wb = BdiWriteback {
        bw: WbBandwidth {
            bw_time_stamp: now - elapsed,
            dirtied_stamp: 1000,
            written_stamp: 1000,
            write_bandwidth: old_bw,
            avg_write_bandwidth: avg,
            dirty_ratelimit: p.old_rl,
            balanced_dirty_ratelimit: p.prev_bal,
        },
        completions: FpropLocal { events: w as i64, period: 0 },
        dirty_exceeded: false,
    };
    let mut task = TaskDirty {
        nr_dirtied: e.u("dirtied"),
        nr_dirtied_pause: e.u("dirtied_pause"),
        dirty_paused_when: (now as i64 - think_j) as u64,
    };
    let c = DirtyCounters {
        nr_file_dirty: g.u("dirty"),
        nr_writeback: g.u("writeback"),
        nr_dirtied: g.u("dirtied"),
        nr_written: g.u("written"),
        mem: DirtyableMemory { nr_free_pages: p.avail - 1, ..Default::default() },
        wb_reclaimable: e.u("wb_dirty"),
        wb_writeback: 0,
        wb_dirtied: 1000 + d_dirtied,
        wb_written: 1000 + d_written,
        writeback_in_progress: true,
        wb_has_dirty_io: true,
    };
    let a = BdpArgs {
        now,
        start_time: now - (e.u("paused") * HZ / 1000 - tick),
        pages_dirtied: e.u("dirtied"),
        rt_task: p.rt,
        vm: p.vm,
        vm_highmem_is_dirtyable: false,
        nr_cpu_ids: 2,
    };
    let pass = balance_dirty_pages(&mut dom, &mut bdi_info, &mut wb, &mut task, &c, &a);
    let cg = |ev: &Ev| ev.u("cgroup_ino");
    pass.global_dirty_state.to_kernel_text() == g.body
        && pass.bdi_dirty_ratelimit.is_some_and(|t| t.to_kernel_text(bdi, cg(b)) == b.body)
        && pass.balance_dirty_pages.is_some_and(|mut t| {
            t.think += (tick * 1000 / HZ) as i64;
            t.paused += tick * 1000 / HZ;
            t.to_kernel_text(bdi, cg(e)) == e.body
        })
}

/// What the task's next nr_dirtied_pause should be, as its last pass left it.
#[derive(Clone, Copy)]
enum NextPause {
    /// A freerun pass: dirty_poll_interval of its dirty and thresh.
    Freerun(u64),
    /// A pass without sleep: unchanged (or grown by pages_dirtied when the period was 0).
    Kept(u64),
    /// A pass that slept: wb_min_pause's pages, with the avg_write_bandwidth the next update prints.
    Slept { rl: u64, wb_dirty: u64, task: u64, avg: u64 },
}

fn min_pause_pages(avg: u64, rl: u64, wb_dirty: u64, task: u64) -> u64 {
    wb_min_pause(avg, rl, wb_max_pause(avg, wb_dirty), task, rl).1
}

#[allow(clippy::cognitive_complexity)]
fn analyse(cap: &Capture) -> Report {
    let mut r = Report::default();
    let vm = vm_of(cap);
    let ev = &cap.events;
    let ours = |e: &Ev| e.bdi == cap.bdi;
    let writer = |e: &Ev| cap.writers.contains(&e.pid);
    // The wb's ratelimit state as of the last bdi_dirty_ratelimit on our bdi (pages/s): a new bdi starts at INIT_BW.
    let (mut prev_rl, mut prev_bal) = (INIT_BW, INIT_BW);
    let mut prev_rl_ev: Option<usize> = None;
    // Per writer: the index of its last global_dirty_state, and what its next nr_dirtied_pause should be.
    let mut last_gds: BTreeMap<u32, usize> = BTreeMap::new();
    let mut next_pause: BTreeMap<u32, NextPause> = BTreeMap::new();
    // Per writer: dirty_ratelimit before the bandwidth update of its current pass.
    let mut pass_old_rl: BTreeMap<u32, u64> = BTreeMap::new();
    let mut pass_prev_bal: BTreeMap<u32, u64> = BTreeMap::new();
    let rt_run = cap.rt_writer;

    for (i, e) in ev.iter().enumerate() {
        match e.kind {
            Kind::Gds if writer(e) => {
                let (thresh, bg, dom_limit) = (e.u("thresh"), e.u("bg_thresh"), e.u("limit"));
                // thresh and bg_thresh from the sysctls.
                if vm.dirty_bytes != 0 {
                    let mut dtc = DirtyThrottleControl::default();
                    domain_dirty_limits(&mut dtc, &vm, rt_run, dom_limit);
                    let q = if rt_run {
                        "global_dirty_state thresh,bg (bytes, RT boost)"
                    } else {
                        "global_dirty_state thresh,bg (bytes)"
                    };
                    r.hit(q, (dtc.thresh, dtc.bg_thresh) == (thresh, bg), "MISMATCH");
                } else {
                    // thresh = (ratio × 4096 / 100) × avail / 4096: the avail interval it allows must allow bg too.
                    let rt = vm.dirty_ratio * PAGE_SIZE / 100;
                    let lo = (thresh * PAGE_SIZE).div_ceil(rt);
                    let hi = ((thresh + 1) * PAGE_SIZE - 1) / rt;
                    let ok = (lo..=hi).any(|a| {
                        let mut dtc = DirtyThrottleControl { avail: a, ..Default::default() };
                        domain_dirty_limits(&mut dtc, &vm, false, dom_limit);
                        (dtc.thresh, dtc.bg_thresh) == (thresh, bg)
                    });
                    r.hit("global_dirty_state thresh,bg (ratio): one avail", ok, "MISMATCH");
                }
                // A pass that traced global_dirty_state and nothing after it was free running: nr_dirtied_pause
                // became the poll interval (dtc->dirty is read apart from the traced nr_dirty + nr_writeback).
                let next_own = ev[i + 1..].iter().find(|x| x.pid == e.pid && x.kind != Kind::Rl);
                if next_own.is_some_and(|x| x.kind == Kind::Gds) {
                    let dirty = e.u("dirty") + e.u("writeback");
                    next_pause.insert(e.pid, NextPause::Freerun(dirty_poll_interval(dirty, thresh)));
                }
                last_gds.insert(e.pid, i);
            }
            Kind::Rl if ours(e) && writer(e) => {
                let g = &ev[last_gds[&e.pid]];
                let (thresh, bg) = (g.u("thresh"), g.u("bg_thresh"));
                let (write_bw, dirty_rate, task_rl, balanced, new_rl) = (
                    e.pages("awrite_bw"),
                    e.pages("dirty_rate"),
                    e.pages("task_ratelimit"),
                    e.pages("balanced_dirty_ratelimit"),
                    e.pages("dirty_ratelimit"),
                );
                // The balance_dirty_pages event of this pass.
                // (A file trimmed right after this event has no balance_dirty_pages for it: nothing to check.)
                let Some(b) = ev[i + 1..].iter().find(|x| x.pid == e.pid && x.kind == Kind::Bdp) else { continue };
                // task_ratelimit + 1 = old dirty_ratelimit × pos_ratio >> 10 + 1: some pos_ratio must give it.
                let pos = ((task_rl - 1) << 10).div_ceil(prev_rl);
                let pos_ok = ((prev_rl * pos) >> 10) + 1 == task_rl;
                assert!(
                    pos_ok,
                    "{}:{}: no pos_ratio gives task_ratelimit from the old rate {prev_rl}",
                    cap.name, e.line
                );
                // The whole update by the model, from this event's rates, the previous one's state, and the pass's
                // dirty, thresholds and domain limit (updated by this pass's domain_update_dirty_limit first).
                let dirty = b.u("dirty");
                let mut dom = WbDomain { dirty_limit: g.u("limit"), ..Default::default() };
                let dtc0 = DirtyThrottleControl { thresh, bg_thresh: bg, dirty, pos_ratio: pos, ..Default::default() };
                let limit_before = dom.dirty_limit;
                update_dirty_limit(&mut dom, &dtc0);
                let freerun = (thresh + bg) / 2;
                let side = |l: u64| dirty < (freerun + thresh.max(l)) / 2;
                let mut wb = WbBandwidth {
                    dirtied_stamp: 0,
                    avg_write_bandwidth: write_bw,
                    dirty_ratelimit: prev_rl,
                    balanced_dirty_ratelimit: prev_bal,
                    ..WbBandwidth::new(0)
                };
                let t = wb_update_dirty_ratelimit(&dtc0, &dom, &mut wb, dirty_rate, HZ, false);
                r.hit(
                    "bdi_dirty_ratelimit balanced_dirty_ratelimit",
                    t.balanced_dirty_ratelimit == kbps(balanced) && t.dirty_rate == kbps(dirty_rate),
                    "MISMATCH",
                );
                if pos_ok {
                    let why = if side(limit_before) != side(dom.dirty_limit) {
                        "dirty between the setpoints before and after the domain limit update"
                    } else {
                        "MISMATCH"
                    };
                    r.hit("bdi_dirty_ratelimit dirty_ratelimit step", t.dirty_ratelimit == kbps(new_rl), why);
                }
                // avg_write_bandwidth smoothing between consecutive updates: the previous event's (avg, write_bw)
                // and this event's write_bw (= the previous update's new estimate) give this avg, unless the
                // flusher updated the bandwidth in between (untraced).
                if let Some(p) = prev_rl_ev {
                    let p = &ev[p];
                    let (avg0, old, bw) = (p.pages("awrite_bw"), p.pages("write_bw"), e.pages("write_bw"));
                    if let Some(avg) = smoothed_avg(avg0, old, bw) {
                        // One untraced update in between (new estimate bw1 unknown) must then explain it.
                        let one_between = (old.min(bw) / 2..=old.max(bw) * 2).any(|bw1| {
                            smoothed_avg(avg0, old, bw1).and_then(|a1| smoothed_avg(a1, bw1, bw)) == Some(write_bw)
                        });
                        r.hit(
                            "avg_write_bandwidth smoothing (consecutive updates)",
                            avg == write_bw,
                            if one_between {
                                "an untraced flusher-side bandwidth update in between (one such update fits)"
                            } else {
                                "MISMATCH"
                            },
                        );
                    }
                }
                pass_old_rl.insert(e.pid, prev_rl);
                pass_prev_bal.insert(e.pid, prev_bal);
                prev_rl = new_rl;
                prev_bal = balanced;
                prev_rl_ev = Some(i);
            }
            Kind::Bdp if ours(e) && writer(e) => {
                let Some(&gi) = last_gds.get(&e.pid) else { continue };
                // dirtied_pause: what the previous pass of this task set (checked before this pass changes it).
                let got_dp = e.u("dirtied_pause");
                match next_pause.remove(&e.pid) {
                    Some(NextPause::Freerun(n)) => r.hit(
                        "dirtied_pause after a freerun pass",
                        got_dp == n,
                        "dirty read apart from the traced nr_dirty + nr_writeback (bounded only)",
                    ),
                    Some(NextPause::Kept(n)) => {
                        r.hit("dirtied_pause after a pass without sleep", got_dp == n, "MISMATCH")
                    }
                    Some(NextPause::Slept { rl, wb_dirty, task, avg }) => {
                        let exact = min_pause_pages(avg, rl, wb_dirty, task) == got_dp;
                        let other_avg = (avg / 2..=avg * 2).any(|a| min_pause_pages(a, rl, wb_dirty, task) == got_dp);
                        let why = if other_avg {
                            "avg_write_bandwidth changed by an untraced update (another avg reproduces it)"
                        } else {
                            "MISMATCH"
                        };
                        r.hit("dirtied_pause after a pause", exact, why);
                    }
                    None => {}
                }
                let g = &ev[gi];
                let (thresh, bg, dom_limit) = (g.u("thresh"), g.u("bg_thresh"), g.u("limit"));
                let foreign_update = ev[gi + 1..i].iter().any(|x| x.kind == Kind::Rl && x.pid != e.pid);
                // limit = max(thresh, dom->dirty_limit) read in wb_position_ratio (before this pass's update).
                r.hit(
                    "balance_dirty_pages limit",
                    e.u("limit") == thresh.max(dom_limit),
                    if foreign_update { "another task updated the domain limit in between" } else { "MISMATCH" },
                );
                // setpoint = (limit + freerun) / 2.
                let freerun = (thresh + bg) / 2;
                r.hit("balance_dirty_pages setpoint", e.u("setpoint") == (e.u("limit") + freerun) / 2, "MISMATCH");
                // dirty: NR_FILE_DIRTY + NR_WRITEBACK, read again by the tracepoint of global_dirty_state.
                r.hit(
                    "balance_dirty_pages dirty = gds dirty+writeback",
                    e.u("dirty") == g.u("dirty") + g.u("writeback"),
                    "counters moved between the two reads (bounded only)",
                );
                // wb_setpoint: wb_thresh ≥ the (thresh - dirty) / 8 bump; equal to it before the new bdi's first
                // writeout completions count.
                let dirty = e.u("dirty");
                let bump = if thresh > dirty { (thresh - dirty) / 8 } else { 0 };
                let cands = wb_thresh_candidates(e.u("setpoint"), e.u("wb_setpoint"), thresh);
                r.hit(
                    "balance_dirty_pages wb_setpoint: wb_thresh ≥ bump",
                    *cands.end() >= bump && !cands.is_empty(),
                    "MISMATCH",
                );
                r.hit(
                    "balance_dirty_pages wb_setpoint = bump's (no share)",
                    e.u("wb_setpoint") == e.u("setpoint") * bump / (thresh + 1),
                    "the wb's writeout share exceeds the bump (fprop counts untraced)",
                );

                // task_ratelimit = dirty_ratelimit × pos_ratio >> 10.
                let rl = e.pages("dirty_ratelimit");
                let same_pass_rl = ev[gi + 1..i].iter().rposition(|x| x.kind == Kind::Rl && x.pid == e.pid && ours(x));
                let next_rl = ev[i + 1..].iter().find(|x| x.kind == Kind::Rl && ours(x));
                let got = e.pages("task_ratelimit");
                if let Some(k) = same_pass_rl {
                    // Both rates of this pass come from one pos_ratio: the event's with the new dirty_ratelimit,
                    // bdi_dirty_ratelimit's (+1) with the old one.
                    let b = &ev[gi + 1 + k];
                    let bw = b.pages("awrite_bw");
                    let (ok, why) = classify(&task_ratelimits(e, g, rl, bw, 0), got);
                    r.hit("task_ratelimit (pass with a bandwidth update)", ok, why);
                    let old_rl = pass_old_rl[&e.pid];
                    let (ok, why) = classify(&task_ratelimits(e, g, old_rl, bw, 1), b.pages("task_ratelimit"));
                    r.hit("bdi_dirty_ratelimit task_ratelimit (model pos_ratio)", ok, why);
                    // The model's whole pass, its three traced lines against the kernel's text.
                    if let Some(next) = next_rl {
                        let p = PassInputs {
                            g,
                            b,
                            e,
                            next,
                            old_rl,
                            prev_bal: pass_prev_bal[&e.pid],
                            vm,
                            rt: rt_run,
                            avail: avail_for(&vm, rt_run, g),
                        };
                        let cands = wb_thresh_candidates(e.u("setpoint"), e.u("wb_setpoint"), thresh);
                        let res: Vec<bool> = cands.clone().map(|w| whole_pass(&p, w, &cap.bdi, 0)).collect();
                        let ticked = e.u("paused") > 0 && cands.clone().any(|w| whole_pass(&p, w, &cap.bdi, 1));
                        let why = if ticked {
                            "a jiffy ticked during the pass (the model 1 jiffy earlier fits, think and paused aside)"
                        } else if res.iter().any(|&x| x) {
                            "wb_thresh ambiguous (2 candidates from wb_setpoint), the kernel's among them"
                        } else {
                            "MISMATCH"
                        };
                        r.hit(
                            "whole pass: model's 3 lines == kernel text",
                            !res.is_empty() && res.iter().all(|&x| x),
                            why,
                        );
                    }
                } else if let Some(nb) = next_rl {
                    let avg = nb.pages("awrite_bw");
                    let (ok, mut why) = classify(&task_ratelimits(e, g, rl, avg, 0), got);
                    if why == "MISMATCH" && (avg / 2..=avg * 2).any(|a| task_ratelimits(e, g, rl, a, 0).contains(&got))
                    {
                        why = "avg_write_bandwidth changed by an untraced update (another avg reproduces it)";
                    }
                    r.hit("task_ratelimit (other passes, next update's avg)", ok, why);
                }

                // period = HZ × pages_dirtied / task_ratelimit (max_pause when task_ratelimit is 0).
                let dirtied = e.u("dirtied");
                let period_j = (HZ * dirtied).checked_div(got);
                if let Some(p) = period_j {
                    r.hit("balance_dirty_pages period", e.u("period") == p * 1000 / HZ, "MISMATCH");
                }
                // pause = period - think; < min_pause: no sleep (printed min(pause, 0)); else ≤ max_pause.
                // max_pause and min_pause read avg_write_bandwidth after this pass's update: taken from the next
                // bdi_dirty_ratelimit.
                let think = e.i("think");
                let avg = next_rl.map(|x| x.pages("awrite_bw"));
                let wb_dirty = e.u("wb_dirty");
                if let (Some(p), Some(avg)) = (period_j, avg) {
                    let pause_j = p as i64 - think * HZ as i64 / 1000;
                    let max_pause = wb_max_pause(avg, wb_dirty);
                    let (min_pause, _) = wb_min_pause(avg, rl, max_pause, got, rl);
                    let expect = |pause_j: i64| {
                        let p = if pause_j < min_pause { pause_j.min(0) } else { pause_j.min(max_pause as i64) };
                        p * 1000 / HZ as i64
                    };
                    let pause = e.i("pause");
                    let why = if pause == expect(pause_j + 1) {
                        "a jiffy ticked between the pass's `now` and the tracepoint's jiffies (think 1 less fits)"
                    } else if pause == pause_j.min(0) * 1000 / HZ as i64 || pause == pause_j * 1000 / HZ as i64 {
                        "min_pause/max_pause from an avg_write_bandwidth changed by an untraced update"
                    } else {
                        "MISMATCH"
                    };
                    r.hit("balance_dirty_pages pause", pause == expect(pause_j), why);
                } else if let (0, Some(avg)) = (got, avg) {
                    // task_ratelimit 0: period = pause = max_pause.
                    let mp = wb_max_pause(avg, wb_dirty) * 1000 / HZ;
                    r.hit(
                        "balance_dirty_pages pause,period at task_ratelimit 0",
                        e.u("period") == mp && e.i("pause") == mp as i64,
                        "max_pause from an avg_write_bandwidth changed by an untraced update",
                    );
                }
                // What this pass leaves for the next one's dirtied_pause.
                let slept = e.i("pause") > 0;
                match (slept, period_j, avg) {
                    (true, _, Some(avg)) => {
                        next_pause.insert(e.pid, NextPause::Slept { rl, wb_dirty, task: got, avg });
                    }
                    (false, Some(p), _) => {
                        let dp = e.u("dirtied_pause");
                        let n = if p == 0 && dp <= dirtied { dp + dirtied } else { dp };
                        next_pause.insert(e.pid, NextPause::Kept(n));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    // The domain's dirty_limit between consecutive passes of the writers: unchanged, or one update_dirty_limit by
    // a pass that updated the bandwidth (the writer's own: its thresh and dirty are known).
    let gds: Vec<usize> = (0..ev.len()).filter(|&i| ev[i].kind == Kind::Gds && writer(&ev[i])).collect();
    for w in gds.windows(2) {
        let (a, b) = (&ev[w[0]], &ev[w[1]]);
        let between = &ev[w[0] + 1..w[1]];
        let updates: Vec<&Ev> = between.iter().filter(|x| x.kind == Kind::Rl).collect();
        let (la, lb) = (a.u("limit"), b.u("limit"));
        if updates.is_empty() {
            r.hit("domain dirty_limit unchanged without an update", la == lb, "MISMATCH");
        } else if updates.len() == 1 && writer(updates[0]) && updates[0].pid == a.pid {
            let Some(p) = between.iter().find(|x| x.kind == Kind::Bdp && x.pid == a.pid) else { continue };
            let mut dom = WbDomain { dirty_limit: la, ..Default::default() };
            let dtc = DirtyThrottleControl { thresh: a.u("thresh"), dirty: p.u("dirty"), ..Default::default() };
            update_dirty_limit(&mut dom, &dtc);
            // domain_update_dirty_limit skips the update within BANDWIDTH_INTERVAL of the last one, which another
            // task's bandwidth update (any bdi) may have made: check that one was that recent.
            let u = updates[0];
            let recent = ev.iter().any(|x| {
                x.kind == Kind::Rl && !(x.pid == u.pid && x.bdi == u.bdi) && (0.0..0.204).contains(&(u.ts - x.ts))
            });
            r.hit(
                "domain dirty_limit: update_dirty_limit",
                dom.dirty_limit == lb,
                if recent && lb == la {
                    "skipped: another task's bandwidth update < 200 ms before (dirty_limit_tstamp)"
                } else {
                    "MISMATCH"
                },
            );
        }
    }

    // The ratio run: the dirtyable memory the first thresh implies, against /proc/meminfo at the start.
    if vm.dirty_bytes == 0 {
        if let Some(g) = ev.iter().find(|e| e.kind == Kind::Gds && writer(e)) {
            let rt = vm.dirty_ratio * PAGE_SIZE / 100;
            let thresh = g.u("thresh");
            let (lo, hi) = ((thresh * PAGE_SIZE).div_ceil(rt), ((thresh + 1) * PAGE_SIZE - 1) / rt);
            let m = &cap.meminfo;
            let est = (m["MemFree"] / 4).saturating_sub(totalreserve(cap))
                + m["Active(file)"] / 4
                + m["Inactive(file)"] / 4
                + 1;
            let err = est as f64 / ((lo + hi) / 2) as f64 - 1.0;
            r.hit("dirtyable memory: meminfo estimate within 1 %", err.abs() < 0.01, "off by more than 1 %");
            println!(
                "{}: first thresh {thresh} ⇒ avail in [{lo}, {hi}]; meminfo at start gives {est} ({:+.3} %); \
                 vmstat nr_dirty_threshold at start {}",
                cap.name,
                err * 100.0,
                cap.vmstat.get("nr_dirty_threshold").copied().unwrap_or(0)
            );
        }
    }
    r
}

fn captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vectors_dir())
        .expect("traces/write/vectors")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".txt").map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn kernel_dirty_throttling_vectors() {
    let names = captures();
    assert!(names.len() >= 4, "captures: {names:?}");
    let mut all = Report::default();
    let mut text = String::new();
    for name in &names {
        let cap = load(name);
        let r = analyse(&cap);
        text.push_str(&r.text(name));
        for (q, t) in r.q {
            let a = all.q.entry(q).or_default();
            a.checked += t.checked;
            a.exact += t.exact;
            for (w, n) in t.why {
                *a.why.entry(w).or_default() += n;
            }
        }
    }
    text.push_str(&all.text("all captures"));
    println!("{text}");

    // Nothing contradicts the model.
    for (q, t) in &all.q {
        assert!(!t.why.contains_key("MISMATCH"), "{q}: {} vectors contradict the model\n{text}", t.why["MISMATCH"]);
    }
    // Exact wherever the inputs are complete.
    for q in [
        "balance_dirty_pages setpoint",
        "balance_dirty_pages period",
        "bdi_dirty_ratelimit balanced_dirty_ratelimit",
        "global_dirty_state thresh,bg (bytes)",
        "global_dirty_state thresh,bg (bytes, RT boost)",
        "global_dirty_state thresh,bg (ratio): one avail",
        "domain dirty_limit unchanged without an update",
    ] {
        let (checked, exact) = all.get(q);
        assert!(checked > 0, "{q}: no vectors\n{text}");
        assert_eq!(exact, checked, "{q}\n{text}");
    }
    // Mostly exact where an input is derived (see the module doc): at least the share named.
    for (q, min_pct) in [
        ("balance_dirty_pages limit", 99),
        ("whole pass: model's 3 lines == kernel text", 95),
        ("task_ratelimit (pass with a bandwidth update)", 90),
        ("bdi_dirty_ratelimit task_ratelimit (model pos_ratio)", 90),
        ("task_ratelimit (other passes, next update's avg)", 90),
        ("dirtied_pause after a pause", 95),
        ("balance_dirty_pages pause", 95),
        ("bdi_dirty_ratelimit dirty_ratelimit step", 95),
        ("domain dirty_limit: update_dirty_limit", 90),
    ] {
        let (checked, exact) = all.get(q);
        assert!(checked > 0 && exact * 100 >= checked * min_pct, "{q}: {exact}/{checked} exact\n{text}");
    }
}

#[test]
fn parser_reads_comms_with_spaces_and_dashes() {
    let e = parse_line(
        1,
        "lto cgu.00-2004    [001] .N... 14804.905959: balance_dirty_pages: bdi 254:0: limit=16384 setpoint=14336 \
         dirty=16035 wb_setpoint=5038 wb_dirty=2482 dirty_ratelimit=73624 task_ratelimit=40548 dirtied=257 \
         dirtied_pause=32 paused=0 pause=24 period=24 think=0 cgroup_ino=1",
    )
    .unwrap();
    assert_eq!((e.pid, e.kind, e.bdi.as_str(), e.u("wb_setpoint"), e.i("pause")), (2004, Kind::Bdp, "254:0", 5038, 24));
}
