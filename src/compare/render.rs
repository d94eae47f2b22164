//! The text rendering of a [`Comparison`]: per run the tracepoint table, group totals, first disagreements,
//! residency, vmstat, cachestat and notes; then the minimum over the runs, the write checks, elapsed time, curves,
//! counters and the threshold checks.

use std::fmt::Write as _;

use super::cachestat;
use super::counters::CounterCheck;
use super::output::{Check, Comparison, Elapsed, RunReport};
use super::residency::ResidencyReport;
use super::write_checks::WriteCheck;
use super::{Group, Report};

/// A fraction as a percentage with two decimals.
fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// The text rendering: per run the tracepoint table, group totals, first disagreements, residency and notes;
/// then the minimum over the runs and the threshold checks.
pub fn render_text(c: &Comparison) -> String {
    let mut o = String::new();
    for (n, run) in c.runs.iter().enumerate() {
        if n > 0 {
            o.push('\n');
        }
        render_run(&mut o, &c.sim_log, run);
    }
    render_cachestat_ranges(&mut o, c);
    render_minimum(&mut o, c);
    render_kernel_and_evictions(&mut o, c);
    render_writes(&mut o, &c.writes);
    render_elapsed(&mut o, c.elapsed.as_ref());
    render_curves(&mut o, &c.curves);
    render_counters(&mut o, &c.counters);
    render_checks(&mut o, &c.checks);
    o
}

/// One run's part: header, tracepoint table, groups, first disagreements, residency, vmstat, cachestat, notes.
fn render_run(o: &mut String, sim_log: &str, run: &RunReport) {
    let r = &run.events;
    let _ = writeln!(o, "sim   {} ({} events)", sim_log, r.sim_events);
    let _ = writeln!(o, "probe {} ({} events)", run.probe, r.probe_events);
    render_kinds(o, r);
    render_groups(o, r);
    render_first_disagreements(o, r);
    render_residency(o, run.residency.as_deref());
    if let Some(rows) = &run.vmstat {
        render_vmstat(o, rows);
    }
    if let Some(ops) = &run.cachestat {
        render_cachestat(o, ops);
    }
    for note in &r.notes {
        let _ = writeln!(o, "note: {note}");
    }
}

/// The per-tracepoint table: counts, agreements and where the streams first part.
fn render_kinds(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "{:<34} {:<10} {:>8} {:>8} {:>9} {:>9}  first disagreement",
        "kind", "group", "sim", "probe", "in order", "multiset"
    );
    for k in &r.kinds {
        let first = k.first_disagreement.as_ref().map_or("-".to_string(), |d| format!("{} #{}", d.scope, d.position));
        let approx = if k.exact { "" } else { " (greedy: lower bound)" };
        let _ = writeln!(
            o,
            "{:<34} {:<10} {:>8} {:>8} {:>9} {:>9}  {first}{approx}",
            k.kind,
            k.group.name(),
            k.sim_count,
            k.probe_count,
            pct(k.in_order),
            pct(k.multiset)
        );
    }
}

/// The group totals, and which agreement the thresholds use.
fn render_groups(o: &mut String, r: &Report) {
    let _ = writeln!(o, "groups:");
    for g in &r.groups {
        let used = match (g.thresholded, g.group) {
            (false, _) => "not thresholded",
            (true, Group::Block) => "thresholds use multiset",
            (true, _) => "thresholds use in order",
        };
        let _ = writeln!(
            o,
            "  {:<32} {:<10} {:>8} {:>8} {:>9} {:>9}  {used}",
            g.group.name(),
            "",
            g.sim_count,
            g.probe_count,
            pct(g.in_order),
            pct(g.multiset)
        );
    }
}

/// Each tracepoint's first disagreement with both sides' event lines.
fn render_first_disagreements(o: &mut String, r: &Report) {
    let firsts: Vec<_> = r.kinds.iter().filter_map(|k| Some((k.kind, k.first_disagreement.as_ref()?))).collect();
    if !firsts.is_empty() {
        let _ = writeln!(o, "first disagreements (event = ordinal among the log's events):");
    }
    for (kind, d) in firsts {
        let _ = writeln!(o, "  {kind} {} #{}:", d.scope, d.position);
        for (label, side) in [("sim  ", &d.sim), ("probe", &d.probe)] {
            match side {
                Some(s) => writeln!(o, "    {label} event {}: {}", s.event, s.line),
                None => writeln!(o, "    {label} (stream ended)"),
            }
            .expect("writing to a String");
        }
    }
}

/// The residency per file, or why it was not compared.
fn render_residency(o: &mut String, residency: Option<&[ResidencyReport]>) {
    let Some(files) = residency else {
        let _ = writeln!(o, "residency: not compared (residency.txt missing on a side)");
        return;
    };
    let _ = writeln!(o, "residency (Jaccard of resident page sets; nr_cache and resident pages sim/probe):");
    for f in files {
        let nc = |v: Option<u64>| v.map_or("absent".to_string(), |n| n.to_string());
        let _ = writeln!(
            o,
            "  {:<20} jaccard {:.4}  nr_cache {}/{}  resident {}/{}  common {}",
            f.file,
            f.jaccard,
            nc(f.sim_nr_cache),
            nc(f.probe_nr_cache),
            f.sim_resident,
            f.probe_resident,
            f.common
        );
    }
}

/// The model's counters beside the kernel's deltas.
fn render_vmstat(o: &mut String, rows: &[(String, i64, i64)]) {
    let _ = writeln!(
        o,
        "vmstat (model / kernel; the kernel's counters are host-wide deltas, and its pgpgin counts the loop device \
         and its backing disk, twice the model's):"
    );
    for (name, sim, probe) in rows {
        let _ = writeln!(o, "  {name:<28} {sim:>12} {probe:>12}");
    }
}

/// Each cachestat op on both sides, those that differ marked.
fn render_cachestat(o: &mut String, ops: &[cachestat::OpReport]) {
    let equal = ops.iter().filter(|op| op.equal()).count();
    let _ = writeln!(
        o,
        "cachestat ({equal}/{} ops equal; nr_cache nr_dirty nr_writeback nr_evicted nr_recently_evicted, \
         sim / probe):",
        ops.len()
    );
    let show = |c: Option<[u64; 5]>| {
        c.map_or("absent".to_string(), |c| c.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "))
    };
    for op in ops {
        let mark = if op.equal() { "" } else { "  DIFFERS" };
        let _ = writeln!(
            o,
            "  {} #{} {} off {} len {}: {} / {}{mark}",
            op.task,
            op.n,
            op.file,
            op.off,
            op.len,
            show(op.sim),
            show(op.probe)
        );
    }
}

/// With several runs: how many cachestat counts fall inside the kernel's range, and those outside it.
fn render_cachestat_ranges(o: &mut String, c: &Comparison) {
    let Some(ranges) = c.cachestat_ranges.as_ref().filter(|_| c.runs.len() > 1) else { return };
    let outside: Vec<_> = ranges.iter().filter(|f| !f.within).collect();
    let _ = writeln!(
        o,
        "\ncachestat over {} runs: {} of {} counts inside the kernel's range ({} repeatable in every run)",
        c.runs.len(),
        ranges.len() - outside.len(),
        ranges.len(),
        ranges.iter().filter(|f| f.repeatable).count()
    );
    for f in outside {
        let sim = f.sim.map_or("absent".to_string(), |v| v.to_string());
        let _ = writeln!(o, "  {} #{} {}: sim {sim}, kernel {}..={}", f.task, f.n, f.field, f.probe_min, f.probe_max);
    }
}

/// With several runs: the minimum (or median) over them, per group and per file.
fn render_minimum(o: &mut String, c: &Comparison) {
    if c.runs.len() <= 1 {
        return;
    }
    let over = if c.thresholds.median { "median" } else { "minimum" };
    let _ = writeln!(o, "\n{over} over {} runs:", c.runs.len());
    for m in &c.minimum {
        let v = if m.name.starts_with("residency") { format!("{:.4}", m.value) } else { pct(m.value) };
        let _ = writeln!(o, "  {:<32} {v:>9}  ({})", m.name, m.run);
    }
}

/// The kernel runs' agreement among themselves, and the eviction order's.
fn render_kernel_and_evictions(o: &mut String, c: &Comparison) {
    for k in &c.kernel_agreement {
        let _ = writeln!(o, "kernel runs among themselves: {} in order >= {}", k.name, pct(k.value));
    }
    if let Some(e) = &c.eviction_order {
        let model: Vec<String> = e.model.iter().map(|&v| pct(v)).collect();
        let _ = writeln!(
            o,
            "eviction order (deletes in order): model vs kernel runs {}; kernel runs among themselves >= {} ({}); \
             deletes model {} kernel {:?}",
            model.join(" "),
            pct(e.kernel_min),
            if e.kernel_deterministic() { "deterministic" } else { "not deterministic" },
            e.deletes_model,
            e.deletes_kernel
        );
    }
}

/// The write-side checks.
fn render_writes(o: &mut String, writes: &[WriteCheck]) {
    for ch in writes {
        let verdict = if ch.passed { "ok" } else { "OUTSIDE" };
        let v = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
        let kernel: Vec<String> = ch.kernel.iter().map(|&x| v(x)).collect();
        let _ = writeln!(
            o,
            "write {:<36} model {:>10}  kernel [{}]  accepted {:.1}..={:.1} {verdict}",
            ch.name,
            v(ch.model),
            kernel.join(", "),
            ch.lo,
            ch.hi
        );
    }
}

/// The elapsed times (reported, not thresholded).
fn render_elapsed(o: &mut String, e: Option<&Elapsed>) {
    let Some(e) = e else { return };
    let mut k = e.kernel_ns.clone();
    k.sort_unstable();
    let median = k[(k.len() - 1) / 2];
    let s = |ns: u64| format!("{:.4}", ns as f64 / 1e9);
    let _ = writeln!(
        o,
        "elapsed            model {} s  kernel [{}] s  model/kernel median {:.2} (reported, not thresholded)",
        s(e.model_ns),
        e.kernel_ns.iter().map(|&n| s(n)).collect::<Vec<_>>().join(", "),
        e.model_ns as f64 / median.max(1) as f64
    );
}

/// The curve scores (reported, not thresholded).
fn render_curves(o: &mut String, curves: &[super::envelope::CurveScore]) {
    use super::envelope::{FLOOR_PAGES, TARGET, WIDEN};
    if !curves.is_empty() {
        let _ = writeln!(
            o,
            "curves: each run aligned on its first write; envelope = the kernel runs' min..max +-{:.0}% of their \
             median (at least {FLOOR_PAGES:.0} pages); reported, not thresholded",
            100.0 * WIDEN
        );
    }
    for s in curves {
        let _ = write!(
            o,
            "curve {:<14} {:>6.1}% of {} samples inside the kernel runs' envelope over {:.1} s from the first write \
             (target {:.0}%)",
            s.curve,
            100.0 * s.share(),
            s.samples,
            s.span_ns as f64 / 1e9,
            100.0 * TARGET
        );
        if let Some((t, v, lo, hi)) = s.first_outside {
            let _ = write!(o, "; first outside at +{:.1} s: model {v:.0}, envelope {lo:.0}..={hi:.0}", t as f64 / 1e9);
        }
        o.push('\n');
    }
}

/// The counter checks.
fn render_counters(o: &mut String, counters: &[CounterCheck]) {
    for ch in counters {
        let verdict = if ch.passed { "ok" } else { "OUTSIDE" };
        let _ = writeln!(
            o,
            "counter {:<26} model {:>10}  kernel {:?}  accepted {}..={} {verdict}",
            ch.name, ch.model, ch.kernel, ch.lo, ch.hi
        );
    }
}

/// The threshold checks.
fn render_checks(o: &mut String, checks: &[Check]) {
    for ch in checks {
        let (req, act) = if ch.measure == "jaccard" {
            (format!("{:.4}", ch.required), format!("{:.4}", ch.actual))
        } else {
            (format!("{:.2}%", ch.required), format!("{:.2}%", ch.actual))
        };
        let verdict = if ch.passed { "ok" } else { "BELOW THRESHOLD" };
        let _ = writeln!(o, "threshold {} ({}) >= {req}: {act} ({}) {verdict}", ch.name, ch.measure, ch.run);
    }
}
