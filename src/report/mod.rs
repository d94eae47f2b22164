//! Reports: plots of a comparison (SVG, plotters).

pub mod plot;
