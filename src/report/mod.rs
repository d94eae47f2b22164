//! Reports: plots of a comparison (SVG, plotters).

pub mod font;
pub mod plot;
