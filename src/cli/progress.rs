//! The progress display of long trace reads and replays: an indicatif bar on stderr, shown only when stderr is a
//! terminal, `--quiet` is not given, and the work has already taken over a second (short runs print nothing).
//! The wall clock is read here, in the display only (indicatif's own clock), never by the model.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that appears after a second.
#[derive(Clone)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

const SHOW_AFTER: Duration = Duration::from_secs(1);

impl Progress {
    fn new(quiet: bool, len: u64, template: &str, prefix: &str) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_prefix(prefix.to_string());
        Progress { bar: Some(bar) }
    }

    /// A bar over `total` bytes of input.
    pub(crate) fn bytes(quiet: bool, prefix: &str, total: u64) -> Progress {
        Progress::new(
            quiet,
            total,
            "{prefix:>9} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, ETA {eta})",
            prefix,
        )
    }

    /// A bar over `total` items named `unit` (calls, records).
    pub(crate) fn items(quiet: bool, prefix: &str, total: u64, unit: &str) -> Progress {
        let template = format!(
            "{{prefix:>9}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit} ({{per_sec:0}}, ETA {{eta}})"
        );
        Progress::new(quiet, total, &template, prefix)
    }

    /// Moves the bar to `pos`, drawing it from the first second on.
    pub(crate) fn set(&self, pos: u64) {
        if let Some(bar) = &self.bar {
            if bar.is_hidden() && bar.elapsed() >= SHOW_AFTER {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_position(pos);
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
