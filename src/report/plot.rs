//! The write-side curves of a simulated run and probe runs: from their `vmstat_series.txt`, the scenario devices'
//! dirty pages (`DEV.reclaimable_kb`) and pages under writeback (`DEV.writeback_kb`) over time; from their event
//! logs (compare::curves), the balance_dirty_pages pause distribution and the data write request sizes. One line
//! per run, the model's in black. Written as SVG (plotters' SVG backend; laid out with the embedded font, `report::font`).

use std::path::Path;

use plotters::prelude::*;

use crate::compare::curves::WriteFigures;
use crate::trace::series::Series;

/// One curve: per sample, (seconds, pages) of the summed per-device column `suffix` (`reclaimable_kb`,
/// `writeback_kb`), kB turned into pages.
fn curve(series: &Series, devices: &[&str], suffix: &str) -> Vec<(f64, f64)> {
    series
        .samples
        .iter()
        .filter_map(|s| {
            let mut sum = 0u64;
            for d in devices {
                sum += s.get(&format!("{d}.{suffix}"))?;
            }
            Some((s.time.0 as f64 / 1e9, (sum / 4) as f64))
        })
        .collect()
}

/// One panel: a line per run through `points` (x, y), the model's (first) thicker and black.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    label: &str,
    (x_desc, y_desc): (&str, &str),
    names: &[String],
    lines: &[Vec<(f64, f64)>],
) -> Result<(), String> {
    let x_max = lines.iter().flatten().map(|p| p.0).fold(0.0, f64::max).max(0.1) * 1.05;
    let y_max = lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.05;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .caption(label, ("sans-serif", 16))
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|x| e(&x))?;
    chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(|x| e(&x))?;
    for (i, (name, pts)) in names.iter().zip(lines).enumerate() {
        let color: RGBAColor = if i == 0 { BLACK.to_rgba() } else { Palette99::pick(i).to_rgba() };
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(if i == 0 { 2 } else { 1 })))
            .map_err(|x| e(&x))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|x| e(&x))?;
    Ok(())
}

/// Writes four panels to `path`: dirty pages and pages under writeback over time, the pause distribution (count
/// per pause length) and the write request sizes (count per size). `runs`: (label, series, figures), model first.
pub fn write_curves_svg(path: &Path, title: &str, runs: &[(String, &Series, WriteFigures)]) -> Result<(), String> {
    let devices: Vec<&str> =
        runs.iter().find_map(|(_, s, _)| s.header.get("devices")).map(|d| d.split(',').collect()).unwrap_or_default();
    let names: Vec<String> = runs.iter().map(|(n, _, _)| n.clone()).collect();
    let dirty: Vec<_> = runs.iter().map(|(_, s, _)| curve(s, &devices, "reclaimable_kb")).collect();
    let writeback: Vec<_> = runs.iter().map(|(_, s, _)| curve(s, &devices, "writeback_kb")).collect();
    let pauses: Vec<Vec<(f64, f64)>> =
        runs.iter().map(|(_, _, f)| f.pause_ms_hist.iter().map(|(&ms, &n)| (ms as f64, n as f64)).collect()).collect();
    let sizes: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|(_, _, f)| f.write_request_hist.iter().map(|(&b, &n)| (b as f64 / 1024.0, n as f64)).collect())
        .collect();
    super::font::ensure()?;
    let root = SVGBackend::new(path, (1280, 880)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(|e| err(&e))?;
    let areas = root.split_evenly((2, 2));
    panel(&areas[0], "dirty pages of the devices", ("seconds", "pages"), &names, &dirty).map_err(|e| err(&e))?;
    panel(&areas[1], "pages under writeback", ("seconds", "pages"), &names, &writeback).map_err(|e| err(&e))?;
    panel(&areas[2], "balance_dirty_pages pauses", ("pause (ms)", "pauses"), &names, &pauses).map_err(|e| err(&e))?;
    panel(&areas[3], "data write requests", ("request size (KiB)", "requests"), &names, &sizes).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
