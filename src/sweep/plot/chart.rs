//! One chart described as data (`Chart`), drawn with plotters as SVG and, on request, PNG: lines with an optional
//! band (the seeds' spread), points with error bars (the kernel's runs), bars (distributions), horizontal
//! reference lines (thresholds). Axis labels carry units; an axis of counts prints integers.

use std::path::{Path, PathBuf};

use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How a series is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Style {
    Line,
    /// Points only (a scatter: pauses over time, the kernel's medians).
    Points,
    /// Vertical bars from 0 (a distribution).
    Bars,
    /// A step line (a threshold that changes over time).
    Step,
}

/// One series.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub style: Style,
    pub pts: Vec<(f64, f64)>,
    /// (x, low, high): a shaded band (lines) or error bars (points).
    pub spread: Vec<(f64, f64, f64)>,
    /// Dashed-looking thin line (reference lines).
    pub thin: bool,
    /// A marker at each point of a line (a sweep's configurations; not a time series' samples).
    pub marker: bool,
}

impl Series {
    pub fn new(name: impl Into<String>, style: Style, pts: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), style, pts, spread: Vec::new(), thin: false, marker: false }
    }
}

/// A chart.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    /// Integer ticks (counts, pages) on the axis.
    pub x_int: bool,
    pub y_int: bool,
    /// Labels for x = 0, 1, 2... (a knob whose values are not numbers).
    pub x_names: Vec<String>,
    pub series: Vec<Series>,
}

/// Writes `chart` to `stem.svg` (and `stem.png` with `png`); returns the files written.
pub fn write(chart: &Chart, stem: &Path, png: bool) -> Result<Vec<PathBuf>, String> {
    let svg = with_ext(stem, "svg");
    font()?;
    {
        let root = SVGBackend::new(&svg, (960, 600)).into_drawing_area();
        draw(&root, chart).map_err(|e| format!("{}: {e}", svg.display()))?;
        root.present().map_err(|e| format!("{}: {e}", svg.display()))?;
    }
    let mut out = vec![svg];
    if png {
        let p = with_ext(stem, "png");
        {
            let root = BitMapBackend::new(&p, (960, 600)).into_drawing_area();
            draw(&root, chart).map_err(|e| format!("{}: {e}", p.display()))?;
            root.present().map_err(|e| format!("{}: {e}", p.display()))?;
        }
        out.push(p);
    }
    Ok(out)
}

/// The title's font size: 19 px, smaller for a long title (a setting of several knobs) so it fits the 960 px width.
pub fn title_size(title: &str) -> u32 {
    let chars = title.chars().count().max(1) as f64;
    (900.0 / (0.52 * chars)).clamp(10.0, 19.0) as u32
}

/// `stem.EXT`: the extension appended (a stem such as `metric-writer.mib_s` keeps its dots).
pub fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// The embedded font (`report::font`), registered before any drawing.
pub(super) fn font() -> Result<(), String> {
    crate::report::font::ensure()
}

/// A tick label: integers without decimals; otherwise up to 3 significant decimals.
pub fn tick(v: f64, int: bool) -> String {
    if int || (v.fract() == 0.0 && v.abs() < 1e15) {
        return format!("{:.0}", v);
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    }
}

fn bounds(chart: &Chart) -> ((f64, f64), (f64, f64)) {
    let xs = chart.series.iter().flat_map(|s| s.pts.iter().map(|p| p.0).chain(s.spread.iter().map(|p| p.0)));
    let ys =
        chart.series.iter().flat_map(|s| s.pts.iter().map(|p| p.1).chain(s.spread.iter().flat_map(|p| [p.1, p.2])));
    let (mut x0, mut x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let y1 = ys.fold(0.0f64, f64::max);
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if chart.x_log {
        x0 = x0.max(1e-9);
        let pad = (x1 / x0).powf(0.04);
        return ((x0 / pad, x1 * pad), (0.0, if y1 > 0.0 { y1 * 1.08 } else { 1.0 }));
    }
    let bars = chart.series.iter().any(|s| s.style == Style::Bars);
    let pad = if x1 > x0 { (x1 - x0) * 0.04 } else { 0.5 };
    let x0 = if bars || !chart.x_names.is_empty() { x0 - pad.max(0.5) } else { x0 - pad };
    let x0 = if x0 < 0.0
        && chart.series.iter().all(|s| s.pts.iter().all(|p| p.0 >= 0.0))
        && !bars
        && chart.x_names.is_empty()
    {
        0.0
    } else {
        x0
    };
    ((x0, x1 + pad.max(if bars { 0.5 } else { 0.0 })), (0.0, if y1 > 0.0 { y1 * 1.08 } else { 1.0 }))
}

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(0, 0, 0),
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let ((x0, x1), (y0, y1)) = bounds(chart);
    let mut b = ChartBuilder::on(root);
    b.margin(14)
        .x_label_area_size(44)
        .y_label_area_size(76)
        .caption(&chart.title, ("sans-serif", title_size(&chart.title)));
    if chart.x_log {
        // Ticks at the knob's values (a log axis's own ticks are powers of ten, often one or none in range).
        let mut keys: Vec<f64> = chart.series.iter().flat_map(|s| s.pts.iter().map(|p| p.0)).collect();
        keys.sort_by(f64::total_cmp);
        keys.dedup();
        let x = (x0..x1).log_scale().with_key_points(keys);
        let mut c = b.build_cartesian_2d(x, y0..y1).map_err(|x| e(&x))?;
        let names = chart.x_names.clone();
        c.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .x_label_formatter(&|v| label_x(*v, &names, chart.x_int))
            .y_label_formatter(&|v| tick(*v, chart.y_int))
            .draw()
            .map_err(|x| e(&x))?;
        series(&mut c, chart)?;
    } else {
        let mut c = b.build_cartesian_2d(x0..x1, y0..y1).map_err(|x| e(&x))?;
        let names = chart.x_names.clone();
        let xf = |v: &f64| label_x(*v, &names, chart.x_int);
        let yf = |v: &f64| tick(*v, chart.y_int);
        let mut mesh = c.configure_mesh();
        mesh.x_desc(&chart.x_label).y_desc(&chart.y_label).x_label_formatter(&xf).y_label_formatter(&yf);
        if !chart.x_names.is_empty() {
            mesh.x_labels(chart.x_names.len() * 2 + 1);
        }
        mesh.draw().map_err(|x| e(&x))?;
        series(&mut c, chart)?;
    }
    Ok(())
}

fn label_x(v: f64, names: &[String], int: bool) -> String {
    if names.is_empty() {
        return tick(v, int);
    }
    let k = v.round();
    if (v - k).abs() > 0.01 || k < 0.0 {
        return String::new();
    }
    names.get(k as usize).cloned().unwrap_or_default()
}

fn series<'a, DB: DrawingBackend + 'a, X>(
    c: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    chart: &Chart,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
{
    let e = |x: &dyn std::fmt::Display| x.to_string();
    for (i, s) in chart.series.iter().enumerate() {
        let col = color(i);
        if !s.spread.is_empty() && s.style == Style::Line {
            let mut poly: Vec<(f64, f64)> = s.spread.iter().map(|p| (p.0, p.2)).collect();
            poly.extend(s.spread.iter().rev().map(|p| (p.0, p.1)));
            c.draw_series(std::iter::once(Polygon::new(poly, col.mix(0.18).filled()))).map_err(|x| e(&x))?;
        }
        let width = if s.thin { 1 } else { 2 };
        let anno = match s.style {
            Style::Line => {
                // A marker at each point when they are few (a sweep's configurations), so each run can be seen.
                let marker = if s.marker { 3 } else { 0 };
                c.draw_series(LineSeries::new(s.pts.iter().copied(), col.stroke_width(width)).point_size(marker))
                    .map_err(|x| e(&x))?
            }
            Style::Step => {
                let mut pts = Vec::new();
                for w in s.pts.windows(2) {
                    pts.push(w[0]);
                    pts.push((w[1].0, w[0].1));
                }
                if let Some(&l) = s.pts.last() {
                    pts.push(l);
                }
                c.draw_series(LineSeries::new(pts, col.stroke_width(width))).map_err(|x| e(&x))?
            }
            Style::Points => {
                let bars: Vec<_> = s
                    .spread
                    .iter()
                    .map(|&(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], col.stroke_width(1)))
                    .collect();
                c.draw_series(bars).map_err(|x| e(&x))?;
                c.draw_series(s.pts.iter().map(|&p| Circle::new(p, 3, col.filled()))).map_err(|x| e(&x))?
            }
            Style::Bars => {
                let n = chart.series.iter().filter(|t| t.style == Style::Bars).count().max(1) as f64;
                let k = chart.series.iter().take(i).filter(|t| t.style == Style::Bars).count() as f64;
                let xs: Vec<f64> = s.pts.iter().map(|p| p.0).collect();
                let step = xs.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0).fold(f64::MAX, f64::min);
                let step = if step == f64::MAX { 1.0 } else { step };
                let w = step * 0.8 / n;
                c.draw_series(s.pts.iter().map(|&(x, y)| {
                    let left = x - step * 0.4 + k * w;
                    Rectangle::new([(left, 0.0), (left + w, y)], col.mix(0.85).filled())
                }))
                .map_err(|x| e(&x))?
            }
        };
        anno.label(s.name.clone()).legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 14, y + 4)], col.filled()));
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    Ok(())
}
