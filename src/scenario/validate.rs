//! From the as-written schema to a resolved [`Scenario`]: ron errors mapped to [`ScenarioError`]s, names resolved,
//! defaults filled in, and the machine, devices, files and sysctls checked, each error pointing at its token.
//! Task programs are compiled by [`super::compile`].

use super::compile;
use super::locate::{Loc, Node, Pos};
use super::schema::{DeviceDoc, FsDoc, ScenarioDoc, StateDoc};
use super::sysctl::{edit_distance, Sysctls};
use super::{Device, FileSpec, FsType, InitialState, Machine, Scenario, ScenarioError, DEFAULT_SEED};
use crate::units::Nanos;
use ron::extensions::Extensions;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
/// The smallest `write_bps` throttle accepted: 64 KiB/s.
const MIN_WRITE_BPS: u64 = 64 << 10;

/// Bounds that catch typos (a `g` for an `m`) without getting in the way of real machines.
pub(crate) const MEMORY_MIN: u64 = 64 * MIB;
pub(crate) const MEMORY_MAX: u64 = 64 * TIB;
pub(crate) const FILE_MAX: u64 = 16 * TIB;
/// Linux thread names (comm) hold 15 characters.
pub(crate) const TASK_NAME_MAX: usize = 15;

/// Builds an error at `pos`.
pub(crate) fn error(origin: &str, pos: Pos, msg: impl Into<String>, hint: Option<String>) -> ScenarioError {
    ScenarioError { origin: origin.to_string(), line: pos.line, col: pos.col, msg: msg.into(), hint }
}

/// A device section with the fields it leaves out taken from the profile file `profile` (a device section as
/// `pcsim calibrate --out` writes it; relative paths from the scenario's directory).
fn with_profile(d: &DeviceDoc, profile: &str, origin: &str, at: Pos) -> Result<DeviceDoc, ScenarioError> {
    let base = std::path::Path::new(origin).parent().filter(|p| !p.as_os_str().is_empty());
    let path = match base {
        Some(b) if !std::path::Path::new(profile).is_absolute() => b.join(profile),
        _ => std::path::PathBuf::from(profile),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        error(
            origin,
            at,
            format!("device `{}`: cannot read its profile {}: {e}", d.name, path.display()),
            Some("write one with `pcsim calibrate --out FILE` (root), or remove `profile`".into()),
        )
    })?;
    let opts = ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME);
    let p: DeviceDoc = opts.from_str(&text).map_err(|e| {
        let (msg, hint) = describe_ron_error(&e.code);
        error(
            &path.display().to_string(),
            Pos { line: e.span.start.line, col: e.span.start.col },
            format!("device profile: {msg}"),
            hint,
        )
    })?;
    if p.profile.is_some() {
        return Err(error(
            &path.display().to_string(),
            Pos { line: 1, col: 1 },
            "a device profile cannot name another profile",
            None,
        ));
    }
    Ok(DeviceDoc {
        name: d.name.clone(),
        fs: d.fs.or(p.fs),
        size: d.size.or(p.size),
        read_ahead_kb: d.read_ahead_kb.or(p.read_ahead_kb),
        max_sectors_kb: d.max_sectors_kb.or(p.max_sectors_kb),
        nr_requests: d.nr_requests.or(p.nr_requests),
        read_bw: d.read_bw.or(p.read_bw),
        write_bw: d.write_bw.or(p.write_bw),
        read_latency: d.read_latency.or(p.read_latency),
        write_latency: d.write_latency.or(p.write_latency),
        queue_depth: d.queue_depth.or(p.queue_depth),
        write_bps: d.write_bps.or(p.write_bps),
        write_bw_spread: d.write_bw_spread.or(p.write_bw_spread),
        profile: None,
        seek: d.seek.or(p.seek),
    })
}

/// ron's deserialisation of the text, its errors given a message in our words and a hint.
pub(crate) fn deserialize(text: &str, origin: &str) -> Result<ScenarioDoc, ScenarioError> {
    let opts = ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME);
    opts.from_str(text).map_err(|e| {
        let mut pos = Pos { line: e.span.start.line, col: e.span.start.col };
        if matches!(e.code, ron::Error::Message(_)) {
            // A value's own error (bad size, negative number): point at the value's first character.
            let end = Pos { line: e.span.end.line, col: e.span.end.col };
            pos = super::locate::token_ending_at(text, end).filter(|p| *p <= pos).unwrap_or(pos);
        }
        let (msg, hint) = describe_ron_error(&e.code);
        error(origin, pos, msg, hint)
    })
}

fn describe_ron_error(code: &ron::Error) -> (String, Option<String>) {
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

/// The default size of a device: room for its files plus a quarter and 64 MiB of filesystem slack, at least 256 MiB.
pub fn default_device_size(files_bytes: u64) -> u64 {
    (files_bytes.saturating_mul(5) / 4 + 64 * MIB).div_ceil(MIB).saturating_mul(MIB).max(256 * MIB)
}

/// Resolves and checks a deserialised scenario.
pub(crate) fn build(doc: ScenarioDoc, root: &Node, origin: &str) -> Result<Scenario, ScenarioError> {
    let r = Loc::new(root);
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
    check_name(origin, "scenario", &doc.name, r.field("name"))?;

    // Machine.
    let m = r.field("machine");
    let memory = doc.machine.memory.0;
    if !(MEMORY_MIN..=MEMORY_MAX).contains(&memory) {
        return Err(err(
            m.field("memory"),
            format!("machine memory {} is outside 64m..=64t", fmt_size(memory)),
            Some("memory is in bytes unless given a unit, e.g. \"4g\"".into()),
        ));
    }
    let cpus = doc.machine.cpus.unwrap_or(4);
    if !(1..=4096).contains(&cpus) {
        return Err(err(m.field("cpus"), format!("cpus = {cpus} is outside 1..=4096"), None));
    }
    let memcg_limit = doc.machine.memcg_limit.map(|s| s.0);
    if let Some(limit) = memcg_limit {
        if !(16 * MIB..=memory).contains(&limit) {
            return Err(err(
                m.field("memcg_limit"),
                format!("memcg_limit {} is outside 16m..=memory ({})", fmt_size(limit), fmt_size(memory)),
                None,
            ));
        }
    }
    let used = doc.machine.used.map_or(0, |s| s.0);
    let managed = crate::mm::page_alloc::managed_pages(memory) << 12;
    if used > managed.saturating_sub(8 * MIB) {
        return Err(err(
            m.field("used"),
            format!(
                "used {} leaves less than 8m of the machine's {} (less its struct pages, 1/64) for the page cache",
                fmt_size(used),
                fmt_size(memory)
            ),
            Some("used is the memory held outside the page cache; the model keeps it constant".into()),
        ));
    }
    let machine = Machine { memory, cpus, memcg_limit, used };

    // Devices (sizes are settled once the files are known).
    let dl = r.field("devices");
    if doc.devices.is_empty() {
        return Err(err(dl, "no devices".into(), Some("add one, e.g. `devices: [(name: \"disk0\")]`".into())));
    }
    let mut devices = Vec::with_capacity(doc.devices.len());
    for (i, d) in doc.devices.iter().enumerate() {
        let l = dl.item(i);
        let merged;
        let d = match &d.profile {
            Some(p) => {
                merged = with_profile(d, p, origin, l.field("profile").pos())?;
                &merged
            }
            None => d,
        };
        check_name(origin, "device", &d.name, l.field("name"))?;
        if let Some(j) = devices.iter().position(|x: &Device| x.name == d.name) {
            return Err(err(
                l.field("name"),
                format!("duplicate device name `{}`", d.name),
                Some(format!("device {} already uses it", j + 1)),
            ));
        }
        let dev = Device {
            name: d.name.clone(),
            fs: match d.fs {
                None | Some(FsDoc::Ext4) => FsType::Ext4,
                Some(FsDoc::Xfs) => FsType::Xfs,
            },
            size: d.size.map_or(0, |s| s.0),
            read_ahead_kb: d.read_ahead_kb.unwrap_or(128),
            max_sectors_kb: d.max_sectors_kb.unwrap_or(1280),
            nr_requests: d.nr_requests.unwrap_or(256),
            read_bw: d.read_bw.map_or(2 * GIB, |s| s.0),
            // This host's scratch loop device (direct I/O to a file on the virtio disk): bytes written over the time
            // write requests were in flight, 3339-3782 MiB/s in the captures of traces/write (median 3420; the same
            // measure on the model's run gives its write_bw back), served in batches (block/write_batch.rs).
            write_bw: d.write_bw.map_or(3400 * MIB, |s| s.0),
            read_latency: d.read_latency.unwrap_or(Nanos::from_us(100)),
            write_latency: d.write_latency.unwrap_or(Nanos::from_us(100)),
            queue_depth: d.queue_depth.unwrap_or(32),
            write_bps: d.write_bps.map(|s| s.0),
            // The host's write batches: their rates (bytes over the time from the first request's issue or the
            // last batch's end to the completions) spread with a coefficient of variation of 0.10 in buffered_1g
            // (p10-p90 3469-5031 MiB/s over three runs); uniform within +-17 % has that spread.
            write_bw_spread_permille: (d.write_bw_spread.unwrap_or(0.17).clamp(0.0, 1.0) * 1000.0).round() as u32,
            seek: d.seek.map(|s| crate::block::seek::Seek { min: s.min, max: s.max, rpm: s.rpm }),
        };
        if let Some(s) = dev.seek {
            if s.min > s.max || !(1000..=30000).contains(&s.rpm) || s.max > Nanos::from_us(1_000_000) {
                return Err(err(
                    l.field("seek"),
                    format!(
                        "device `{}`: seek (min {} ns, max {} ns, rpm {}) is not a disk's",
                        d.name, s.min.0, s.max.0, s.rpm
                    ),
                    Some("min <= max <= 1s and rpm in 1000..=30000, e.g. `seek: (min: \"0.5ms\", max: \"12ms\", rpm: 7200)`".into()),
                ));
            }
        }
        if let Some(s) = d.write_bw_spread.filter(|s| !(0.0..=0.9).contains(s)) {
            return Err(err(
                l.field("write_bw_spread"),
                format!("device `{}`: write_bw_spread = {s} is not a fraction in 0..=0.9", d.name),
                Some("e.g. `write_bw_spread: 0.17` (each write batch's rate uniform within +-17 % of write_bw), 0 for none".into()),
            ));
        }
        if let Some(bps) = dev.write_bps {
            if bps < MIN_WRITE_BPS {
                return Err(err(
                    l.field("write_bps"),
                    format!("device `{}`: write_bps = {bps} is below {MIN_WRITE_BPS} bytes/s", d.name),
                    Some("a throttle that slow makes runs crawl; leave write_bps out for no limit".into()),
                ));
            }
        }
        let range_checks: [(&str, u64, u64, u64); 6] = [
            ("read_ahead_kb", dev.read_ahead_kb.into(), 0, 1 << 20),
            ("max_sectors_kb", dev.max_sectors_kb.into(), 4, 1 << 20),
            ("nr_requests", dev.nr_requests.into(), 4, 1 << 16),
            ("read_bw", dev.read_bw, 1, u64::MAX),
            ("write_bw", dev.write_bw, 1, u64::MAX),
            ("queue_depth", dev.queue_depth.into(), 1, 1 << 16),
        ];
        for (field, v, lo, hi) in range_checks {
            if !(lo..=hi).contains(&v) {
                return Err(err(
                    l.field(field),
                    format!("device `{}`: {field} = {v} is outside {lo}..={hi}", d.name),
                    None,
                ));
            }
        }
        if d.size.is_some() && dev.size == 0 {
            return Err(err(l.field("size"), format!("device `{}` has size 0", d.name), None));
        }
        devices.push(dev);
    }

    // Files.
    let fl = r.field("files");
    if doc.files.len() > u16::MAX as usize {
        return Err(err(
            fl,
            format!("{} files; the model holds at most 65535 per scenario", doc.files.len()),
            Some("split the workload into several scenarios".into()),
        ));
    }
    let mut files: Vec<FileSpec> = Vec::with_capacity(doc.files.len());
    for (i, f) in doc.files.iter().enumerate() {
        let l = fl.item(i);
        check_name(origin, "file", &f.name, l.field("name"))?;
        if files.iter().any(|x| x.name == f.name) {
            return Err(err(l.field("name"), format!("duplicate file name `{}`", f.name), None));
        }
        let device = match &f.device {
            Some(name) => devices.iter().position(|d| &d.name == name).ok_or_else(|| {
                err(
                    l.field("device"),
                    format!("unknown device `{name}`"),
                    Some(known("devices", devices.iter().map(|d| d.name.as_str()), name)),
                )
            })?,
            None if devices.len() == 1 => 0,
            None => {
                return Err(err(
                    l,
                    format!("file `{}` does not say which device it is on", f.name),
                    Some(format!(
                        "there are {} devices; add `device: \"{}\"` (or another)",
                        devices.len(),
                        devices[0].name
                    )),
                ))
            }
        };
        let size = f.size.0;
        if size > FILE_MAX {
            return Err(err(
                l.field("size"),
                format!("file `{}` is {}, above the 16t limit", f.name, fmt_size(size)),
                Some("check the unit (k, m, g, t are powers of 1024)".into()),
            ));
        }
        let state = match f.state.unwrap_or(StateDoc::Cold) {
            StateDoc::Cold => InitialState::Cold,
            StateDoc::Cached => InitialState::Cached,
            StateDoc::CachedRange { off, len } | StateDoc::DirtyRange { off, len } => {
                let sl = l.field("state");
                if len.0 == 0 || off.0.checked_add(len.0).is_none_or(|end| end > size) {
                    return Err(err(
                        sl,
                        format!(
                            "range [{}, +{}) of file `{}` is empty or past its end ({})",
                            fmt_size(off.0),
                            fmt_size(len.0),
                            f.name,
                            fmt_size(size)
                        ),
                        Some("the range must be non-empty and within the file".into()),
                    ));
                }
                if matches!(f.state, Some(StateDoc::CachedRange { .. })) {
                    InitialState::CachedRange { off: off.0, len: len.0 }
                } else {
                    InitialState::DirtyRange { off: off.0, len: len.0 }
                }
            }
        };
        files.push(FileSpec { name: f.name.clone(), device, size, state });
    }
    for (i, dev) in devices.iter_mut().enumerate() {
        let total: u64 = files.iter().filter(|f| f.device == i).map(|f| f.size).sum();
        let fs_min = dev.fs.min_size();
        if dev.size == 0 {
            dev.size = default_device_size(total).max(fs_min);
            continue;
        }
        let l = dl.item(i).field("size");
        if dev.size < fs_min {
            return Err(err(
                l,
                format!(
                    "device `{}` is {} but {} needs at least {}",
                    dev.name,
                    fmt_size(dev.size),
                    dev.fs.name(),
                    fmt_size(fs_min)
                ),
                Some(format!("give it at least \"{}\" or leave `size` out to get a size that fits", fmt_size(fs_min))),
            ));
        }
        if let Some((j, f)) = files.iter().enumerate().find(|(_, f)| f.device == i && f.size > dev.size) {
            return Err(err(
                fl.item(j).field("size"),
                format!(
                    "file `{}` ({}) is larger than its device `{}` ({})",
                    f.name,
                    fmt_size(f.size),
                    dev.name,
                    fmt_size(dev.size)
                ),
                Some("grow the device's size, or leave it out to get a size that fits".into()),
            ));
        }
        if total > dev.size {
            return Err(err(
                l,
                format!(
                    "device `{}` ({}) is smaller than its files ({} in all)",
                    dev.name,
                    fmt_size(dev.size),
                    fmt_size(total)
                ),
                Some("grow the device's size, or leave it out to get a size that fits".into()),
            ));
        }
    }

    // Sysctls.
    let sysctls = Sysctls::with_settings(memory, &doc.sysctls)
        .map_err(|e| err(r.field("sysctls").entry_key(&e.name), e.msg, e.hint))?;

    // Tasks.
    let seed = doc.seed.unwrap_or(DEFAULT_SEED);
    let tl = r.field("tasks");
    if doc.tasks.is_empty() {
        return Err(err(tl, "no tasks".into(), Some("add at least one task with an op list".into())));
    }
    let mut tasks = Vec::with_capacity(doc.tasks.len());
    for (i, t) in doc.tasks.iter().enumerate() {
        let l = tl.item(i);
        check_name(origin, "task", &t.name, l.field("name"))?;
        if t.name.chars().count() > TASK_NAME_MAX {
            return Err(err(
                l.field("name"),
                format!("task name `{}` is longer than {TASK_NAME_MAX} characters", t.name),
                Some("task names become Linux thread names (comm), which hold 15 characters".into()),
            ));
        }
        if doc.tasks[..i].iter().any(|x| x.name == t.name) {
            return Err(err(l.field("name"), format!("duplicate task name `{}`", t.name), None));
        }
        let ctx = compile::Ctx { origin, files: &files, seed, task: i as u64 };
        tasks.push(compile::task(&ctx, t, l)?);
    }

    Ok(Scenario {
        name: doc.name,
        seed,
        machine,
        devices,
        sysctls,
        files,
        tasks,
        source: String::new(),
        sha256: String::new(),
    })
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
    fn device_size_default() {
        assert_eq!(default_device_size(0), 256 * MIB);
        assert_eq!(default_device_size(GIB), GIB + GIB / 4 + 64 * MIB);
        assert_eq!(default_device_size(GIB + 1), 1345 * MIB);
        assert_eq!(default_device_size(4096) % MIB, 0);
    }

    #[test]
    fn closest_names() {
        assert_eq!(closest("dta", ["data", "log"].into_iter()), Some("data"));
        assert_eq!(closest("zzzzzz", ["data", "log"].into_iter()), None);
    }
}
