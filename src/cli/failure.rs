//! A command's failure: its message and exit code (0 ok, 1 a check failed, 2 bad input or an unusable host, 130
//! interrupted).

use crate::probe::ProbeError;
use crate::scenario::Scenario;

/// A command's failure: message and exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub msg: String,
}

impl From<ProbeError> for Failure {
    fn from(e: ProbeError) -> Self {
        let code = match e {
            ProbeError::Interrupted(_) => 130,
            _ => 2,
        };
        Failure { code, msg: e.to_string() }
    }
}

/// A bad-input failure (exit 2).
pub(crate) fn fail(msg: String) -> Failure {
    Failure { code: 2, msg }
}

/// Loads a scenario, a refusal being bad input.
pub(crate) fn load(path: &std::path::Path) -> Result<Scenario, Failure> {
    Scenario::load(path).map_err(|e| Failure { code: 2, msg: e.to_string() })
}

/// `load` for the commands that run the model: also refuses what only the probe can run (at its line and column).
pub(crate) fn load_for_model(path: &std::path::Path) -> Result<Scenario, Failure> {
    let sc = load(path)?;
    match &sc.model_refusal {
        Some(e) => Err(Failure { code: 2, msg: e.to_string() }),
        None => Ok(sc),
    }
}

/// Writes to standard output; a write error (a full disk, /dev/full) fails the command (exit 2) instead of the panic
/// of `print!`.
pub(crate) fn stdout_write(args: std::fmt::Arguments) -> Result<(), Failure> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_fmt(args).and_then(|_| o.flush()).map_err(|e| fail(format!("cannot write to standard output: {e}")))
}

/// `print!` through `stdout_write`: `out!(...)?`.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::failure::stdout_write(format_args!($($t)*)) };
}

/// `println!` through `stdout_write`: `outln!(...)?`.
macro_rules! outln {
    ($($t:tt)*) => { $crate::cli::failure::stdout_write(format_args!("{}\n", format_args!($($t)*))) };
}

pub(crate) use {out, outln};
