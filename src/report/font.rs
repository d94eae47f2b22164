//! The one font every plot is drawn with: DejaVu Sans, embedded in the binary (assets/fonts/, its licence beside
//! it). plotters lays text out with this font's metrics in SVG too (legend boxes, centred titles), and draws it
//! into PNGs, so the plots are the same bytes on every host, whatever fonts it has installed.

use std::sync::OnceLock;

use plotters::style::FontStyle;

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font as "sans-serif" (once; every drawing calls this first).
pub fn ensure() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, DEJAVU_SANS)
            .map_err(|_| "the embedded font (assets/fonts/DejaVuSans.ttf) is not usable".to_string())
    })
    .clone()
}
