//! Scenario names for a trace's files and threads: scenario names are `[A-Za-z0-9._-]+` (task names at most 15
//! characters, a Linux thread's comm), unique, and never `.` or `..`; a trace's are paths and command names.
//!
//! - A file's name is its path less the `--under` directory that holds it and the leading `/`, with `/` and every
//!   other character outside the set turned into `_` (`/mnt/s/dir/a b.txt` under `/mnt/s` is `dir_a_b.txt`), at
//!   most 200 characters (the end of the path kept); a name already taken gets `.2`, `.3`, ...
//! - A task's name is its thread's command name (or `t`), cut so that `-TID` fits in 15 characters:
//!   `sqlite3-4711`; taken names get a letter instead of the tid's first digits until unique.

use super::adapt::is_under;
use super::{ProcessInfo, ThreadInfo, TraceFile};

const FILE_NAME_MAX: usize = 200;

fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn unique(name: String, taken: &mut hashbrown::HashSet<String>) -> String {
    if taken.insert(name.clone()) {
        return name;
    }
    let n = (2u64..).map(|i| format!("{name}.{i}")).find(|n| !taken.contains(n)).unwrap_or(name);
    taken.insert(n.clone());
    n
}

/// The scenario names of `files` (parallel to it).
pub fn file_names(files: &[TraceFile], under: &[String]) -> Vec<String> {
    let mut taken = hashbrown::HashSet::new();
    files
        .iter()
        .map(|f| {
            let mut rel = f.name.as_str();
            if let Some(dir) = under.iter().find(|d| is_under(rel, d)) {
                rel = &rel[dir.trim_end_matches('/').len().min(rel.len())..];
            }
            let mut name = clean(rel.trim_start_matches('/'));
            if name.len() > FILE_NAME_MAX {
                name = name[name.len() - FILE_NAME_MAX..].to_string();
            }
            if name.is_empty() || name.chars().all(|c| c == '.') {
                name = format!("file{name}");
            }
            unique(name, &mut taken)
        })
        .collect()
}

/// The scenario names of the tasks issued by `task_threads` (dense thread ids; parallel to it).
pub fn task_names(task_threads: &[u32], threads: &[ThreadInfo], processes: &[ProcessInfo]) -> Vec<String> {
    let mut taken = hashbrown::HashSet::new();
    task_threads
        .iter()
        .map(|&thread| {
            let th = threads.get(thread as usize);
            let comm = th
                .and_then(|th| th.name.clone().or_else(|| processes.get(th.process as usize)?.name.clone()))
                .map(|c| clean(&c))
                .filter(|c| !c.is_empty() && !c.chars().all(|c| c == '.'))
                .unwrap_or_else(|| "t".into());
            let tid = th.map_or(thread, |th| th.tid).to_string();
            let keep = 15usize.saturating_sub(tid.len() + 1).max(1);
            let comm: String = comm.chars().take(keep).collect();
            let mut name: String = format!("{comm}-{tid}").chars().take(15).collect();
            // A name taken (two threads with one tid and a cut comm): replace the comm's end by a counter.
            let mut k = 0u32;
            while taken.contains(&name) {
                k += 1;
                let suffix = format!("{k}-{tid}");
                let stem: String = comm.chars().take(15usize.saturating_sub(suffix.len())).collect();
                name = format!("{stem}{suffix}").chars().take(15).collect();
            }
            taken.insert(name.clone());
            name
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> TraceFile {
        TraceFile { name: name.into(), size: 0, existed_before: true }
    }

    #[test]
    fn file_names_are_scenario_names() {
        let files =
            [file("/mnt/s/dir/a b.txt"), file("/mnt/s/dir_a_b.txt"), file("/mnt/s"), file("dev8_0"), file("/x/..")];
        let names = file_names(&files, &["/mnt/s/".into()]);
        assert_eq!(names, ["dir_a_b.txt", "dir_a_b.txt.2", "file", "dev8_0", "x_.."]);
        let long = file(&format!("/{}", "a".repeat(300)));
        assert_eq!(file_names(&[long], &[])[0].len(), 200);
    }

    #[test]
    fn task_names_fit_a_comm_and_are_unique() {
        let threads = vec![
            ThreadInfo { tid: 4711, process: 0, name: Some("sqlite3".into()) },
            ThreadInfo { tid: 123456, process: 0, name: Some("a_very_long_command".into()) },
            ThreadInfo { tid: 4711, process: 1, name: Some("sqlite3".into()) },
            ThreadInfo { tid: 7, process: 2, name: None },
        ];
        let processes = vec![
            ProcessInfo { pid: 4711, name: None },
            ProcessInfo { pid: 1, name: None },
            ProcessInfo { pid: 7, name: Some("kworker/u8:3".into()) },
        ];
        let names = task_names(&[0, 1, 2, 3], &threads, &processes);
        assert_eq!(names, ["sqlite3-4711", "a_very_l-123456", "sqlite31-4711", "kworker_u8_3-7"]);
        assert!(names.iter().all(|n| n.len() <= 15));
    }
}
