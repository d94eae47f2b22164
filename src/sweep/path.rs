//! `--set PATH=VALUES`: a path into a scenario's RON text, resolved on its value tree (`ron_tree`), and the edit
//! that puts a value there.
//!
//! A path is a dot-separated list of segments; a segment may be quoted (`sysctls."vm.dirty_ratio"`). Each segment
//! steps into the current value:
//! - a struct (`Scenario(...)`, `(memory: "1g")`, `Generate(...)`): the field of that name. A field the scenario
//!   leaves out is added (`devices.disk0.read_ahead_kb` on a device that keeps the default), and the scenario's
//!   loader then says whether the field exists, with the list of fields it accepts;
//! - a list: an index (`tasks.0`), the element whose `name` is the segment (`devices.disk0`, `tasks.writer`), or
//!   the one element of that variant (`tasks.writer.ops.Generate`; `Generate#1` for the second one);
//! - a map (`sysctls`): the entry with that key, added when missing; the rest of the path is the key, so
//!   `sysctls.vm.dirty_ratio` works unquoted too;
//! - a tuple variant (`Sleep("1s")`): an index.
//!
//! The last segment's value is replaced by the new value's RON text; a path that cannot be followed is an error
//! naming the segment and listing what is there.

use super::ron_tree::{self, Kind, Node};

/// One segment of a path.
pub fn split_path(path: &str) -> Result<Vec<String>, String> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for c in path.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                if cur.is_empty() && !was_quoted {
                    return Err(format!("`{path}`: empty segment"));
                }
                segs.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            _ => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("`{path}`: unclosed quote"));
    }
    if cur.is_empty() && !was_quoted {
        return Err(format!("`{path}`: empty segment"));
    }
    segs.push(cur);
    Ok(segs)
}

/// Replaces the value at `path` in scenario text `text` by `value` (RON text).
pub fn set(text: &str, path: &str, value: &str) -> Result<String, String> {
    let segs = split_path(path)?;
    let root = ron_tree::parse(text).map_err(|e| format!("the scenario's text: {e}"))?;
    let edit = locate(&root, text, &segs, path, value)?;
    let mut out = String::with_capacity(text.len() + edit.text.len());
    out.push_str(&text[..edit.start]);
    out.push_str(&edit.text);
    out.push_str(&text[edit.end..]);
    Ok(out)
}

/// The path's target exists (true), or could be added (false): for error messages before any value is known.
pub fn check(text: &str, path: &str) -> Result<(), String> {
    set(text, path, "0").map(|_| ())
}

/// The RON text of the value at `path` as the scenario writes it, `None` when the path would add it.
pub fn current(text: &str, path: &str) -> Result<Option<String>, String> {
    let segs = split_path(path)?;
    let root = ron_tree::parse(text).map_err(|e| format!("the scenario's text: {e}"))?;
    let edit = locate(&root, text, &segs, path, "")?;
    Ok((edit.start < edit.end).then(|| text[edit.start..edit.end].to_string()))
}

struct Edit {
    start: usize,
    end: usize,
    text: String,
}

fn bad(path: &str, done: &[String], seg: &str, msg: String) -> String {
    let at = if done.is_empty() { "the scenario".to_string() } else { format!("`{}`", done.join(".")) };
    format!("--set {path}: no `{seg}` in {at}: {msg}")
}

fn list_keys<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let keys: Vec<String> = keys.map(|k| format!("`{k}`")).collect();
    if keys.is_empty() {
        "it is empty".into()
    } else {
        keys.join(", ")
    }
}

fn locate(root: &Node, text: &str, segs: &[String], path: &str, value: &str) -> Result<Edit, String> {
    let mut node = root;
    for (i, seg) in segs.iter().enumerate() {
        let done = &segs[..i];
        let last = i + 1 == segs.len();
        match &node.kind {
            Kind::Struct { fields, .. } => match fields.iter().find(|(k, _)| k == seg) {
                Some((_, v)) => node = v,
                None if last => {
                    // Added after the last field (or inside the empty parentheses).
                    let (at, sep) = match fields.last() {
                        Some((_, v)) => (v.end, ", "),
                        None => (node.end - 1, ""),
                    };
                    return Ok(Edit { start: at, end: at, text: format!("{sep}{seg}: {value}") });
                }
                None if seg == "sysctls" => {
                    // A scenario without sysctls: the map is added with the one entry.
                    let (at, sep) = match fields.last() {
                        Some((_, v)) => (v.end, ", "),
                        None => (node.end - 1, ""),
                    };
                    let key = format!("{:?}", segs[i + 1..].join("."));
                    return Ok(Edit { start: at, end: at, text: format!("{sep}sysctls: {{{key}: {value}}}") });
                }
                None => {
                    let keys = list_keys(fields.iter().map(|(k, _)| k.as_str()));
                    return Err(bad(
                        path,
                        done,
                        seg,
                        format!("it is not set there (set fields: {keys}); set the whole `{seg}` value instead"),
                    ));
                }
            },
            Kind::List(items) => node = list_item(items, seg).map_err(|m| bad(path, done, seg, m))?,
            Kind::Tuple { items, .. } => {
                node = seg.parse::<usize>().ok().and_then(|k| items.get(k)).ok_or_else(|| {
                    bad(
                        path,
                        done,
                        seg,
                        format!("{} holds {} values, addressed 0..{}", node.describe(), items.len(), items.len()),
                    )
                })?;
            }
            Kind::Map(entries) => {
                let key = segs[i..].join(".");
                let found = entries.iter().find(|(k, _)| key_text(k) == Some(seg.as_str()));
                match found {
                    Some((_, v)) => node = v,
                    None => {
                        let quoted = format!("{key:?}");
                        return Ok(match entries.last() {
                            Some((_, v)) => Edit { start: v.end, end: v.end, text: format!(", {quoted}: {value}") },
                            None => Edit { start: node.end - 1, end: node.end - 1, text: format!("{quoted}: {value}") },
                        });
                    }
                }
            }
            _ => {
                return Err(bad(path, done, seg, format!("it is {}, which has no parts", node.describe())));
            }
        }
        let _ = text;
    }
    Ok(Edit { start: node.start, end: node.end, text: value.to_string() })
}

fn key_text(k: &Node) -> Option<&str> {
    match &k.kind {
        Kind::Str(s) | Kind::Ident(s) => Some(s),
        _ => None,
    }
}

/// The list element `seg` names: an index, a `name`, or a variant (`Generate`, `Generate#1`).
fn list_item<'a>(items: &'a [Node], seg: &str) -> Result<&'a Node, String> {
    if let Ok(k) = seg.parse::<usize>() {
        return items.get(k).ok_or_else(|| format!("the list has {} elements (0..{})", items.len(), items.len()));
    }
    let named = |n: &Node| match n.field("name").map(|v| &v.kind) {
        Some(Kind::Str(s)) => Some(s.clone()),
        _ => None,
    };
    if let Some(n) = items.iter().find(|n| named(n).as_deref() == Some(seg)) {
        return Ok(n);
    }
    let (variant, nth) = match seg.split_once('#') {
        Some((v, k)) => (v, k.parse::<usize>().map_err(|_| format!("`{k}` after `#` is not an index"))?),
        None => (seg, 0),
    };
    let of_variant: Vec<&Node> = items.iter().filter(|n| n.name() == Some(variant)).collect();
    match (of_variant.len(), seg.contains('#')) {
        (1, false) => return Ok(of_variant[0]),
        (k, _) if k > nth && (k == 1 || seg.contains('#')) => return Ok(of_variant[nth]),
        (k, false) if k > 1 => {
            return Err(format!("the list has {k} `{variant}` elements: write `{variant}#0`..`{variant}#{}`", k - 1))
        }
        _ => {}
    }
    let mut keys: Vec<String> = items.iter().filter_map(named).collect();
    if keys.is_empty() {
        let mut seen = std::collections::BTreeSet::new();
        keys = items.iter().filter_map(|n| n.name()).filter(|n| seen.insert(n.to_string())).map(String::from).collect();
    }
    Err(format!(
        "the list's elements are {} (or an index 0..{})",
        list_keys(keys.iter().map(String::as_str)),
        items.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SC: &str = r#"Scenario(
    name: "s",
    machine: (memory: "1g"),
    devices: [(name: "disk0", read_ahead_kb: 128), (name: "disk1")],
    sysctls: {"vm.dirty_ratio": 20},
    files: [(name: "f", device: "disk0", size: "16m")],
    tasks: [(name: "w", ops: [Open(file: "f"), Generate(fd: "f", block: "4k"), Sleep("1s"), Generate(fd: "f")])],
)"#;

    #[test]
    fn replaces_adds_and_addresses_by_name_variant_and_index() {
        let t = set(SC, "devices.disk0.read_ahead_kb", "512").unwrap();
        assert!(t.contains("(name: \"disk0\", read_ahead_kb: 512)"));
        let t = set(SC, "devices.disk1.read_ahead_kb", "16").unwrap();
        assert!(t.contains("(name: \"disk1\", read_ahead_kb: 16)"));
        let t = set(SC, "sysctls.\"vm.dirty_ratio\"", "5").unwrap();
        assert!(t.contains("{\"vm.dirty_ratio\": 5}"));
        let t = set(SC, "sysctls.vm.dirty_background_ratio", "2").unwrap();
        assert!(t.contains("{\"vm.dirty_ratio\": 20, \"vm.dirty_background_ratio\": 2}"), "{t}");
        let t = set(SC, "tasks.w.ops.Generate#1.block", "\"1m\"").unwrap();
        assert!(t.contains("Generate(fd: \"f\", block: \"1m\")"));
        let t = set(SC, "tasks.0.ops.2.0", "\"2s\"").unwrap();
        assert!(t.contains("Sleep(\"2s\")"));
        let t = set(SC, "machine.memory", "\"4g\"").unwrap();
        assert!(t.contains("(memory: \"4g\")"));
        assert_eq!(current(SC, "devices.disk0.read_ahead_kb").unwrap().as_deref(), Some("128"));
        assert_eq!(current(SC, "devices.disk1.read_ahead_kb").unwrap(), None);
        let no_sysctls = SC.replace("sysctls: {\"vm.dirty_ratio\": 20},\n", "");
        let t = set(&no_sysctls, "sysctls.\"vm.dirty_bytes\"", "8").unwrap();
        assert!(t.contains("sysctls: {\"vm.dirty_bytes\": 8}"), "{t}");
    }

    #[test]
    fn bad_paths_name_the_segment_and_list_what_is_there() {
        let e = set(SC, "devices.disk9.read_ahead_kb", "1").unwrap_err();
        assert!(e.contains("no `disk9` in `devices`") && e.contains("`disk0`, `disk1`"), "{e}");
        let e = set(SC, "tasks.w.ops.Generate.block", "1").unwrap_err();
        assert!(e.contains("Generate#0"), "{e}");
        let e = set(SC, "machine.memory.x", "1").unwrap_err();
        assert!(e.contains("has no parts"), "{e}");
        let e = set(SC, "machine.foo.bar", "1").unwrap_err();
        assert!(e.contains("set fields: `memory`"), "{e}");
        assert!(split_path("a..b").is_err());
        assert!(split_path("a.\"b").is_err());
    }
}
