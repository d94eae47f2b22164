//! Diagnostics shared by the scenario's validation and compilation: located errors, did-you-mean suggestions,
//! name rules, sizes in the units' notation.

use super::locate::{Loc, Pos};
use super::sysctl::edit_distance;
use super::ScenarioError;

/// Builds an error at `pos`.
pub(crate) fn error(origin: &str, pos: Pos, msg: impl Into<String>, hint: Option<String>) -> ScenarioError {
    ScenarioError { origin: origin.to_string(), line: pos.line, col: pos.col, msg: msg.into(), hint }
}

/// A ron error in our words, with a hint.
pub(crate) fn describe_ron_error(code: &ron::Error) -> (String, Option<String>) {
    use ron::Error as E;
    let within = |outer: &Option<String>| outer.as_ref().map(|o| format!(" in `{o}`")).unwrap_or_default();
    let one_of = |expected: &[&str], found: &str| {
        let list = expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ");
        match closest(found, expected.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? expected one of: {list}"),
            None => format!("expected one of: {list}"),
        }
    };
    match code {
        E::NoSuchStructField { expected, found, outer } => {
            (format!("unknown field `{found}`{}", within(outer)), Some(one_of(expected, found)))
        }
        E::NoSuchEnumVariant { expected, found, outer } => {
            (format!("unknown variant `{found}`{}", within(outer)), Some(one_of(expected, found)))
        }
        E::MissingStructField { field, outer } => (
            format!("missing field `{field}`{}", within(outer)),
            Some(format!("add `{field}: ...`; docs/SCENARIO.md lists every field and its default")),
        ),
        E::DuplicateStructField { field, outer } => {
            (format!("field `{field}` given twice{}", within(outer)), Some("keep one of them".into()))
        }
        E::Message(m) if m.contains("cannot be negative") => {
            (m.clone(), Some("sizes, times and counts are unsigned; write e.g. \"4k\"".into()))
        }
        E::Message(m) => (m.clone(), None),
        E::ExpectedComma
        | E::ExpectedArrayEnd
        | E::ExpectedStructLikeEnd
        | E::ExpectedMapEnd
        | E::ExpectedOptionEnd
        | E::TrailingCharacters => (
            format!("syntax error: {}", lowercase_first(&code.to_string())),
            Some("a comma may be missing between two items, or a bracket closed too early or too late".into()),
        ),
        E::Eof => {
            ("unexpected end of file".into(), Some("a `(`, `[` or `{` is never closed, or a string never ends".into()))
        }
        E::ExpectedString => (
            "expected a string".into(),
            Some("names and sizes with units are written in double quotes, e.g. \"data\"".into()),
        ),
        E::ExpectedInteger => ("expected an integer".into(), Some("counts and knob values are plain integers".into())),
        other => (format!("syntax error: {}", lowercase_first(&other.to_string())), None),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// The candidate nearest to `word` by edit distance, if near enough to be a plausible typo.
pub(crate) fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let (d, best) =
        candidates.map(|c| (edit_distance(&c.to_ascii_lowercase(), &word.to_ascii_lowercase()), c)).min()?;
    (d <= word.chars().count() / 3 + 1).then_some(best)
}

/// Names become file names, thread names and log fields, so they are restricted to `[A-Za-z0-9._-]+`.
pub(crate) fn check_name(origin: &str, what: &str, name: &str, loc: Loc) -> Result<(), ScenarioError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(error(
            origin,
            loc.pos(),
            format!("bad {what} name `{name}`"),
            Some("names use only letters, digits, `.`, `_` and `-` (at least one character)".into()),
        ));
    }
    if name == "." || name == ".." {
        return Err(error(origin, loc.pos(), format!("bad {what} name `{name}`"), Some("pick another name".into())));
    }
    Ok(())
}

/// "known devices: `a`, `b`" plus a did-you-mean when one is close.
pub(crate) fn known<'a>(what: &str, names: impl Iterator<Item = &'a str> + Clone, wrong: &str) -> String {
    let list: Vec<String> = names.clone().map(|n| format!("`{n}`")).collect();
    let list = if list.is_empty() { "(none)".to_string() } else { list.join(", ") };
    match closest(wrong, names) {
        Some(near) => format!("did you mean `{near}`? the scenario's {what}: {list}"),
        None => format!("the scenario's {what}: {list}"),
    }
}

/// A byte count in the units' notation (e.g. `64m`, `4097`).
pub(crate) fn fmt_size(b: u64) -> String {
    crate::units::Size(b).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names() {
        assert_eq!(closest("dta", ["data", "log"].into_iter()), Some("data"));
        assert_eq!(closest("zzzzzz", ["data", "log"].into_iter()), None);
    }
}
