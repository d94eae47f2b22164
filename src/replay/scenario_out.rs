//! A replay as a scenario (RON text): the machine, devices and sysctls (from `--machine M.ron`, or defaults to
//! edit), the trace's files with their sizes, one task per thread starting at its first call, and, for
//! `pcsim import`, every task's calls with the recorded think time as `Sleep`s (docs/REPLAY.md).
//!
//! Layout: a file-level trace's files all go on the first device. A block trace's devices each become a device
//! (named after the trace's `devMAJ_MIN`, or the machine file's devices in order) holding one file the size of
//! the traced device. Without `--machine` the machine is `memory: "4g"` and each device has the scenario
//! defaults; with it, its machine, seed, sysctls and device sections are copied (a device's size is raised to
//! what the replay's files need: scenario::default_device_size).

use std::fmt::Write as _;

use super::plan::Plan;
use super::ron_ops::write_op;
use super::timing::Timing;
use crate::scenario::{default_device_size, Device, FsType, Scenario};
use crate::trace::op::Op;

/// What besides the trace goes into the scenario.
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a> {
    /// The scenario's name.
    pub name: &'a str,
    /// The root seed.
    pub seed: u64,
    /// The scenario whose seed, machine, devices and sysctls to use (`--machine`).
    pub machine: Option<&'a Scenario>,
    /// Whether the trace is of block requests (one device per traced device).
    pub block: bool,
    /// Think time kept or dropped.
    pub timing: Timing,
}

/// Where each file of the plan goes: the index of its device among the scenario's devices.
pub fn device_of_files(plan: &Plan, setup: &Setup) -> Result<Vec<usize>, String> {
    if !setup.block {
        return Ok(vec![0; plan.files.len()]);
    }
    if let Some(m) = setup.machine {
        if plan.files.len() > m.devices.len() && m.devices.len() > 1 {
            return Err(format!(
                "the trace has {} devices and the machine file {}: give one device section per traced device, or one \
                 for all",
                plan.files.len(),
                m.devices.len()
            ));
        }
    }
    Ok((0..plan.files.len()).collect())
}

fn sanitize_comment(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn device_text(out: &mut String, name: &str, d: Option<&Device>, need: u64) {
    let Some(d) = d else {
        let _ = write!(out, "        (name: \"{name}\"");
        if need > default_device_size(0) {
            let _ = write!(out, ", size: {}", default_device_size(need));
        }
        out.push_str("),\n");
        return;
    };
    let fs = match d.fs {
        FsType::Ext4 => "Ext4",
        FsType::Xfs => "Xfs",
    };
    let _ = write!(
        out,
        "        (name: \"{name}\", fs: {fs}, size: {}, read_ahead_kb: {}, max_sectors_kb: {}, nr_requests: {}, \
         read_bw: {}, write_bw: {}, read_latency: {}, write_latency: {}, queue_depth: {}, write_bw_spread: {:.3}",
        d.size.max(default_device_size(need)),
        d.read_ahead_kb,
        d.max_sectors_kb,
        d.nr_requests,
        d.read_bw,
        d.write_bw,
        d.read_latency.0,
        d.write_latency.0,
        d.queue_depth,
        d.write_bw_spread_permille as f64 / 1000.0
    );
    if let Some(bps) = d.write_bps {
        let _ = write!(out, ", write_bps: {bps}");
    }
    if let Some(s) = d.seek {
        let _ = write!(out, ", seek: (min: {}, max: {}, rpm: {})", s.min.0, s.max.0, s.rpm);
    }
    out.push_str("),\n");
}

/// The scenario text. `ops`: every task's ops (parallel to `plan.tasks`) for an editable scenario; `None` for a
/// streamed replay's header, whose tasks hold a placeholder `Sleep(0)` (the engine draws their ops from the trace).
/// `comments` open the file.
pub fn scenario_text(
    plan: &Plan,
    setup: &Setup,
    ops: Option<&[Vec<Op>]>,
    comments: &[String],
) -> Result<String, String> {
    let mut out = String::new();
    for c in comments {
        let _ = writeln!(out, "// {}", sanitize_comment(c));
    }
    let device_of = device_of_files(plan, setup)?;
    let m = setup.machine;
    let _ = writeln!(out, "Scenario(\n    name: \"{}\",", setup.name);
    let _ = writeln!(out, "    seed: {},", setup.seed);
    match m {
        Some(m) => {
            let mm = &m.machine;
            let _ = write!(out, "    machine: (memory: {}, cpus: {}, used: {}", mm.memory, mm.cpus, mm.used);
            if let Some(l) = mm.memcg_limit {
                let _ = write!(out, ", memcg_limit: {l}");
            }
            if let Some(u) = mm.memcg_used {
                let _ = write!(out, ", memcg_used: {u}");
            }
            if let Some(t) = mm.memcg_flush {
                let _ = write!(out, ", memcg_flush: \"{}\"", crate::units::Nanos(t));
            }
            out.push_str("),\n");
        }
        None => out.push_str("    machine: (memory: \"4g\"),\n"),
    }
    out.push_str("    devices: [\n");
    let ndev = if setup.block { plan.files.len().max(1) } else { 1 };
    let mut dev_names = Vec::with_capacity(ndev);
    for d in 0..ndev {
        let need: u64 = plan.files.iter().zip(&device_of).filter(|(_, &i)| i == d).map(|(f, _)| f.size).sum();
        let own = m.and_then(|m| m.devices.get(d));
        let machine_dev = own.or(m.and_then(|m| m.devices.first()));
        let name = match (setup.block, own, machine_dev) {
            (_, Some(md), _) | (false, _, Some(md)) => md.name.clone(),
            (true, ..) => plan.file_names.get(d).cloned().unwrap_or_else(|| "disk0".into()),
            (false, _, None) => "disk0".into(),
        };
        device_text(&mut out, &name, machine_dev, need);
        dev_names.push(name);
    }
    out.push_str("    ],\n");
    if let Some(m) = m {
        out.push_str("    sysctls: {");
        let s: Vec<String> = m.sysctls.explicit().iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        out.push_str(&s.join(", "));
        out.push_str("},\n");
    }
    out.push_str("    files: [\n");
    for (i, f) in plan.files.iter().enumerate() {
        let size = if f.existed_before { f.size } else { 0 };
        let dev = &dev_names[device_of[i]];
        let _ = writeln!(out, "        (name: \"{}\", device: \"{dev}\", size: {size}),", plan.file_names[i]);
    }
    out.push_str("    ],\n    tasks: [\n");
    for (t, task) in plan.tasks.iter().enumerate() {
        let start = setup.timing.start_ns(task.first_ns);
        let _ = write!(out, "        (name: \"{}\", start: {start}, ops: [", task.name);
        match ops {
            Some(ops) => {
                out.push('\n');
                for op in &ops[t] {
                    out.push_str("            ");
                    write_op(&mut out, op, &plan.file_names);
                    out.push_str(",\n");
                }
                out.push_str("        ]),\n");
            }
            None => out.push_str("Sleep(0)]),\n"),
        }
    }
    out.push_str("    ],\n)\n");
    Ok(out)
}
