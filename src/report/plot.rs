//! The dirty-page curves of a simulated run and probe runs, from their `vmstat_series.txt`: the scenario devices'
//! dirty pages (`DEV.reclaimable_kb`) and pages under writeback (`DEV.writeback_kb`) over time, one line per run,
//! the model's in black. Written as SVG (plotters' SVG backend; no fonts needed beyond the viewer's).

use std::path::Path;

use plotters::prelude::*;

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

/// Writes the two panels (dirty pages, writeback pages) to `path`. `runs`: (label, series), the model first.
pub fn dirty_curves_svg(path: &Path, title: &str, runs: &[(String, &Series)]) -> Result<(), String> {
    let devices: Vec<&str> =
        runs.iter().find_map(|(_, s)| s.header.get("devices")).map(|d| d.split(',').collect()).unwrap_or_default();
    let panels = [("dirty pages of the devices", "reclaimable_kb"), ("pages under writeback", "writeback_kb")];
    let curves: Vec<Vec<Vec<(f64, f64)>>> =
        panels.iter().map(|(_, suffix)| runs.iter().map(|(_, s)| curve(s, &devices, suffix)).collect()).collect();
    let t_max = curves.iter().flatten().flatten().map(|p| p.0).fold(0.0, f64::max).max(0.1);
    let root = SVGBackend::new(path, (960, 720)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(|e| err(&e))?;
    let areas = root.split_evenly((2, 1));
    for ((area, (label, _)), lines) in areas.iter().zip(panels.iter()).zip(&curves) {
        let y_max = lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.05;
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .caption(*label, ("sans-serif", 16))
            .build_cartesian_2d(0.0..t_max, 0.0..y_max)
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc("seconds").y_desc("pages").draw().map_err(|e| err(&e))?;
        for (i, ((name, _), pts)) in runs.iter().zip(lines).enumerate() {
            let color: RGBAColor = if i == 0 { BLACK.to_rgba() } else { Palette99::pick(i).to_rgba() };
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(if i == 0 { 2 } else { 1 })))
                .map_err(|e| err(&e))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
