//! Sizes and times in fio's notation (`4k`, `1m`, `2g`, `500ms`, `5s`), and the virtual-time newtype.
//!
//! Sizes: a bare number is bytes; `0x` prefixes hex; suffixes `k`, `m`, `g`, `t`, `p` (case-insensitive, optional
//! trailing `b`) are powers of 1024 (fio's `kb_base=1024`). fio's legacy `1mi` (= 10^6) is refused rather than
//! silently given either meaning. Times: a bare number is nanoseconds in RON integers, and `ns`, `us`, `ms`, `s`,
//! `m`, `h`, `d` suffixes in strings.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Virtual time or a duration, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub u64);

impl Nanos {
    /// Time zero.
    pub const ZERO: Nanos = Nanos(0);
    /// `ms` milliseconds.
    pub const fn from_ms(ms: u64) -> Nanos {
        Nanos(ms * 1_000_000)
    }
    /// `us` microseconds.
    pub const fn from_us(us: u64) -> Nanos {
        Nanos(us * 1_000)
    }
    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Nanos {
        Nanos(s * 1_000_000_000)
    }
    /// In seconds, as a float (for reports).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            write!(f, "0s")
        } else if ns % 1_000_000_000 == 0 {
            write!(f, "{}s", ns / 1_000_000_000)
        } else if ns % 1_000_000 == 0 {
            write!(f, "{}ms", ns / 1_000_000)
        } else if ns % 1_000 == 0 {
            write!(f, "{}us", ns / 1_000)
        } else {
            write!(f, "{ns}ns")
        }
    }
}

/// A size in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        const UNITS: [(u64, &str); 5] =
            [(1 << 50, "p"), (1 << 40, "t"), (1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")];
        for (mult, suffix) in UNITS {
            if b != 0 && b % mult == 0 {
                return write!(f, "{}{}", b / mult, suffix);
            }
        }
        write!(f, "{b}")
    }
}

/// Why a size or time string was refused; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("empty {0}: write a number with an optional unit, e.g. {1}")]
    /// No value given: (what, an example).
    Empty(&'static str, &'static str),
    #[error("negative {what} `{text}`: {what}s cannot be negative")]
    /// A negative value.
    Negative {
        /// What was being read.
        what: &'static str,
        /// The text.
        text: String,
    },
    #[error("bad number in `{0}`: expected digits (or 0x hex) then an optional unit")]
    /// Not a number.
    BadNumber(String),
    #[error("unknown {what} unit `{unit}` in `{text}`: use {accepted}")]
    /// An unknown unit.
    BadUnit {
        /// What was being read.
        what: &'static str,
        /// The unit written.
        unit: String,
        /// The text.
        text: String,
        /// The units accepted.
        accepted: &'static str,
    },
    #[error("`{0}` is too large (does not fit in 64 bits)")]
    /// Out of range.
    Overflow(String),
}

const SIZE_UNITS: &str = "no unit (bytes) or k, m, g, t, p (powers of 1024), e.g. 4k, 1m, 2g";
const TIME_UNITS: &str = "ns, us, ms, s, m, h or d, e.g. 500ms, 5s";

/// Parses a fio-style size: `4096`, `4k`, `4KiB`? no: `4kb`, `0x1000`, `1m`, `2g`.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(UnitError::Empty("size", "4k"));
    }
    if t.starts_with('-') {
        return Err(UnitError::Negative { what: "size", text: t.to_string() });
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).map_err(|_| UnitError::BadNumber(t.to_string()));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(UnitError::BadNumber(t.to_string()));
    }
    let n: u64 = num.parse().map_err(|_| UnitError::Overflow(t.to_string()))?;
    let lower = unit.to_ascii_lowercase();
    let shift = match lower.as_str() {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        "p" | "pb" => 50,
        _ => {
            return Err(UnitError::BadUnit {
                what: "size",
                unit: unit.to_string(),
                text: t.to_string(),
                accepted: SIZE_UNITS,
            })
        }
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| UnitError::Overflow(t.to_string()))
}

/// Parses a time: `250us`, `500ms`, `5s`, `2m`, `1h`; a bare number is nanoseconds.
pub fn parse_time(text: &str) -> Result<u64, UnitError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(UnitError::Empty("time", "500ms"));
    }
    if t.starts_with('-') {
        return Err(UnitError::Negative { what: "time", text: t.to_string() });
    }
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(UnitError::BadNumber(t.to_string()));
    }
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => {
            return Err(UnitError::BadUnit {
                what: "time",
                unit: unit.to_string(),
                text: t.to_string(),
                accepted: TIME_UNITS,
            })
        }
    };
    if let Some((int, frac)) = num.split_once('.') {
        // Decimal: exact for up to 9 fractional digits of the unit.
        if frac.contains('.') || frac.len() > 9 {
            return Err(UnitError::BadNumber(t.to_string()));
        }
        let i: u64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| UnitError::Overflow(t.to_string()))? };
        let f: u64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| UnitError::BadNumber(t.to_string()))? };
        let scale = 10u64.pow(frac.len() as u32);
        let whole = i.checked_mul(mult).ok_or_else(|| UnitError::Overflow(t.to_string()))?;
        let part = (f as u128 * mult as u128 / scale as u128) as u64;
        return whole.checked_add(part).ok_or_else(|| UnitError::Overflow(t.to_string()));
    }
    let n: u64 = num.parse().map_err(|_| UnitError::Overflow(t.to_string()))?;
    n.checked_mul(mult).ok_or_else(|| UnitError::Overflow(t.to_string()))
}

struct UnitVisitor {
    what: &'static str,
    parse: fn(&str) -> Result<u64, UnitError>,
}

impl<'de> Visitor<'de> for UnitVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.what {
            "size" => write!(f, "a size: bytes as an integer, or a string such as \"4k\", \"1m\", \"2g\""),
            _ => write!(f, "a time: a string such as \"500ms\", \"5s\", \"250us\", or integer nanoseconds"),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        if v < 0 {
            Err(E::custom(UnitError::Negative { what: self.what, text: v.to_string() }))
        } else {
            Ok(v as u64)
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::custom(format!(
            "{} given as a float ({v}); write an integer or a string with a unit, e.g. \"4k\" or \"500ms\"",
            self.what
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor { what: "size", parse: parse_size }).map(Size)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Nanos {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor { what: "time", parse: parse_time }).map(Nanos)
    }
}

impl Serialize for Nanos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_fio() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4kb"), Ok(4096));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1t"), Ok(1 << 40));
        assert_eq!(parse_size("0x1000"), Ok(4096));
        assert!(matches!(parse_size("-4k"), Err(UnitError::Negative { .. })));
        assert!(matches!(parse_size("4q"), Err(UnitError::BadUnit { .. })));
        assert!(matches!(parse_size("1mi"), Err(UnitError::BadUnit { .. })));
        assert!(matches!(parse_size("k"), Err(UnitError::BadNumber(_))));
        assert!(matches!(parse_size("99999999999p"), Err(UnitError::Overflow(_))));
    }

    #[test]
    fn times_parse_with_units() {
        assert_eq!(parse_time("500ms"), Ok(500_000_000));
        assert_eq!(parse_time("5s"), Ok(5_000_000_000));
        assert_eq!(parse_time("250us"), Ok(250_000));
        assert_eq!(parse_time("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_time("2m"), Ok(120_000_000_000));
        assert_eq!(parse_time("17"), Ok(17));
        assert!(matches!(parse_time("5 fortnights"), Err(UnitError::BadUnit { .. })));
        assert!(matches!(parse_time("-1s"), Err(UnitError::Negative { .. })));
    }

    #[test]
    fn display_round_trips() {
        for b in [0u64, 1, 4096, 4097, 1 << 20, 3 << 30, 5 << 40] {
            assert_eq!(parse_size(&Size(b).to_string()), Ok(b));
        }
        for ns in [0u64, 1, 1500, 2_000_000, 3_000_000_000] {
            assert_eq!(parse_time(&Nanos(ns).to_string()), Ok(ns));
        }
    }
}
