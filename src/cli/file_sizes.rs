//! `--files SIZES.ron`: the sizes of the files that existed before a file-level trace, given by the user instead of
//! the largest offset the trace touched (a program that reads only the head of a large file, or that `lseek`s
//! nowhere near its end, shows less than the file's size).
//!
//! The file is a RON map from a file to its size, in the scenario's size notation:
//! `{ "/data/db.sqlite": "8m", "big": 1073741824 }`. A key is the trace's path or the replay's file name (after
//! `--under`). A file the map names but the trace does not touch is reported in a warning; a file the trace created
//! keeps its empty start (its size is what the trace writes).

use std::collections::BTreeMap;
use std::path::Path;

use super::failure::{fail, Failure};
use crate::replay::plan::Plan;
use crate::units::Size;

/// Reads `path` and sets the sizes it gives in `plan`; returns the warnings (keys that named no file, sizes given
/// to files the trace created).
pub(crate) fn apply(path: &Path, plan: &mut Plan) -> Result<Vec<String>, Failure> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("{shown}: {e}")))?;
    let sizes: BTreeMap<String, Size> = ron::from_str(&text).map_err(|e| {
        fail(format!(
            "{shown}:{}:{}: {}\n  hint: --files takes a RON map of file to size, e.g. {{ \"/data/a.db\": \"8m\" }}",
            e.span.start.line, e.span.start.col, e.code
        ))
    })?;
    let mut warnings = Vec::new();
    for (key, size) in sizes {
        let hit = plan.files.iter().zip(&plan.file_names).position(|(f, n)| f.name == key || *n == key);
        match hit {
            Some(i) if plan.files[i].existed_before => plan.files[i].size = size.0,
            Some(_) => warnings.push(format!(
                "{shown}: `{key}` is created by the trace: it starts empty, its size is what the trace writes"
            )),
            None => warnings.push(format!("{shown}: `{key}` is not a file of the trace (left out)")),
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{Stats, TraceFile};

    fn plan() -> Plan {
        let file = |name: &str, size, existed_before| TraceFile { name: name.into(), size, existed_before };
        Plan {
            files: vec![file("/mnt/a", 4096, true), file("/mnt/b", 0, false)],
            file_names: vec!["a".into(), "b".into()],
            processes: vec![],
            threads: vec![],
            tasks: vec![],
            task_of_thread: vec![],
            stats: Stats::default(),
            end_ns: 0,
            writes: false,
            timed: 0,
            truncated: None,
        }
    }

    #[test]
    fn sizes_by_path_or_name_and_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sizes.ron");
        std::fs::write(&p, "{ \"/mnt/a\": \"1m\", \"b\": 10, \"c\": 5 }").unwrap();
        let mut pl = plan();
        let w = apply(&p, &mut pl).unwrap();
        assert_eq!(pl.files[0].size, 1 << 20);
        assert_eq!(pl.files[1].size, 0);
        assert_eq!(w.len(), 2, "{w:?}");
        std::fs::write(&p, "{ \"a\": \"1q\" }").unwrap();
        let e = apply(&p, &mut plan()).unwrap_err().msg;
        assert!(e.contains("sizes.ron:1:") && e.contains("hint"), "{e}");
    }
}
