//! The strace line grammar: `[PID] [TIME] NAME(ARGS) = RET [ERRNO (text)] <DUR>` and its other line kinds, with
//! a tokenizer for argument lists (quoted strings with escapes, nested `()[]{}`, `/* comments */`, `-y` fd
//! annotations `3</path>` whose `<>` strace escapes) and a result parser that reads from the right.

/// The pid column and timestamp of a line, and the rest.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Prefix<'a> {
    /// `PID ` (strace -f -o) or `[pid N] ` (strace -f on stderr).
    pub pid: Option<u32>,
    /// The timestamp in ns: since midnight (`-t`, `-tt`) or since the epoch / the previous line (`-ttt`, `-r`).
    pub time_ns: Option<u64>,
    /// Whether the timestamp is a time of day (it wraps at midnight).
    pub time_of_day: bool,
    pub body: &'a str,
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `S.FFFFFF` (any number of fraction digits, up to ns) in ns.
fn secs_frac(s: &str) -> Option<u64> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    if !all_digits(sec) || !(frac.is_empty() || all_digits(frac)) || frac.len() > 9 {
        return None;
    }
    let mut ns: u64 = frac.parse().unwrap_or(0);
    for _ in frac.len()..9 {
        ns *= 10;
    }
    sec.parse::<u64>().ok()?.checked_mul(1_000_000_000)?.checked_add(ns)
}

fn parse_time(tok: &str) -> Option<(u64, bool)> {
    if tok.contains(':') {
        let mut it = tok.splitn(3, ':');
        let (h, m, s) = (it.next()?, it.next()?, it.next()?);
        if !all_digits(h) || !all_digits(m) || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
        let s = secs_frac(s)?;
        Some(((h * 3600 + m * 60) * 1_000_000_000).checked_add(s).map(|t| (t, true))?)
    } else if tok.contains('.') {
        Some((secs_frac(tok)?, false))
    } else {
        None
    }
}

fn next_token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Splits off the pid column and the timestamp.
pub(crate) fn split_prefix(line: &str) -> Prefix<'_> {
    let mut rest = line;
    let mut pid = None;
    if let Some(r) = rest.strip_prefix("[pid ") {
        if let Some((n, r)) = r.split_once(']') {
            if let Ok(n) = n.trim().parse() {
                pid = Some(n);
                rest = r;
            }
        }
    } else {
        let (tok, r) = next_token(rest);
        if all_digits(tok) && !r.trim_start().starts_with('(') {
            if let Ok(n) = tok.parse() {
                pid = Some(n);
                rest = r;
            }
        }
    }
    let (tok, r) = next_token(rest);
    let (time_ns, time_of_day, rest) = match parse_time(tok) {
        Some((t, tod)) => (Some(t), tod, r),
        None => (None, false, rest),
    };
    Prefix { pid, time_ns, time_of_day, body: rest.trim() }
}

/// What a line's body is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Body<'a> {
    /// A complete call: its name, the text between the parentheses and the text after.
    Call { name: &'a str, args: &'a str, result: &'a str },
    /// `NAME(ARGS <unfinished ...>`: the arguments printed so far.
    Unfinished { name: &'a str, args: &'a str },
    /// `<... NAME resumed>REST`: the rest of the arguments, `)`, and the result.
    Resumed { name: &'a str, rest: &'a str },
    /// `--- SIGxxx {...} ---`, `--- stopped by ... ---`.
    Signal,
    /// `+++ exited with N +++`, `+++ killed by SIG +++`.
    Exited,
    /// `+++ superseded by execve in pid N +++`.
    Superseded,
    /// `strace: ...` and other messages of strace itself.
    Message,
    /// Anything else.
    Unknown,
}

const UNFINISHED: &str = "<unfinished ...>";

fn call_name(s: &str) -> Option<(&str, &str)> {
    let end = s.find('(')?;
    let name = &s[..end];
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then(|| (name, &s[end + 1..]))
}

/// Classifies a body (without pid and time).
pub(crate) fn classify(body: &str) -> Body<'_> {
    if body.starts_with("--- ") {
        return Body::Signal;
    }
    if body.starts_with("+++ ") {
        if body.contains("superseded by execve") {
            return Body::Superseded;
        }
        return if body.contains("exited") || body.contains("killed") { Body::Exited } else { Body::Unknown };
    }
    if body.starts_with("strace: ") || body.starts_with("<detached") {
        return Body::Message;
    }
    if let Some(r) = body.strip_prefix("<... ") {
        if let Some((name, rest)) = r.split_once(" resumed>") {
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Body::Resumed { name, rest };
            }
        }
        return Body::Unknown;
    }
    let Some((name, after)) = call_name(body) else {
        return Body::Unknown;
    };
    if let Some(args) = body.strip_suffix(UNFINISHED) {
        let args = &args[name.len() + 1..];
        return Body::Unfinished { name, args: args.trim_end() };
    }
    match scan_args(after, &mut Vec::new()) {
        Some(close) => Body::Call { name, args: &after[..close], result: &after[close + 1..] },
        None => Body::Unknown,
    }
}

/// Splits an argument list at its top-level commas into `spans` (trimmed), up to the closing `)` of the list;
/// returns the index of that `)`, `None` if the text ends first.
pub(crate) fn scan_args(s: &str, spans: &mut Vec<(usize, usize)>) -> Option<usize> {
    scan(s, spans, true)
}

/// Splits a complete argument text (without its parentheses) at its top-level commas into `spans`.
pub(crate) fn split_args(s: &str, spans: &mut Vec<(usize, usize)>) {
    scan(s, spans, false);
}

fn scan(s: &str, spans: &mut Vec<(usize, usize)>, to_paren: bool) -> Option<usize> {
    spans.clear();
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    let push = |spans: &mut Vec<(usize, usize)>, from: usize, to: usize| {
        let t = &s[from..to];
        let lead = t.len() - t.trim_start().len();
        let trail = t.len() - t.trim_end().len();
        if from + lead < to - trail {
            spans.push((from + lead, to - trail));
        }
    };
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = s[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 1);
            }
            b'<' if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') => {
                // A -y annotation: to the matching `>`; `[...]` (socket details with `->`) and escapes inside.
                let (mut nest, mut sq) = (1usize, 0usize);
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 1,
                        b'[' => sq += 1,
                        b']' => sq = sq.saturating_sub(1),
                        b'<' if sq == 0 => nest += 1,
                        b'>' if sq == 0 => {
                            nest -= 1;
                            if nest == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b')' if depth == 0 && to_paren => {
                push(spans, start, i);
                return Some(i);
            }
            b')' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                push(spans, start, i);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if to_paren {
        return None;
    }
    push(spans, start, b.len());
    Some(b.len())
}

/// A call's return value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ret {
    /// A decimal value (negative with an errno: the call failed).
    Int(i64),
    /// A hexadecimal value (addresses).
    Hex(u64),
    /// `?`: no value (the task died, or the call will be restarted).
    Unknown,
}

/// The text after a call's `)`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CallResult<'a> {
    pub ret: Ret,
    /// The `-y` path annotation of a returned fd, raw (escaped).
    pub ret_path: Option<&'a str>,
    /// `EXXX` after the value.
    pub errno: Option<&'a str>,
    /// `-T`'s `<S.FFFFFF>`.
    pub dur_ns: Option<u64>,
}

/// The end of a `<...>` annotation starting at `s[0] == '<'`: index of its `>`.
fn annotation_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut nest, mut sq, mut i) = (0usize, 0usize, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => sq += 1,
            b']' => sq = sq.saturating_sub(1),
            b'<' if sq == 0 => nest += 1,
            b'>' if sq == 0 => {
                nest -= 1;
                if nest == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses ` = RET [<path>] [ERRNO (text)] [<DUR>]`.
pub(crate) fn parse_result(s: &str) -> Option<CallResult<'_>> {
    let mut s = s.trim();
    let mut dur_ns = None;
    if s.ends_with('>') {
        if let Some(open) = s.rfind('<') {
            if let Some(d) = secs_frac(&s[open + 1..s.len() - 1]) {
                dur_ns = Some(d);
                s = s[..open].trim_end();
            }
        }
    }
    let s = s.strip_prefix('=')?.trim_start();
    let (ret, rest) = if let Some(r) = s.strip_prefix('?') {
        (Ret::Unknown, r)
    } else if let Some(h) = s.strip_prefix("0x") {
        let end = h.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(h.len());
        (Ret::Hex(u64::from_str_radix(&h[..end], 16).ok()?), &h[end..])
    } else {
        let neg = s.starts_with('-') as usize;
        let end = s[neg..].find(|c: char| !c.is_ascii_digit()).map_or(s.len(), |e| e + neg);
        (Ret::Int(s[..end].parse().ok()?), &s[end..])
    };
    let (ret_path, rest) = if rest.starts_with('<') {
        let end = annotation_end(rest)?;
        (Some(&rest[1..end]), &rest[end + 1..])
    } else {
        (None, rest)
    };
    let rest = rest.trim_start();
    let errno = {
        let end =
            rest.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')).unwrap_or(rest.len());
        (end >= 2 && rest.starts_with('E')).then(|| &rest[..end])
    };
    Some(CallResult { ret, ret_path, errno, dur_ns })
}

/// Decodes strace's escapes (`\\`, `\"`, `\n`, `\t`, `\r`, `\v`, `\f`, `\xHH`, `\NNN` octal).
pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        match b[i] {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'x' => {
                let hex = s.get(i + 1..(i + 3).min(s.len())).unwrap_or("");
                let n = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
                if n == 0 {
                    out.push(b'x');
                } else {
                    out.push(u8::from_str_radix(&hex[..n], 16).unwrap_or(b'?'));
                    i += n;
                }
            }
            b'0'..=b'7' => {
                let n = b[i..].iter().take(3).take_while(|c| (b'0'..=b'7').contains(c)).count();
                let v = b[i..i + n].iter().fold(0u32, |a, &c| a * 8 + (c - b'0') as u32);
                out.push(v as u8);
                i += n - 1;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The contents of a quoted string argument (`"..."`, maybe followed by `...`), decoded.
pub(crate) fn unquote(arg: &str) -> Option<String> {
    let a = arg.trim();
    let a = a.strip_suffix("...").unwrap_or(a);
    let inner = a.strip_prefix('"')?.strip_suffix('"')?;
    Some(unescape(inner))
}

/// An fd argument: its number (`AT_FDCWD` is -100) and its raw `-y` annotation.
pub(crate) fn parse_fd(arg: &str) -> Option<(i64, Option<&str>)> {
    let a = arg.trim();
    let (num, rest) = match a.find('<') {
        Some(i) => (&a[..i], Some(&a[i..])),
        None => (a, None),
    };
    let n = if num == "AT_FDCWD" { -100 } else { num.parse().ok()? };
    let ann = match rest {
        Some(r) => Some(&r[1..annotation_end(r)?]),
        None => None,
    };
    Some((n, ann))
}

/// A leading integer (decimal, negative, `0x` hex); trailing comments are ignored.
pub(crate) fn parse_int(arg: &str) -> Option<i64> {
    let a = arg.trim();
    if let Some(h) = a.strip_prefix("0x") {
        let end = h.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(h.len());
        return u64::from_str_radix(&h[..end], 16).ok().map(|v| v as i64);
    }
    let neg = a.starts_with('-') as usize;
    let end = a[neg..].find(|c: char| !c.is_ascii_digit()).map_or(a.len(), |e| e + neg);
    a[..end].parse().ok()
}

/// A non-negative leading integer.
pub(crate) fn parse_u64(arg: &str) -> Option<u64> {
    let a = arg.trim();
    if let Some(h) = a.strip_prefix("0x") {
        let end = h.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(h.len());
        return u64::from_str_radix(&h[..end], 16).ok();
    }
    let end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
    a[..end].parse().ok()
}

/// The first value of `[N]` or `[N] => [M]` (an in-out offset argument); `None` for `NULL`.
pub(crate) fn bracketed(arg: &str) -> Option<u64> {
    parse_u64(arg.trim().strip_prefix('[')?)
}

/// The value of `name=` among the top-level fields of a `{...}` struct argument.
pub(crate) fn struct_field<'a>(arg: &'a str, name: &str) -> Option<&'a str> {
    let inner = arg.trim().strip_prefix('{')?;
    let mut spans = Vec::new();
    let end = scan_args_until(inner, b'}', &mut spans)?;
    let inner = &inner[..end];
    spans.iter().map(|&(a, b)| &inner[a..b]).find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
}

/// `scan_args` for a list closed by `close` (`]` or `}`) instead of `)`.
fn scan_args_until(s: &str, close: u8, spans: &mut Vec<(usize, usize)>) -> Option<usize> {
    // Swap the closing bracket for `)` by scanning a view where only `close` at depth 0 ends the list: re-use
    // scan_args on the text with its bracket kinds intact, looking for the first unbalanced `close`.
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'<' if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') => {
                i += annotation_end(&s[i..]).unwrap_or(b.len() - i);
            }
            b'(' | b'[' | b'{' => depth += 1,
            c if c == close && depth == 0 => {
                let inner = format!("{})", &s[..i]);
                scan_args(&inner, spans)?;
                return Some(i);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The `iov_len`s of an iovec array argument, `None` if it cannot be read.
pub(crate) fn iov_lens(arg: &str) -> Option<Vec<u64>> {
    let inner = arg.trim().strip_prefix('[')?;
    let mut spans = Vec::new();
    let end = scan_args_until(inner, b']', &mut spans)?;
    let inner = &inner[..end];
    let mut out = Vec::new();
    for &(a, b) in &spans {
        let el = &inner[a..b];
        if el == "..." {
            break;
        }
        out.push(parse_u64(struct_field(el, "iov_len")?)?);
    }
    Some(out)
}
