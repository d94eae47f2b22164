//! The residency heatmap: a file's offset (y, MiB) against time (x, seconds), each cell shaded by the fraction of
//! its pages resident at the end of the time bin (white: none, dark blue: all).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::sweep::timeline::Heat;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heat, title: &str) -> Result<(), String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let t1 = (h.bin_ns as f64 * h.pages.len().max(1) as f64) / 1e9;
    let mib = |pages: u64| pages as f64 * 4096.0 / 1048576.0;
    let y1 = mib(h.size_pages.max(1));
    let mut c = ChartBuilder::on(root)
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(76)
        .caption(title, ("sans-serif", super::chart::title_size(title)))
        .build_cartesian_2d(0.0..t1, 0.0..y1)
        .map_err(|x| e(&x))?;
    c.configure_mesh()
        .x_desc("time (s)")
        .y_desc(format!("offset in file {} (MiB)", h.file))
        .disable_mesh()
        .draw()
        .map_err(|x| e(&x))?;
    let mut cells = Vec::new();
    for (ti, row) in h.pages.iter().enumerate() {
        for (oi, &n) in row.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let lo = oi as u64 * h.bin_pages;
            let hi = ((oi as u64 + 1) * h.bin_pages).min(h.size_pages);
            let frac = (n as f64 / (hi.saturating_sub(lo)).max(1) as f64).min(1.0);
            let shade =
                RGBColor((255.0 - frac * 225.0) as u8, (255.0 - frac * 185.0) as u8, (255.0 - frac * 95.0) as u8);
            let x0 = ti as f64 * h.bin_ns as f64 / 1e9;
            cells.push(Rectangle::new([(x0, mib(lo)), (x0 + h.bin_ns as f64 / 1e9, mib(hi))], shade.filled()));
        }
    }
    c.draw_series(cells)
        .map_err(|x| e(&x))?
        .label("resident fraction of the cell's pages (darker = more)")
        .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 14, y + 4)], RGBColor(30, 70, 160).filled()));
    c.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw().map_err(|x| e(&x))?;
    Ok(())
}

/// Writes the heatmap of `h` to `stem.svg` (and `.png`).
pub fn write(h: &Heat, stem: &Path, title: &str, png: bool) -> Result<Vec<PathBuf>, String> {
    let title = format!("{title}: residency of {}", h.file);
    let svg = super::chart::with_ext(stem, "svg");
    super::chart::font()?;
    {
        let root = SVGBackend::new(&svg, (960, 600)).into_drawing_area();
        draw(&root, h, &title).map_err(|e| format!("{}: {e}", svg.display()))?;
        root.present().map_err(|e| format!("{}: {e}", svg.display()))?;
    }
    let mut out = vec![svg];
    if png {
        let p = super::chart::with_ext(stem, "png");
        {
            let root = BitMapBackend::new(&p, (960, 600)).into_drawing_area();
            draw(&root, h, &title).map_err(|e| format!("{}: {e}", p.display()))?;
            root.present().map_err(|e| format!("{}: {e}", p.display()))?;
        }
        out.push(p);
    }
    Ok(out)
}
