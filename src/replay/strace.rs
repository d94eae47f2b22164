//! strace importer: `strace -f -tt -T [-y] -o FILE` text (also `-ttt`, `-t`, no timestamps, no `-f`, and strace's
//! own stderr with `[pid N]` prefixes), replayed call by call (see docs/REPLAY_FORMATS.md for each call).
//!
//! - Lines: `[PID] [TIME] NAME(ARGS) = RET [ERRNO (text)] <DUR>`; arguments are split by a tokenizer that knows
//!   quoted strings, nested brackets, comments and `-y` annotations; the result is read from the right.
//! - `NAME(... <unfinished ...>` and `<... NAME resumed>...` are joined per thread (an unmatched resumed line is
//!   skipped as `unmatched_resumed`); the call takes the time of its first half. strace's
//!   `strace: Process N attached` printed into the middle of a line (stderr output) is cut out and the line joined
//!   with the next.
//! - Failed calls (`= -1 EXXX`) are skipped as `failed_call`, calls without a result (`= ?`) as `no_result`;
//!   signal lines (`signal`), `+++ exited/killed/superseded +++` (`exit_line`: the process's descriptors are
//!   closed when its last thread exits) and strace's messages (`strace_message`) too.
//! - Processes: each `Record::process` is one descriptor table. clone/clone3/fork/vfork results make new tasks:
//!   `CLONE_THREAD` (and `CLONE_FILES`) children share their parent's table, others get a copy of it (the copies
//!   are opened in the child's table on first use). A task seen before its parent's clone returned is matched to
//!   the pending clone. Lines without a pid (no `-f`, or stderr output with a single tracee) belong to the only
//!   live task.
//! - `time_ns` is the call's entry time less the first line's, raised where needed to never decrease (a call
//!   that resumed after others is emitted when it completes); `-t`/`-tt` times wrap at midnight.

use std::collections::VecDeque;
use std::io::BufRead;

use super::lines::{Line, Lines};
use super::strace_calls::State;
use super::strace_lex::{classify, parse_result, scan_args, split_prefix, Body, Prefix, Ret};
use super::{ErrorKind, ImportError, Importer, Location, ProcessInfo, Record, Stats, ThreadInfo, TraceFile};

const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// A call waiting for its `resumed` half.
#[derive(Debug)]
struct Pending {
    name: String,
    args: String,
    time_ns: u64,
    line: u64,
    /// For a clone-family call: the child already matched to it.
    child: Option<u32>,
}

/// Per-thread runtime state, parallel to `State::threads`.
#[derive(Debug)]
struct ThreadRt {
    live: bool,
    pending: Option<Pending>,
}

#[derive(Debug, Default)]
struct Clock {
    first: Option<u64>,
    day: u64,
    last_raw: Option<u64>,
    last_line: u64,
    last_emit: u64,
}

/// Imports strace text; an iterator of [`Record`]s.
pub struct StraceImporter<R> {
    origin: String,
    lines: Lines<R>,
    st: State,
    /// Thread key (the tid; 0 for lines without a pid before it is known) to index in `st.threads`.
    tasks: hashbrown::HashMap<u32, usize>,
    rt: Vec<ThreadRt>,
    /// The thread of the pid-less lines, once created.
    main: Option<usize>,
    carry: String,
    clock: Clock,
    pending: VecDeque<Record>,
    any_line: bool,
    done: bool,
}

fn is_clone(name: &str) -> bool {
    matches!(name, "clone" | "clone3" | "fork" | "vfork")
}

/// How a clone-family call's child relates to its parent: (shares the thread group, shares the fd table).
fn clone_kind(name: &str, args: &str) -> (bool, bool) {
    if name == "fork" || name == "vfork" {
        return (false, false);
    }
    let flags = args.find("flags=").map_or("", |i| {
        let f = &args[i + 6..];
        &f[..f.find([',', '}']).unwrap_or(f.len())]
    });
    (flags.contains("CLONE_THREAD"), flags.contains("CLONE_FILES") || flags.contains("CLONE_THREAD"))
}

impl<R: BufRead> StraceImporter<R> {
    /// An importer reading `reader`; `origin` names it in errors.
    pub fn new(origin: impl Into<String>, reader: R) -> Self {
        StraceImporter {
            origin: origin.into(),
            lines: Lines::new(reader),
            st: State::default(),
            tasks: hashbrown::HashMap::new(),
            rt: Vec::new(),
            main: None,
            carry: String::new(),
            clock: Clock::default(),
            pending: VecDeque::new(),
            any_line: false,
            done: false,
        }
    }

    fn new_thread(&mut self, key: u32, process: u32, name: Option<String>) -> usize {
        let i = self.st.threads.len();
        self.st.threads.push(ThreadInfo { tid: key, process, name });
        self.rt.push(ThreadRt { live: true, pending: None });
        self.tasks.insert(key, i);
        self.st.table.procs[process as usize].live += 1;
        i
    }

    fn new_process(&mut self, key: u32, parent: Option<u32>) -> usize {
        let p = self.st.table.new_proc(parent);
        let name = parent.and_then(|q| self.st.processes[q as usize].name.clone());
        self.st.processes.push(ProcessInfo { pid: key, name: name.clone() });
        self.new_thread(key, p, name)
    }

    /// The child `tid` of thread `parent`'s clone-family call, unless already known.
    fn spawn(&mut self, parent: usize, tid: u32, name: &str, args: &str) {
        if self.tasks.contains_key(&tid) {
            return;
        }
        let (thread, share_fds) = clone_kind(name, args);
        let p = self.st.threads[parent].process;
        let tname = self.st.threads[parent].name.clone();
        if thread || share_fds {
            if !thread {
                self.st.counters.note("clone_files_shares_table");
            }
            self.new_thread(tid, p, tname);
        } else {
            self.new_process(tid, Some(p));
        }
    }

    fn alias(&mut self, i: usize, tid: u32) -> usize {
        self.tasks.remove(&0);
        self.tasks.insert(tid, i);
        self.st.threads[i].tid = tid;
        let p = self.st.threads[i].process as usize;
        if self.st.processes[p].pid == 0 {
            self.st.processes[p].pid = tid;
        }
        i
    }

    /// The thread of a line: by its pid, or (no pid) the only live thread / the pid-less main thread.
    fn thread(&mut self, pid: Option<u32>, body: &Body<'_>) -> usize {
        let Some(tid) = pid else {
            if let Some(&i) = self.tasks.get(&0) {
                return i;
            }
            let mut live = self.rt.iter().enumerate().filter(|(_, t)| t.live).map(|(i, _)| i);
            if let (Some(i), None) = (live.next(), live.next()) {
                return i;
            }
            if let Some(m) = self.main.filter(|&m| self.rt[m].live) {
                return m;
            }
            let i = self.new_process(0, None);
            self.main = Some(i);
            return i;
        };
        if let Some(&i) = self.tasks.get(&tid) {
            return i;
        }
        let unaliased_main = self.tasks.get(&0).copied();
        // The pid-less main thread, now shown with its pid, finishing a call it started without one.
        if let (Some(m), Body::Resumed { name, .. }) = (unaliased_main, body) {
            if self.rt[m].pending.as_ref().is_some_and(|p| p.name == *name) {
                return self.alias(m, tid);
            }
        }
        // A child whose parent's clone has not returned yet.
        let parent = (0..self.rt.len())
            .filter(|&i| self.rt[i].live)
            .filter_map(|i| {
                self.rt[i].pending.as_ref().filter(|p| is_clone(&p.name) && p.child.is_none()).map(|p| (p.line, i))
            })
            .max();
        if let Some((_, i)) = parent {
            let (name, args) = match self.rt[i].pending.as_mut() {
                Some(p) => {
                    p.child = Some(tid);
                    (p.name.clone(), p.args.clone())
                }
                None => (String::new(), String::new()),
            };
            self.spawn(i, tid, &name, &args);
            if let Some(&c) = self.tasks.get(&tid) {
                return c;
            }
        }
        if let Some(m) = unaliased_main {
            return self.alias(m, tid);
        }
        if !self.st.threads.is_empty() {
            self.st.counters.note("task_without_parent");
        }
        self.new_process(tid, None)
    }

    fn time(&mut self, pre: &Prefix<'_>) -> u64 {
        let Some(raw) = pre.time_ns else {
            return self.clock.last_line;
        };
        let c = &mut self.clock;
        if pre.time_of_day {
            if c.last_raw.is_some_and(|last| raw.saturating_add(DAY_NS / 2) < last) {
                c.day = c.day.saturating_add(DAY_NS);
            }
            c.last_raw = Some(raw);
        }
        let t = raw.saturating_add(c.day);
        let first = *c.first.get_or_insert(t);
        c.last_line = t.saturating_sub(first);
        c.last_line
    }

    /// Turns the ops the line produced into records.
    fn emit(&mut self, thread: usize, time_ns: u64, dur: Option<u64>) {
        let process = self.st.threads[thread].process;
        let time_ns = if time_ns < self.clock.last_emit {
            if !self.st.out.is_empty() {
                self.st.counters.note("time_raised_to_monotonic");
            }
            self.clock.last_emit
        } else {
            time_ns
        };
        for (op, main) in self.st.out.drain(..) {
            self.clock.last_emit = time_ns;
            self.st.counters.op();
            self.pending.push_back(Record {
                time_ns,
                process,
                thread: thread as u32,
                op,
                duration_ns: if main { dur } else { None },
            });
        }
    }

    fn exit(&mut self, i: usize, time_ns: u64, closes: bool) {
        if !self.rt[i].live {
            return;
        }
        self.rt[i].live = false;
        self.rt[i].pending = None;
        let tid = self.st.threads[i].tid;
        if self.tasks.get(&tid) == Some(&i) {
            self.tasks.remove(&tid);
        }
        let p = self.st.threads[i].process;
        let pr = &mut self.st.table.procs[p as usize];
        pr.live = pr.live.saturating_sub(1);
        if pr.live == 0 && closes {
            self.st.process_exit(p);
            self.emit(i, time_ns, None);
        }
    }

    /// A complete call of thread `i`.
    fn call(&mut self, i: usize, name: &str, args: &str, result: &str, time_ns: u64) {
        let Some(res) = parse_result(result) else {
            return self.st.counters.skip("malformed_result");
        };
        match res.ret {
            Ret::Unknown => return self.st.counters.skip("no_result"),
            Ret::Int(v) if v < 0 => return self.st.counters.skip("failed_call"),
            _ => {}
        }
        if is_clone(name) {
            if let Ret::Int(child) = res.ret {
                if let Ok(child) = u32::try_from(child) {
                    if child > 0 {
                        self.spawn(i, child, name, args);
                    }
                }
            }
            return self.st.counters.note("clone");
        }
        let p = self.st.threads[i].process;
        self.st.syscall(p, name, args, &res);
        self.emit(i, time_ns, res.dur_ns);
    }

    /// Reads one line; false at the end.
    fn step(&mut self) -> Result<bool, ImportError> {
        let (line_no, text) = match self.lines.next_line() {
            Ok(Some((n, Line::Text(t)))) => (n, t.into_owned()),
            Ok(Some((_, Line::TooLong))) => {
                self.any_line = true;
                self.st.counters.record();
                self.st.counters.skip("line_too_long");
                return Ok(true);
            }
            Ok(None) => {
                if !self.any_line {
                    return Err(ImportError::new(
                        &self.origin,
                        Location::Line(1),
                        ErrorKind::NotThisFormat,
                        "empty input: no strace line".into(),
                        "record with `strace -f -tt -T -y -o FILE COMMAND`",
                    ));
                }
                return Ok(false);
            }
            Err(e) => return Err(ImportError::io(&self.origin, Location::Line(self.lines.line_no + 1), e)),
        };
        self.any_line = true;
        let text = if self.carry.is_empty() { text } else { std::mem::take(&mut self.carry) + &text };
        // strace's stderr messages can land in the middle of a call's line: keep the start for the next line.
        if let Some(at) = text.find("strace: Process ") {
            if at > 0 && (text.ends_with(" attached") || text.ends_with(" detached")) {
                if at <= super::lines::MAX_LINE {
                    self.carry = text[..at].to_string();
                }
                self.st.counters.record();
                self.st.counters.skip("strace_message");
                return Ok(true);
            }
        }
        self.st.counters.record();
        let pre = split_prefix(&text);
        let time_ns = self.time(&pre);
        let body = classify(pre.body);
        match body {
            Body::Signal => self.st.counters.skip("signal"),
            Body::Message => self.st.counters.skip("strace_message"),
            Body::Exited | Body::Superseded => {
                self.st.counters.skip("exit_line");
                if pre.pid.is_none_or(|tid| self.tasks.contains_key(&tid)) {
                    let i = self.thread(pre.pid, &body);
                    self.exit(i, time_ns, body == Body::Exited);
                }
            }
            Body::Unknown if pre.body.is_empty() => self.st.counters.skip("blank_line"),
            Body::Unknown => {
                if self.st.counters.records_read() == 1 && pre.time_ns.is_none() && pre.pid.is_none() {
                    return Err(ImportError::new(
                        &self.origin,
                        Location::Line(line_no),
                        ErrorKind::NotThisFormat,
                        format!("not an strace line: `{}`", text.chars().take(60).collect::<String>()),
                        "record with `strace -f -tt -T -y -o FILE COMMAND`; lines look like \
                         `PID HH:MM:SS.UUUUUU NAME(ARGS) = RET <DUR>`",
                    ));
                }
                self.st.counters.skip("malformed_line")
            }
            Body::Unfinished { name, args } => {
                let i = self.thread(pre.pid, &body);
                if self.rt[i].pending.is_some() {
                    self.st.counters.skip("unmatched_unfinished");
                }
                self.rt[i].pending = Some(Pending {
                    name: name.to_string(),
                    args: args.to_string(),
                    time_ns,
                    line: line_no,
                    child: None,
                });
                self.st.counters.note("unfinished");
            }
            Body::Resumed { name, rest } => {
                let i = self.thread(pre.pid, &body);
                match self.rt[i].pending.take() {
                    Some(p) if p.name == name => {
                        let joined = p.args + rest;
                        let mut spans = Vec::new();
                        match scan_args(&joined, &mut spans) {
                            Some(close) => {
                                let (args, result) = (&joined[..close], &joined[close + 1..]);
                                if let Some(child) = p.child.filter(|_| is_clone(name)) {
                                    // Its child is known already; only check the result agrees.
                                    if !result.contains(&child.to_string()) {
                                        self.st.counters.note("clone_child_mismatch");
                                    }
                                }
                                self.call(i, name, args, result, p.time_ns)
                            }
                            None => self.st.counters.skip("malformed_line"),
                        }
                    }
                    other => {
                        self.rt[i].pending = other;
                        self.st.counters.skip("unmatched_resumed")
                    }
                }
            }
            Body::Call { name, args, result } => {
                let i = self.thread(pre.pid, &body);
                self.call(i, name, args, result, time_ns)
            }
        }
        Ok(true)
    }
}

impl<R: BufRead> Iterator for StraceImporter<R> {
    type Item = Result<Record, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<R: BufRead> Importer for StraceImporter<R> {
    fn files(&self) -> &[TraceFile] {
        &self.st.files
    }
    fn processes(&self) -> &[ProcessInfo] {
        &self.st.processes
    }
    fn threads(&self) -> &[ThreadInfo] {
        &self.st.threads
    }
    fn stats(&self) -> Stats {
        self.st.counters.to_stats(Default::default())
    }
}
