//! Reading the kernel's ftrace text output and normalising it into `Event`s.
//!
//! A trace line is `COMM-PID [CPU] FLAGS SECS.USECS: EVENT: BODY` (comm may contain spaces and dashes; flags may be
//! absent). Bodies follow each tracepoint's `print fmt` on the host kernel (6.18); see `Normaliser::event` for each.
//! Events on inodes that are not scenario files keep their inode as `ino:<decimal>`; events on devices that are not
//! scenario devices are dropped (the tracefs filters should already have removed them).

use std::sync::Arc;

use hashbrown::HashMap;

use crate::trace::event::{Event, EventKind, FieldError, Name};
use crate::units::Nanos;

/// One trace line split into its columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawLine<'a> {
    pub comm: &'a str,
    pub pid: u32,
    pub cpu: u32,
    /// Timestamp in microseconds of the trace clock.
    pub ts_us: u64,
    pub event: &'a str,
    pub body: &'a str,
}

/// Splits a trace line; `None` for comments, blank lines and lines that are not events (e.g. `CPU:1 [LOST 3 EVENTS]`).
pub fn split_line(line: &str) -> Option<RawLine<'_>> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // Find "[ddd]" preceded by whitespace: the CPU column. Search from the left, skipping brackets in the comm.
    let bytes = line.as_bytes();
    let mut cpu_at = None;
    let mut i = 0;
    while let Some(off) = line[i..].find('[') {
        let open = i + off;
        if let Some(close_off) = line[open..].find(']') {
            let close = open + close_off;
            let inner = &line[open + 1..close];
            if !inner.is_empty()
                && inner.bytes().all(|b| b.is_ascii_digit())
                && open > 0
                && bytes[open - 1].is_ascii_whitespace()
            {
                cpu_at = Some((open, close));
                break;
            }
        }
        i = open + 1;
    }
    let (open, close) = cpu_at?;
    let cpu: u32 = line[open + 1..close].parse().ok()?;
    let mut head = line[..open].trim_end();
    // Optional "(tgid)" column.
    if head.ends_with(')') {
        if let Some(p) = head.rfind('(') {
            head = head[..p].trim_end();
        }
    }
    let dash = head.rfind('-')?;
    let comm = &head[..dash];
    let pid: u32 = head[dash + 1..].trim().parse().ok()?;
    let mut rest = line[close + 1..].trim_start();
    // Optional flags column: a token without ':' that is not a number.
    let first = rest.split_ascii_whitespace().next()?;
    if !first.ends_with(':') {
        rest = rest[first.len()..].trim_start();
    }
    let (ts, after) = rest.split_once(": ")?;
    let ts_us = parse_ts_us(ts.trim())?;
    let (event, body) = match after.split_once(": ") {
        Some((e, b)) if !e.contains(' ') => (e, b),
        _ => (after.trim_end_matches(':'), ""),
    };
    Some(RawLine { comm, pid, cpu, ts_us, event, body: body.trim_end() })
}

fn parse_ts_us(ts: &str) -> Option<u64> {
    let (s, us) = ts.split_once('.')?;
    let s: u64 = s.parse().ok()?;
    if us.len() != 6 {
        return None;
    }
    let us: u64 = us.parse().ok()?;
    s.checked_mul(1_000_000)?.checked_add(us)
}

/// Kernel thread and task names: drop the per-instance suffix of kworkers, make the name one token.
pub fn normalise_comm(comm: &str) -> String {
    let c = comm.trim();
    let c = if c.starts_with("kworker/") { "kworker" } else { c };
    let c = if c == "<idle>" { "idle" } else { c };
    let s: String = c.chars().map(|ch| if ch.is_whitespace() || ch == '=' { '_' } else { ch }).collect();
    if s.is_empty() {
        "?".to_string()
    } else {
        s
    }
}

/// The probe's own helper threads (vmstat sampler, trace reader): their events are the probe's footprint, not the
/// workload's (reading debugfs bdi stats fires global_dirty_state; writing raw_trace.txt dirties host pages).
pub const PROBE_THREADS: &[&str] = &["pcsim-sampler", "pcsim-trace"];

/// What ftrace prints for a pid whose comm it no longer has.
pub const UNKNOWN_COMM: &str = "<...>";

/// How soon after a flusher thread's `writeback_written` its `writeback_pages_written` must come to be attributed
/// to that pass's device (wb_workfn fires it right after wb_do_writeback returns: microseconds in practice).
pub const PAGES_WRITTEN_US: u64 = 100_000;

/// Maps host identities (inode numbers, device numbers) to scenario names.
#[derive(Clone, Debug, Default)]
pub struct Normaliser {
    /// Scenario files by (device major, minor, inode): each scratch filesystem numbers its inodes from the same
    /// start, so two devices' files usually share inode numbers.
    inodes: HashMap<(u32, u32, u64), Name>,
    /// Files added without a device (`add_inode`): matched on any device.
    any_device_inodes: HashMap<u64, Name>,
    devices: HashMap<(u32, u32), Name>,
    /// Trace-clock time of the run's start, in ns.
    pub t0_ns: u64,
    tasks: HashMap<String, Name>,
    /// Per thread id, the scenario device and time (µs) of its last `writeback_written` not yet followed by
    /// `writeback_pages_written` (which names no device; wb_workfn fires it right after its passes over one bdi).
    flusher_device: HashMap<u32, (Name, u64)>,
    /// Thread names by pid, learnt from the trace itself, for lines whose comm ftrace printed as `<...>`.
    comms: HashMap<u32, String>,
    /// The scenario's task names (the probe names each task's thread after it).
    task_names: std::collections::HashSet<String>,
}

/// Why a known event's body could not be normalised.
#[derive(Debug, thiserror::Error)]
pub enum NormaliseError {
    #[error("{event}: cannot read `{body}`: {why}")]
    Body { event: String, body: String, why: String },
    #[error(transparent)]
    Field(#[from] FieldError),
}

fn body_err(event: &str, body: &str, why: impl Into<String>) -> NormaliseError {
    NormaliseError::Body { event: event.to_string(), body: body.to_string(), why: why.into() }
}

/// `key=value` tokens of a body (tokens without '=' are skipped).
fn kv(body: &str) -> impl Iterator<Item = (&str, &str)> {
    body.split_ascii_whitespace().filter_map(|t| t.split_once('='))
}

fn get<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    kv(body).find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn parse_dev(s: &str) -> Option<(u32, u32)> {
    let s = s.trim_end_matches(':');
    let (a, b) = s.split_once(':').or_else(|| s.split_once(','))?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Normaliser {
    pub fn new(t0_ns: u64) -> Self {
        Normaliser { t0_ns, ..Default::default() }
    }

    /// A scenario file on one device.
    pub fn add_inode_on(&mut self, major: u32, minor: u32, ino: u64, file: &str) {
        self.inodes.insert((major, minor, ino), Arc::from(file));
    }

    /// A scenario file on whichever device (single-device uses and tests).
    pub fn add_inode(&mut self, ino: u64, file: &str) {
        self.any_device_inodes.insert(ino, Arc::from(file));
    }

    pub fn add_device(&mut self, major: u32, minor: u32, name: &str) {
        self.devices.insert((major, minor), Arc::from(name));
    }

    fn file(&self, dev: (u32, u32), ino: u64) -> Name {
        self.inodes
            .get(&(dev.0, dev.1, ino))
            .or_else(|| self.any_device_inodes.get(&ino))
            .cloned()
            .unwrap_or_else(|| Arc::from(format!("ino:{ino}")))
    }

    fn device(&self, dev: (u32, u32)) -> Option<Name> {
        self.devices.get(&dev).cloned()
    }

    fn task(&mut self, comm: &str) -> Name {
        if let Some(t) = self.tasks.get(comm) {
            return t.clone();
        }
        let n: Name = Arc::from(normalise_comm(comm));
        self.tasks.insert(comm.to_string(), n.clone());
        n
    }

    /// Remembers `raw`'s thread name for its pid (see [`Normaliser::event`]); placeholders are ignored.
    pub fn learn_comm(&mut self, raw: &RawLine<'_>) {
        // A task's own name beats anything else seen for its pid: a new thread's first events can carry a stale
        // name from ftrace's saved cmdlines (a recycled pid: `cargo` in traces/write/slow_device_1g).
        let task = self.task_names.contains(raw.comm);
        if task || (raw.comm != UNKNOWN_COMM && !self.comms.contains_key(&raw.pid)) {
            self.comms.insert(raw.pid, raw.comm.to_string());
        }
    }

    /// Declares a scenario task name (see [`Normaliser::learn_comm`]).
    pub fn add_task(&mut self, name: &str) {
        self.task_names.insert(name.to_string());
    }

    /// Normalises one trace line. `Ok(None)`: not an event pcsim models, on a device outside the scenario, or fired
    /// by one of the probe's own threads. A comm that ftrace printed as `<...>` (its pid fell out of the saved
    /// cmdlines cache, which a busy host churns) is replaced by the name learnt for the pid ([`learn_comm`]).
    ///
    /// [`learn_comm`]: Normaliser::learn_comm
    pub fn event(&mut self, raw: &RawLine<'_>) -> Result<Option<Event>, NormaliseError> {
        let comm = match self.comms.get(&raw.pid) {
            Some(c) if raw.comm == UNKNOWN_COMM || self.task_names.contains(c) => c.clone(),
            _ => raw.comm.to_string(),
        };
        // Completions run in interrupt context on whatever thread is on the CPU, the probe's own included: they
        // belong to the workload's I/O whatever the comm says.
        let irq_context = matches!(
            raw.event,
            "block_rq_complete" | "block_io_done" | "block_bio_complete" | "block_rq_error" | "block_rq_requeue"
        );
        if PROBE_THREADS.contains(&comm.as_str()) && !irq_context {
            return Ok(None);
        }
        let kind = if raw.event == "writeback_pages_written" {
            // The tracepoint cannot be filtered by device and every bdi's flusher fires it: keep it only when the
            // same thread ended a pass (writeback_written) on a scenario device within the last PAGES_WRITTEN_US.
            let Some((device, at)) = self.flusher_device.remove(&raw.pid) else { return Ok(None) };
            if raw.ts_us.saturating_sub(at) > PAGES_WRITTEN_US {
                return Ok(None);
            }
            let pages = raw.body.trim();
            EventKind::from_fields(raw.event, &[("device", &device), ("pages", pages)])?
        } else {
            let Some(kind) = self.kind(raw.event, raw.body)? else { return Ok(None) };
            if let EventKind::WritebackWritten { device, .. } = &kind {
                self.flusher_device.insert(raw.pid, (device.clone(), raw.ts_us));
            }
            kind
        };
        let time = Nanos(raw.ts_us.saturating_mul(1000).saturating_sub(self.t0_ns));
        Ok(Some(Event { time, task: self.task(&comm), kind }))
    }

    fn kind(&self, event: &str, body: &str) -> Result<Option<EventKind>, NormaliseError> {
        let Some(_) = EventKind::system_of(event) else { return Ok(None) };
        let mut pairs: Vec<(&str, String)> = Vec::with_capacity(14);
        let keep = match event {
            "page_cache_sync_ra" | "page_cache_async_ra" | "page_cache_ra_order" | "page_cache_ra_unbounded" => {
                self.readahead(event, body, &mut pairs)?
            }
            "mm_filemap_add_to_page_cache" | "mm_filemap_delete_from_page_cache" => {
                self.filemap_folio(event, body, &mut pairs)?
            }
            "mm_filemap_fault" | "mm_filemap_get_pages" | "mm_filemap_map_pages" => {
                self.filemap_range(event, body, &mut pairs)?
            }
            "global_dirty_state" => self.global_dirty_state(body, &mut pairs)?,
            "writeback_dirty_inode_enqueue" | "sb_mark_inode_writeback" | "sb_clear_inode_writeback" => {
                self.inode_writeback(event, body, &mut pairs)?
            }
            ev if ev.starts_with("writeback_")
                || matches!(ev, "balance_dirty_pages" | "bdi_dirty_ratelimit" | "folio_wait_writeback") =>
            {
                self.bdi_event(event, body, &mut pairs)?
            }
            "block_split" => self.block_split(event, body, &mut pairs)?,
            ev if ev.starts_with("block_") => self.block_request(event, body, &mut pairs)?,
            _ => false,
        };
        if !keep {
            return Ok(None);
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(Some(EventKind::from_fields(event, &refs)?))
    }

    /// readahead:*: `dev=M:N ino=HEX k=v...`.
    fn readahead<'b>(
        &self,
        event: &str,
        body: &'b str,
        pairs: &mut Vec<(&'b str, String)>,
    ) -> Result<bool, NormaliseError> {
        let e = |why: &str| body_err(event, body, why);
        let hex_ino = |v: &str| u64::from_str_radix(v, 16).map_err(|_| e("inode is not hex"));
        let dev = get(body, "dev").and_then(parse_dev).ok_or_else(|| e("no dev="))?;
        if self.device(dev).is_none() {
            return Ok(false);
        }
        for (k, v) in kv(body) {
            match k {
                "dev" => {}
                "ino" => pairs.push(("file", self.file(dev, hex_ino(v)?).to_string())),
                _ => pairs.push((k, v.to_string())),
            }
        }
        Ok(true)
    }

    /// mm_filemap_add_to_page_cache / _delete_from_page_cache: `dev M:N ino HEX pfn=.. ofs=BYTES order=N`.
    fn filemap_folio<'b>(
        &self,
        event: &str,
        body: &'b str,
        pairs: &mut Vec<(&'b str, String)>,
    ) -> Result<bool, NormaliseError> {
        let e = |why: &str| body_err(event, body, why);
        let hex_ino = |v: &str| u64::from_str_radix(v, 16).map_err(|_| e("inode is not hex"));
        // "dev 7:0 ino c pfn=0x.. ofs=4096 order=0"
        let toks: Vec<&str> = body.split_ascii_whitespace().collect();
        if toks.len() < 4 || toks[0] != "dev" || toks[2] != "ino" {
            return Err(e("expected `dev M:N ino HEX ...`"));
        }
        let dev = parse_dev(toks[1]).ok_or_else(|| e("bad dev"))?;
        if self.device(dev).is_none() {
            return Ok(false);
        }
        pairs.push(("file", self.file(dev, hex_ino(toks[3])?).to_string()));
        let ofs: u64 = get(body, "ofs").and_then(|v| v.parse().ok()).ok_or_else(|| e("no ofs="))?;
        pairs.push(("index", (ofs >> 12).to_string()));
        pairs.push(("order", get(body, "order").ok_or_else(|| e("no order="))?.to_string()));
        Ok(true)
    }

    /// mm_filemap_fault (`ofs=BYTES`), mm_filemap_get_pages and mm_filemap_map_pages (`ofs=A-B`).
    fn filemap_range<'b>(
        &self,
        event: &str,
        body: &'b str,
        pairs: &mut Vec<(&'b str, String)>,
    ) -> Result<bool, NormaliseError> {
        let e = |why: &str| body_err(event, body, why);
        let hex_ino = |v: &str| u64::from_str_radix(v, 16).map_err(|_| e("inode is not hex"));
        let dev = get(body, "dev").and_then(parse_dev).ok_or_else(|| e("no dev="))?;
        if self.device(dev).is_none() {
            return Ok(false);
        }
        let ino = hex_ino(get(body, "ino").ok_or_else(|| e("no ino="))?)?;
        pairs.push(("file", self.file(dev, ino).to_string()));
        let ofs = get(body, "ofs").ok_or_else(|| e("no ofs="))?;
        if event == "mm_filemap_fault" {
            let o: u64 = ofs.parse().map_err(|_| e("bad ofs"))?;
            pairs.push(("index", (o >> 12).to_string()));
        } else {
            let (a, b) = ofs.split_once('-').ok_or_else(|| e("ofs is not A-B"))?;
            let a: u64 = a.parse().map_err(|_| e("bad ofs"))?;
            let b: u64 = b.parse().map_err(|_| e("bad ofs"))?;
            pairs.push(("index", (a >> 12).to_string()));
            pairs.push(("last_index", (((b + 1) >> 12).saturating_sub(1)).to_string()));
        }
        Ok(true)
    }

    /// global_dirty_state: host-wide counters, renamed to vmstat's names.
    fn global_dirty_state<'b>(
        &self,
        body: &'b str,
        pairs: &mut Vec<(&'b str, String)>,
    ) -> Result<bool, NormaliseError> {
        for (k, v) in kv(body) {
            let k = match k {
                "dirty" => "nr_dirty",
                "writeback" => "nr_writeback",
                "dirtied" => "nr_dirtied",
                "written" => "nr_written",
                other => other,
            };
            pairs.push((k, v.to_string()));
        }
        Ok(true)
    }

    /// writeback_dirty_inode_enqueue, sb_mark_inode_writeback, sb_clear_inode_writeback: `dev M,N ino DEC dirtied J state S`.
    fn inode_writeback<'b>(
        &self,
        event: &str,
        body: &'b str,
        pairs: &mut Vec<(&'b str, String)>,
    ) -> Result<bool, NormaliseError> {
        let e = |why: &str| body_err(event, body, why);
        let dec_ino = |v: &str| v.parse::<u64>().map_err(|_| e("inode is not decimal"));
        // "dev 7,0 ino 12 dirtied 4295 state I_DIRTY_PAGES mode 0100644"
        let toks: Vec<&str> = body.split_ascii_whitespace().collect();
        let at = |key: &str| toks.iter().position(|t| *t == key).and_then(|i| toks.get(i + 1).copied());
        let dev = at("dev").and_then(parse_dev).ok_or_else(|| e("no dev"))?;
        let Some(device) = self.device(dev) else { return Ok(false) };
        pairs.push(("device", device.to_string()));
        pairs.push(("file", self.file(dev, dec_ino(at("ino").ok_or_else(|| e("no ino"))?)?).to_string()));
        pairs.push(("dirtied_when", at("dirtied").ok_or_else(|| e("no dirtied"))?.to_string()));
        let state = at("state").filter(|s| *s != "mode").unwrap_or("none");
        pairs.push(("state", state.to_string()));
        Ok(true)
    }

    /// The writeback events of a bdi (`bdi M:N: k=v...`), balance_dirty_pages and bdi_dirty_ratelimit included.
    fn bdi_event<'b>(
        &self,
        event: &str,
        body: &'b str,
        pairs: &mut Vec<(&'b str, String)>,
    ) -> Result<bool, NormaliseError> {
        let ev = event;
        let e = |why: &str| body_err(event, body, why);
        let dec_ino = |v: &str| v.parse::<u64>().map_err(|_| e("inode is not decimal"));
        // "bdi 7:0: k=v ..." (writeback_start & co. also carry "sb_dev 7:0").
        let rest = body.strip_prefix("bdi ").ok_or_else(|| e("expected `bdi NAME: ...`"))?;
        let (bdi, kvs) = rest.split_once(": ").unwrap_or((rest.trim_end_matches(':'), ""));
        let Some(dev) = parse_dev(bdi) else { return Ok(false) };
        let Some(device) = self.device(dev) else { return Ok(false) };
        pairs.push(("device", device.to_string()));
        for (k, v) in kv(kvs) {
            match k {
                "cgroup_ino" | "sb_dev" => {}
                "ino" => pairs.push(("file", self.file(dev, dec_ino(v)?).to_string())),
                "awrite_bw" => pairs.push(("avg_write_bw", v.to_string())),
                // age = (jiffies - dirtied_when) / HZ: host time, like dirtied_when.
                "age" if ev != "writeback_queue_io" => {}
                "state" | "flags" => pairs.push((k, if v.is_empty() { "none".into() } else { v.to_string() })),
                _ => pairs.push((k, v.to_string())),
            }
        }
        Ok(true)
    }

    /// block_split: `M,N RWBS SECTOR / NEW_SECTOR [comm]`.
    fn block_split<'b>(
        &self,
        event: &str,
        body: &'b str,
        pairs: &mut Vec<(&'b str, String)>,
    ) -> Result<bool, NormaliseError> {
        let e = |why: &str| body_err(event, body, why);
        // "7,0 W 2048 / 4608 [kworker/u8:1]"
        let toks: Vec<&str> = body.split_ascii_whitespace().collect();
        if toks.len() < 5 || toks[3] != "/" {
            return Err(e("expected `DEV RWBS SECTOR / NEW_SECTOR`"));
        }
        let dev = parse_dev(toks[0]).ok_or_else(|| e("bad device"))?;
        let Some(device) = self.device(dev) else { return Ok(false) };
        pairs.push(("device", device.to_string()));
        pairs.push(("rwbs", toks[1].to_string()));
        pairs.push(("sector", toks[2].to_string()));
        pairs.push(("new_sector", toks[4].to_string()));
        Ok(true)
    }

    /// The other block events: `M,N RWBS [BYTES] (...) SECTOR + NR [...]`.
    fn block_request<'b>(
        &self,
        event: &str,
        body: &'b str,
        pairs: &mut Vec<(&'b str, String)>,
    ) -> Result<bool, NormaliseError> {
        let ev = event;
        let e = |why: &str| body_err(event, body, why);
        // "7,0 RA 16384 () 32770 + 32 be,0,4 [dd]" (issue/insert), "7,0 RA () 32770 + 32 be,0,4 [0]"
        // (complete), "7,0 R 32770 + 32 [dd]" (bio events, getrq).
        let toks: Vec<&str> = body.split_ascii_whitespace().collect();
        if toks.len() < 2 {
            return Err(e("too short"));
        }
        let dev = parse_dev(toks[0]).ok_or_else(|| e("bad device"))?;
        let Some(device) = self.device(dev) else { return Ok(false) };
        pairs.push(("device", device.to_string()));
        pairs.push(("rwbs", toks[1].to_string()));
        let plus = toks.iter().position(|t| *t == "+").ok_or_else(|| e("no `sector + nr`"))?;
        if plus < 1 || plus + 1 >= toks.len() {
            return Err(e("no `sector + nr`"));
        }
        if matches!(ev, "block_rq_issue" | "block_rq_insert" | "block_rq_merge" | "block_io_start" | "block_io_done") {
            pairs.push(("bytes", toks[2].to_string()));
        }
        pairs.push(("sector", toks[plus - 1].to_string()));
        pairs.push(("nr_sector", toks[plus + 1].to_string()));
        if matches!(ev, "block_rq_complete" | "block_rq_error" | "block_bio_complete") {
            let last = toks.last().unwrap().trim_start_matches('[').trim_end_matches(']');
            pairs.push(("error", last.to_string()));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm() -> Normaliser {
        let mut n = Normaliser::new(6_289_208_000_000);
        n.add_inode(12, "data");
        n.add_device(7, 0, "disk0");
        n
    }

    fn one(line: &str) -> String {
        let mut n = norm();
        let raw = split_line(line).expect("splits");
        n.event(&raw).unwrap().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn splits_columns() {
        let r = split_line("  dd-5942    [001] .....  6289.209927: page_cache_sync_ra: dev=7:0 ino=c index=0").unwrap();
        assert_eq!((r.comm, r.pid, r.cpu, r.ts_us), ("dd", 5942, 1, 6_289_209_927));
        assert_eq!(r.event, "page_cache_sync_ra");
        assert_eq!(r.body, "dev=7:0 ino=c index=0");
        let r = split_line(" kworker/u8:3-120 (  120) [000] ..s1.  6.000001: writeback_pages_written: 7").unwrap();
        assert_eq!((r.comm, r.pid, r.event, r.body), ("kworker/u8:3", 120, "writeback_pages_written", "7"));
        let r = split_line("my task-x-77 [1] 1.000000: block_rq_issue: 7,0 R 4096 () 8 + 8 be,0,4 [my task-x]");
        assert_eq!(r.unwrap().comm, "my task-x");
        assert!(split_line("# tracer: nop").is_none());
        assert!(split_line("CPU:1 [LOST 3 EVENTS]").is_none());
    }

    #[test]
    fn normalises_host_lines() {
        assert_eq!(
            one("dd-5942 [001] ..... 6289.209927: page_cache_sync_ra: dev=7:0 ino=c index=0 req_count=1 order=0 size=0 async_size=0 ra_pages=640 mmap_miss=0 prev_pos=-1"),
            "1927000 dd page_cache_sync_ra file=data index=0 req_count=1 order=0 size=0 async_size=0 ra_pages=640 mmap_miss=0 prev_pos=-1"
        );
        assert_eq!(
            one("dd-5942 [001] ..... 6289.210044: mm_filemap_add_to_page_cache: dev 7:0 ino c pfn=0x143c5c ofs=16384 order=2"),
            "2044000 dd mm_filemap_add_to_page_cache file=data index=4 order=2"
        );
        assert_eq!(
            one("dd-5942 [001] ..... 6289.210031: mm_filemap_get_pages: dev=7:0 ino=c ofs=0-4095"),
            "2031000 dd mm_filemap_get_pages file=data index=0 last_index=0"
        );
        assert_eq!(
            one("dd-5942 [001] ..... 6289.209940: block_rq_issue: 7,0 RA 16384 () 32770 + 32 be,0,4 [dd]"),
            "1940000 dd block_rq_issue device=disk0 rwbs=RA bytes=16384 sector=32770 nr_sector=32"
        );
        assert_eq!(
            one("<idle>-0 [001] ..s1. 6289.210025: block_rq_complete: 7,0 RA () 32770 + 32 be,0,4 [0]"),
            "2025000 idle block_rq_complete device=disk0 rwbs=RA sector=32770 nr_sector=32 error=0"
        );
        assert_eq!(
            one("kworker/u8:0-9 [000] ..... 6289.300000: writeback_dirty_folio: bdi 7:0: ino=12 index=3"),
            "92000000 kworker writeback_dirty_folio device=disk0 file=data index=3"
        );
        assert_eq!(
            one("dd-1 [000] ..... 6289.300000: bdi_dirty_ratelimit: bdi 7:0: write_bw=1 awrite_bw=2 dirty_rate=3 dirty_ratelimit=4 task_ratelimit=5 balanced_dirty_ratelimit=6 cgroup_ino=1"),
            "92000000 dd bdi_dirty_ratelimit device=disk0 write_bw=1 avg_write_bw=2 dirty_rate=3 dirty_ratelimit=4 task_ratelimit=5 balanced_dirty_ratelimit=6"
        );
        assert_eq!(
            one("kworker/u8:0-9 [000] ..... 6289.300000: writeback_start: bdi 7:0: sb_dev 7:0 nr_pages=1024 sync_mode=0 kupdate=1 range_cyclic=1 background=0 reason=periodic cgroup_ino=1"),
            "92000000 kworker writeback_start device=disk0 nr_pages=1024 sync_mode=0 kupdate=1 range_cyclic=1 background=0 reason=periodic"
        );
        // Another device, another inode.
        assert_eq!(one("dd-1 [000] ..... 6289.300000: mm_filemap_fault: dev=8:0 ino=c ofs=0"), "");
        assert_eq!(
            one("dd-1 [000] ..... 6289.300000: mm_filemap_fault: dev=7:0 ino=1f ofs=8192"),
            "92000000 dd mm_filemap_fault file=ino:31 index=2"
        );
    }

    #[test]
    fn normalises_write_side_lines() {
        assert_eq!(
            one("kworker/u8:4-16944 [000] d..2. 6289.300000: sb_clear_inode_writeback: dev 7,0 ino 12 dirtied 4298602398 state  mode 0100644"),
            "92000000 kworker sb_clear_inode_writeback device=disk0 file=data dirtied_when=4298602398 state=none"
        );
        assert_eq!(
            one("w-1 [000] ..... 6289.300000: writeback_dirty_inode_start: bdi 7:0: ino=12 state= flags=I_DIRTY_SYNC"),
            "92000000 w writeback_dirty_inode_start device=disk0 file=data state=none flags=I_DIRTY_SYNC"
        );
        assert_eq!(
            one("kworker/u8:0-9 [000] ..... 6289.300000: writeback_single_inode_start: bdi 7:0: ino=12 state=I_DIRTY_PAGES|I_SYNC dirtied_when=4298602398 age=3 index=0 to_write=3072 wrote=0 cgroup_ino=1"),
            "92000000 kworker writeback_single_inode_start device=disk0 file=data state=I_DIRTY_PAGES|I_SYNC dirtied_when=4298602398 index=0 to_write=3072 wrote=0"
        );
        assert_eq!(
            one("w-1 [000] ..... 6289.300000: folio_wait_writeback: bdi 7:0: ino=12 index=32"),
            "92000000 w folio_wait_writeback device=disk0 file=data index=32"
        );
        assert_eq!(
            one("kworker/u8:0-9 [000] ..... 6289.300000: block_split: 7,0 W 2048 / 4608 [kworker/u8:0]"),
            "92000000 kworker block_split device=disk0 rwbs=W sector=2048 new_sector=4608"
        );
        assert_eq!(
            one("w-1 [000] ..... 6289.300000: block_io_start: 7,0 W 65536 () 18050 + 128 be,0,4 [w]"),
            "92000000 w block_io_start device=disk0 rwbs=W bytes=65536 sector=18050 nr_sector=128"
        );
        assert_eq!(
            one("<idle>-0 [000] ..... 6289.300000: block_bio_complete: 7,0 W 18050 + 128 [0]"),
            "92000000 idle block_bio_complete device=disk0 rwbs=W sector=18050 nr_sector=128 error=0"
        );
        // The probe's own threads are not the workload...
        assert_eq!(one("pcsim-sampler-5 [000] ..... 6289.300000: global_dirty_state: dirty=1 writeback=0 bg_thresh=2 thresh=4 limit=4 dirtied=5 written=6"), "");
        // ...but a completion that interrupted one of them is (traces/kernel/fadvise_sequential run 1 had lost 92 of
        // its 263 block_rq_complete that way).
        assert_eq!(
            one("pcsim-trace-7 [001] ..s.. 6289.300000: block_rq_complete: 7,0 R () 2048 + 8 be,0,4 [0]"),
            "92000000 pcsim-trace block_rq_complete device=disk0 rwbs=R sector=2048 nr_sector=8 error=0"
        );
    }

    #[test]
    fn pages_written_follows_its_flushers_pass() {
        let mut n = norm();
        let mut feed = |line: &str| n.event(&split_line(line).unwrap()).unwrap().map(|e| e.to_string());
        let pass = "kworker/u8:4-16 [000] ..... 6289.300000: writeback_written: bdi 7:0: sb_dev 7:0 nr_pages=10 sync_mode=0 kupdate=1 range_cyclic=1 background=0 reason=periodic cgroup_ino=1";
        assert!(feed(pass).is_some());
        assert_eq!(
            feed("kworker/u8:4-16 [000] ..... 6289.300010: writeback_pages_written: 16").as_deref(),
            Some("92010000 kworker writeback_pages_written device=disk0 pages=16")
        );
        // Consumed: the same thread's next round (another bdi's, filtered out of the trace) is not ours.
        assert_eq!(feed("kworker/u8:4-16 [000] ..... 6290.000000: writeback_pages_written: 23"), None);
        // Another thread, or too late after the pass: not attributed either.
        assert!(feed(pass).is_some());
        assert_eq!(feed("kworker/u8:1-17 [000] ..... 6289.300010: writeback_pages_written: 5"), None);
        assert_eq!(feed("kworker/u8:4-16 [000] ..... 6289.500001: writeback_pages_written: 5"), None);
    }

    #[test]
    fn placeholder_comms_take_the_name_learnt_for_the_pid() {
        let mut n = norm();
        let named = "writer-77 [000] ..... 6289.300000: writeback_dirty_folio: bdi 7:0: ino=12 index=0";
        let anon = "<...>-77 [000] ..... 6289.300001: writeback_dirty_folio: bdi 7:0: ino=12 index=32";
        n.learn_comm(&split_line(anon).unwrap());
        n.learn_comm(&split_line(named).unwrap());
        let e = n.event(&split_line(anon).unwrap()).unwrap().unwrap();
        assert_eq!(&*e.task, "writer");
        let other = "<...>-78 [000] ..... 6289.300001: writeback_dirty_folio: bdi 7:0: ino=12 index=64";
        assert_eq!(&*n.event(&split_line(other).unwrap()).unwrap().unwrap().task, "<...>");
        // A stale name from a recycled pid gives way to the task's own name seen later for the same pid.
        n.add_task("writer");
        let stale = "cargo-79 [000] ..... 6289.300002: writeback_dirty_folio: bdi 7:0: ino=12 index=96";
        let later = "writer-79 [000] ..... 6289.300003: writeback_dirty_folio: bdi 7:0: ino=12 index=128";
        n.learn_comm(&split_line(stale).unwrap());
        n.learn_comm(&split_line(later).unwrap());
        assert_eq!(&*n.event(&split_line(stale).unwrap()).unwrap().unwrap().task, "writer");
    }

    #[test]
    fn files_of_two_devices_with_the_same_inode_keep_their_names() {
        let mut n = Normaliser::new(6_289_208_000_000);
        n.add_device(7, 0, "disk0");
        n.add_device(7, 1, "disk1");
        n.add_inode_on(7, 0, 12, "out0");
        n.add_inode_on(7, 1, 12, "out1");
        let mut one = |line: &str| n.event(&split_line(line).unwrap()).unwrap().unwrap().to_string();
        assert!(one("w-1 [000] ..... 6289.300000: mm_filemap_add_to_page_cache: dev 7:1 ino c pfn=0x1 ofs=0 order=5")
            .contains("file=out1"));
        assert!(
            one("w-1 [000] ..... 6289.300000: writeback_dirty_folio: bdi 7:0: ino=12 index=0").contains("file=out0")
        );
        assert!(one("w-1 [000] ..... 6289.300000: writeback_dirty_folio: bdi 7:1: ino=12 index=0")
            .contains("device=disk1 file=out1"));
        assert!(
            one("w-1 [000] ..... 6289.300000: writeback_dirty_folio: bdi 7:1: ino=13 index=0").contains("file=ino:13")
        );
    }
}
