//! From the as-written schema to a resolved [`Scenario`]: ron errors mapped to [`ScenarioError`]s, names resolved,
//! defaults filled in, and the machine, devices, files and sysctls checked, each error pointing at its token.
//! Task programs are compiled by [`super::compile`].

use super::compile;
use super::diag::{check_name, describe_ron_error, error, fmt_size, known};
use super::locate::{Loc, Node, Pos};
use super::schema::{DeviceDoc, FsDoc, ScenarioDoc, StateDoc};
use super::sysctl::Sysctls;
use super::{Device, FileSpec, FsType, InitialState, Machine, Scenario, ScenarioError, TaskSpec, DEFAULT_SEED};
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

/// A device section with the fields it leaves out taken from the profile file `profile` (a device section as
/// `pcsim calibrate --out` writes it; relative paths from the scenario's directory).
fn with_profile(d: &DeviceDoc, profile: &str, origin: &str, at: Pos) -> Result<DeviceDoc, ScenarioError> {
    let base = std::path::Path::new(origin).parent().filter(|p| !p.as_os_str().is_empty());
    let path = match base {
        Some(b) if !std::path::Path::new(profile).is_absolute() => b.join(profile),
        _ => std::path::PathBuf::from(profile),
    };
    let text = crate::files::read_text(&path, "device profile", crate::files::MAX_TEXT_INPUT).map_err(|e| {
        error(
            origin,
            at,
            format!("device `{}`: its profile: {e}", d.name),
            Some("write one with `pcsim calibrate --out FILE` (root), or remove `profile`".into()),
        )
    })?;
    let opts = ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .with_recursion_limit(super::diag::RECURSION_LIMIT);
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
    let opts = ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .with_recursion_limit(super::diag::RECURSION_LIMIT);
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

/// The default size of a device: room for its files plus a quarter and 64 MiB of filesystem slack, at least 256 MiB.
pub fn default_device_size(files_bytes: u64) -> u64 {
    (files_bytes.saturating_mul(5) / 4 + 64 * MIB).div_ceil(MIB).saturating_mul(MIB).max(256 * MIB)
}

/// Resolves and checks a deserialised scenario.
pub(crate) fn build(doc: ScenarioDoc, root: &Node, origin: &str) -> Result<Scenario, ScenarioError> {
    let r = Loc::new(root);
    check_name(origin, "scenario", &doc.name, r.field("name"))?;
    let machine = machine(&doc, r, origin)?;
    let mut devices = devices(&doc, r, origin)?;
    let files = files(&doc, r, &devices, origin)?;
    size_devices(&mut devices, &files, r, origin)?;
    let set: std::collections::BTreeMap<String, u64> = doc.sysctls.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    let sysctls = Sysctls::with_settings(machine.memory, &set)
        .map_err(|e| error(origin, r.field("sysctls").entry_key(&e.name).pos(), e.msg, e.hint))?;
    let seed = doc.seed.unwrap_or(DEFAULT_SEED);
    let tasks = tasks(&doc, r, &files, seed, origin)?;
    let model_refusal = model_refusal(&machine, &files, r, origin);
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
        model_refusal,
    })
}

/// Model: what the probe runs but the model does not represent yet (files that start dirty, a memory cgroup over
/// files cached before the run, more cached at the start than memory holds), located at the file's `state`.
fn model_refusal(machine: &Machine, files: &[FileSpec], r: Loc, origin: &str) -> Option<ScenarioError> {
    let fl = r.field("files");
    for (i, f) in files.iter().enumerate() {
        let at = fl.item(i).field("state").pos();
        if matches!(f.state, InitialState::DirtyRange { .. }) {
            return Some(error(
                origin,
                at,
                format!("file `{}` starts with dirty pages, which the model does not represent yet", f.name),
                Some(
                    "`pcsim probe` runs it on the host's kernel; for the model, start the file Cold and write it"
                        .into(),
                ),
            ));
        }
        if machine.memcg_limit.is_some() && f.state != InitialState::Cold {
            return Some(error(
                origin,
                at,
                format!(
                    "file `{}` is cached before the run under machine.memcg_limit: the probe charges those pages to \
                     another cgroup, which the model does not represent yet",
                    f.name
                ),
                Some("start the file Cold (or drop memcg_limit); `pcsim probe` runs it as it is".into()),
            ));
        }
    }
    let cached: u64 = files
        .iter()
        .map(|f| match f.state {
            InitialState::Cached => f.size,
            InitialState::CachedRange { len, .. } => len,
            _ => 0,
        })
        .sum();
    let room = (crate::mm::page_alloc::managed_pages(machine.memory) * 4096).saturating_sub(machine.used);
    if cached > room {
        return Some(error(
            origin,
            fl.pos(),
            format!(
                "the files start with {} cached, more than the {} the machine's memory holds for the page cache",
                fmt_size(cached),
                fmt_size(room)
            ),
            Some("cache less at the start (CachedRange), or give machine.memory more".into()),
        ));
    }
    None
}

/// The machine section, checked.
fn machine(doc: &ScenarioDoc, r: Loc, origin: &str) -> Result<Machine, ScenarioError> {
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
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
    let memcg_used = doc.machine.memcg_used.map(|s| s.0);
    let memcg_flush = doc.machine.memcg_flush.map(|t| t.0);
    for (field, given) in [("memcg_used", memcg_used.is_some()), ("memcg_flush", memcg_flush.is_some())] {
        if given && memcg_limit.is_none() {
            return Err(err(
                m.field(field),
                format!("{field} is given without a memory cgroup"),
                Some("give machine.memcg_limit too, or drop it".into()),
            ));
        }
    }
    if let (Some(u), Some(limit)) = (memcg_used, memcg_limit) {
        if u > limit.saturating_sub(4 * MIB) {
            return Err(err(
                m.field("memcg_used"),
                format!(
                    "memcg_used {} leaves less than 4m of memcg_limit {} for the page cache",
                    fmt_size(u),
                    fmt_size(limit)
                ),
                Some("memcg_used is what the cgroup holds besides the files' pages (anon, kernel memory)".into()),
            ));
        }
    }
    if let Some(t) = memcg_flush {
        if t > 2_000_000_000 {
            return Err(err(
                m.field("memcg_flush"),
                format!("memcg_flush {} is past the 2 s period of the memcg stats flush", Nanos(t)),
                Some("give when the first periodic flush comes after the start, 0ms..=2s".into()),
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
    Ok(Machine { memory, cpus, memcg_limit, memcg_used, memcg_flush, used })
}

/// The device sections, checked (sizes settled later by `size_devices`).
fn devices(doc: &ScenarioDoc, r: Loc, origin: &str) -> Result<Vec<Device>, ScenarioError> {
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
    let dl = r.field("devices");
    if doc.devices.is_empty() {
        return Err(err(dl, "no devices".into(), Some("add one, e.g. `devices: [(name: \"disk0\")]`".into())));
    }
    let mut devices = Vec::with_capacity(doc.devices.len());
    for (i, d) in doc.devices.iter().enumerate() {
        let dev = device(d, dl.item(i), &devices, origin)?;
        devices.push(dev);
    }
    Ok(devices)
}

/// One device section (its profile's fields filling the ones it leaves out), checked; its size is settled later
/// (`size_devices`). `before`: the devices already read.
fn device(d: &DeviceDoc, l: Loc, before: &[Device], origin: &str) -> Result<Device, ScenarioError> {
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
    let merged;
    let d = match &d.profile {
        Some(p) => {
            merged = with_profile(d, p, origin, l.field("profile").pos())?;
            &merged
        }
        None => d,
    };
    check_name(origin, "device", &d.name, l.field("name"))?;
    if let Some(j) = before.iter().position(|x: &Device| x.name == d.name) {
        return Err(err(
            l.field("name"),
            format!("duplicate device name `{}`", d.name),
            Some(format!("device {} already uses it", j + 1)),
        ));
    }
    let dev = device_with_defaults(d);
    check_device_timing(&dev, d, l, origin)?;
    check_device_ranges(&dev, d, l, origin)?;
    Ok(dev)
}

/// The device a section describes, the fields it leaves out given their defaults (size 0: not given).
fn device_with_defaults(d: &DeviceDoc) -> Device {
    Device {
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
    }
}

/// Checks a device's service times: its seek model is a disk's, its write_bw_spread a fraction, its write_bps
/// throttle not crawling.
fn check_device_timing(dev: &Device, d: &DeviceDoc, l: Loc, origin: &str) -> Result<(), ScenarioError> {
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
    if let Some(s) = dev.seek {
        if s.min > s.max || !(1000..=30000).contains(&s.rpm) || s.max > Nanos::from_us(1_000_000) {
            return Err(err(
                l.field("seek"),
                format!(
                    "device `{}`: seek (min {} ns, max {} ns, rpm {}) is not a disk's",
                    d.name, s.min.0, s.max.0, s.rpm
                ),
                Some(
                    "min <= max <= 1s and rpm in 1000..=30000, e.g. `seek: (min: \"0.5ms\", max: \"12ms\", rpm: 7200)`"
                        .into(),
                ),
            ));
        }
    }
    if let Some(s) = d.write_bw_spread.filter(|s| !(0.0..=0.9).contains(s)) {
        return Err(err(
            l.field("write_bw_spread"),
            format!("device `{}`: write_bw_spread = {s} is not a fraction in 0..=0.9", d.name),
            Some(
                "e.g. `write_bw_spread: 0.17` (each write batch's rate uniform within +-17 % of write_bw), 0 for none"
                    .into(),
            ),
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
    Ok(())
}

/// Checks a device's queue limits and bandwidths against their ranges, and that a size given is not 0.
fn check_device_ranges(dev: &Device, d: &DeviceDoc, l: Loc, origin: &str) -> Result<(), ScenarioError> {
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
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
    Ok(())
}

/// The file sections, checked and placed on their devices.
fn files(doc: &ScenarioDoc, r: Loc, devices: &[Device], origin: &str) -> Result<Vec<FileSpec>, ScenarioError> {
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
    let fl = r.field("files");
    if doc.files.len() > u16::MAX as usize {
        return Err(err(
            fl,
            format!("{} files; the model holds at most 65535 per scenario", doc.files.len()),
            Some("split the workload into several scenarios".into()),
        ));
    }
    let mut files: Vec<FileSpec> = Vec::with_capacity(doc.files.len());
    // The names seen so far (a set: a host's tens of thousands of files are checked in linear time).
    let mut names: hashbrown::HashSet<&str> = hashbrown::HashSet::with_capacity(doc.files.len());
    for (i, f) in doc.files.iter().enumerate() {
        let l = fl.item(i);
        check_name(origin, "file", &f.name, l.field("name"))?;
        if !names.insert(f.name.as_str()) {
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
    Ok(files)
}

/// Each device's size: the default that fits its files, or the given one checked against them and its filesystem.
fn size_devices(devices: &mut [Device], files: &[FileSpec], r: Loc, origin: &str) -> Result<(), ScenarioError> {
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
    let (dl, fl) = (r.field("devices"), r.field("files"));
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

    Ok(())
}

/// The tasks, their op lists compiled against the files.
fn tasks(
    doc: &ScenarioDoc,
    r: Loc,
    files: &[FileSpec],
    seed: u64,
    origin: &str,
) -> Result<Vec<TaskSpec>, ScenarioError> {
    let err = |loc: Loc, msg: String, hint: Option<String>| error(origin, loc.pos(), msg, hint);
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
        let ctx = compile::Ctx { origin, files, seed, task: i as u64 };
        tasks.push(compile::task(&ctx, t, l)?);
    }

    Ok(tasks)
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
}
