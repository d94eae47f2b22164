//! The VALUES of `--set PATH=VALUES`: a comma-separated list of values and ranges.
//!
//! - a value: an integer (`128`), a size (`4k`, `1g`: powers of 1024, as scenarios write them), a time (`500ms`,
//!   `2s`), a decimal (`0.5`), an identifier (`Random`, `Xfs`), a quoted string, or any RON text with brackets
//!   (`Zipfian(theta: 0.99)`: commas inside brackets do not split);
//! - a range `A..B` (inclusive) of integers, sizes or times, with a step: `A..B:x2` (multiply), `A..B:+64`
//!   (add; `A..B` alone adds 1). Ranges of decimals need an additive step (`0.1..0.5:+0.1`).
//!
//! Each value has a label (what the CSV and plots show: `4k`, `128`, `Random`) and the RON text the scenario gets
//! (`"4k"` for sizes and times, which scenarios write as strings; the number itself otherwise).

/// One value of an axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// As shown in results and plots.
    pub label: String,
    /// The RON text put into the scenario.
    pub ron: String,
    /// The value as a number, when it is one (sizes in bytes, times in ns): the plots' x coordinate.
    pub num: Option<f64>,
}

/// The most values one `--set` may expand to.
pub const MAX_VALUES: usize = 100_000;

/// Parses VALUES.
pub fn parse_values(s: &str) -> Result<Vec<Value>, String> {
    let items = split_top(s);
    let mut out = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!("`{s}`: an empty value (two commas in a row, or nothing after `=`)"));
        }
        if let Some((a, b)) = range_parts(item) {
            out.extend(range(item, a, b)?);
        } else {
            out.push(single(item));
        }
        if out.len() > MAX_VALUES {
            return Err(format!("`{s}`: more than {MAX_VALUES} values"));
        }
    }
    Ok(out)
}

/// Splits at commas outside brackets and quotes.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `A..B[:STEP]` split into `A` and `B[:STEP]`, when the item is a range (not quoted, no brackets).
fn range_parts(item: &str) -> Option<(&str, &str)> {
    if item.starts_with('"') || item.contains(['(', '[', '{']) {
        return None;
    }
    item.split_once("..")
}

/// A number with a unit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Plain,
    Size,
    Time,
    Decimal,
}

const SIZE_SUFFIX: [(&str, u64); 5] = [("p", 1 << 50), ("t", 1 << 40), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)];
const TIME_SUFFIX: [(&str, u64); 7] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
];

/// Reads a number with an optional size or time unit: (value in bytes / ns / itself, unit).
fn number(s: &str) -> Option<(f64, Unit)> {
    let lower = s.to_ascii_lowercase();
    if let Ok(v) = lower.parse::<u64>() {
        return Some((v as f64, Unit::Plain));
    }
    if lower.contains('.') && !lower.ends_with(|c: char| c.is_ascii_alphabetic()) {
        return lower.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| (v, Unit::Decimal));
    }
    for (suf, mult) in TIME_SUFFIX {
        // `m` alone is a size (mebibytes): scenarios' times use `ms`, `s`, `m` only after a digit with `in`.
        if suf == "m" {
            continue;
        }
        if let Some(n) = lower.strip_suffix(suf) {
            if let Ok(v) = n.parse::<f64>() {
                if v.is_finite() && v >= 0.0 && !(suf == "s" && n.ends_with(|c: char| c.is_ascii_alphabetic())) {
                    return Some((v * mult as f64, Unit::Time));
                }
            }
        }
    }
    let body = lower.strip_suffix('b').unwrap_or(&lower);
    for (suf, mult) in SIZE_SUFFIX {
        if let Some(n) = body.strip_suffix(suf) {
            if let Ok(v) = n.parse::<f64>() {
                if v.is_finite() && v >= 0.0 {
                    return Some((v * mult as f64, Unit::Size));
                }
            }
        }
    }
    None
}

/// The label of a value in `unit`: the largest unit that divides it exactly.
fn label(v: f64, unit: Unit, decimals: usize) -> String {
    match unit {
        Unit::Plain => format!("{}", v as u64),
        Unit::Decimal => format!("{v:.decimals$}"),
        Unit::Size => {
            let b = v.round() as u64;
            for (suf, mult) in SIZE_SUFFIX {
                if b >= mult && b % mult == 0 {
                    return format!("{}{suf}", b / mult);
                }
            }
            format!("{b}")
        }
        Unit::Time => {
            let ns = v.round() as u64;
            for (suf, mult) in [("s", 1_000_000_000u64), ("ms", 1_000_000), ("us", 1_000)] {
                if ns >= mult && ns % mult == 0 {
                    return format!("{}{suf}", ns / mult);
                }
            }
            format!("{ns}ns")
        }
    }
}

fn ron_of(label: &str, unit: Unit) -> String {
    match unit {
        Unit::Size | Unit::Time => format!("\"{label}\""),
        Unit::Plain | Unit::Decimal => label.to_string(),
    }
}

/// A single value (no range).
fn single(item: &str) -> Value {
    match number(item) {
        Some((v, unit)) => Value { label: item.to_string(), ron: ron_of(item, unit), num: Some(v) },
        None => {
            let label = item.trim_matches('"').to_string();
            Value { label, ron: item.to_string(), num: None }
        }
    }
}

fn decimals(s: &str) -> usize {
    s.split_once('.').map_or(0, |(_, d)| d.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len())
}

/// Expands `A..B[:STEP]`.
fn range(item: &str, a: &str, rest: &str) -> Result<Vec<Value>, String> {
    let (b, step) = match rest.split_once(':') {
        Some((b, s)) => (b, Some(s)),
        None => (rest, None),
    };
    let not_num =
        |x: &str| format!("range `{item}`: `{x}` is not a number (an integer, a size like 4k or a time like 10ms)");
    let (va, ua) = number(a.trim()).ok_or_else(|| not_num(a))?;
    let (vb, ub) = number(b.trim()).ok_or_else(|| not_num(b))?;
    let unit = match (ua, ub) {
        (x, y) if x == y => x,
        (Unit::Plain, y) | (y, Unit::Plain) if va == 0.0 || vb == 0.0 => y,
        _ => return Err(format!("range `{item}`: its ends have different units")),
    };
    if va > vb {
        return Err(format!("range `{item}`: it is empty (its start is above its end)"));
    }
    let dec = decimals(a).max(decimals(b)).max(step.map_or(0, decimals));
    let mut out = Vec::new();
    let mut push = |v: f64| {
        let l = label(v, unit, dec);
        out.push(Value { ron: ron_of(&l, unit), label: l, num: Some(v) });
    };
    match step.map(str::trim) {
        Some(s) if s.starts_with(['x', '*']) => {
            let f: f64 = s[1..].parse().map_err(|_| format!("range `{item}`: step `{s}` is not a factor like x2"))?;
            if f.partial_cmp(&1.0) != Some(std::cmp::Ordering::Greater) || va <= 0.0 {
                return Err(format!("range `{item}`: a factor needs a start above 0 and a factor above 1"));
            }
            let mut v = va;
            while v <= vb * (1.0 + 1e-9) {
                push(v);
                v *= f;
                if out_len_guard(&v) {
                    break;
                }
            }
        }
        s => {
            let st = match s {
                None => 1.0,
                Some(s) => {
                    let s = s.strip_prefix('+').unwrap_or(s);
                    number(s).map(|(v, _)| v).ok_or_else(|| format!("range `{item}`: step `{s}` is not a number"))?
                }
            };
            if st <= 0.0 {
                return Err(format!("range `{item}`: the step must be above 0"));
            }
            if unit == Unit::Decimal && step.is_none() {
                return Err(format!("range `{item}`: a range of decimals needs a step (`{item}:+0.1`)"));
            }
            let n = ((vb - va) / st + 1e-9).floor() as usize + 1;
            if n > MAX_VALUES {
                return Err(format!("range `{item}`: more than {MAX_VALUES} values"));
            }
            for k in 0..n {
                push(va + k as f64 * st);
            }
        }
    }
    if out.len() > MAX_VALUES {
        return Err(format!("range `{item}`: more than {MAX_VALUES} values"));
    }
    Ok(out)
}

fn out_len_guard(v: &f64) -> bool {
    !v.is_finite()
}

/// `--seeds`: a list or range of integers.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, String> {
    let vals = parse_values(s)?;
    let mut seeds = Vec::new();
    for v in vals {
        match v.label.parse::<u64>() {
            Ok(x) => seeds.push(x),
            Err(_) => return Err(format!("--seeds {s}: `{}` is not a non-negative integer", v.label)),
        }
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(s: &str) -> Vec<String> {
        parse_values(s).unwrap().into_iter().map(|v| v.label).collect()
    }

    #[test]
    fn lists_and_ranges() {
        assert_eq!(labels("5,10,20,40"), ["5", "10", "20", "40"]);
        assert_eq!(labels("128..4096:x2"), ["128", "256", "512", "1024", "2048", "4096"]);
        assert_eq!(labels("1g..8g:x2"), ["1g", "2g", "4g", "8g"]);
        assert_eq!(labels("512m..2g:+512m"), ["512m", "1g", "1536m", "2g"]);
        assert_eq!(labels("1..3"), ["1", "2", "3"]);
        assert_eq!(labels("100ms..400ms:x2"), ["100ms", "200ms", "400ms"]);
        assert_eq!(labels("0.1..0.3:+0.1"), ["0.1", "0.2", "0.3"]);
        assert_eq!(labels("Random,Zipfian(theta: 0.9, x: 1),\"a,b\""), ["Random", "Zipfian(theta: 0.9, x: 1)", "a,b"]);
        let v = parse_values("50m,1g").unwrap();
        assert_eq!(v[0].ron, "\"50m\"");
        assert_eq!(v[1].num, Some((1u64 << 30) as f64));
        assert_eq!(parse_values("7").unwrap()[0].ron, "7");
        assert_eq!(parse_seeds("1..5").unwrap(), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn bad_values() {
        assert!(parse_values("").unwrap_err().contains("empty value"));
        assert!(parse_values("1,,2").unwrap_err().contains("empty value"));
        assert!(parse_values("a..b").unwrap_err().contains("is not a number"));
        assert!(parse_values("10..5").unwrap_err().contains("empty"));
        assert!(parse_values("1..10:x1").unwrap_err().contains("factor"));
        assert!(parse_values("1..10:+0").unwrap_err().contains("above 0"));
        assert!(parse_values("1..1000000").unwrap_err().contains("more than"));
        assert!(parse_values("1k..2ms").unwrap_err().contains("units"));
        assert!(parse_seeds("x").is_err());
    }
}
