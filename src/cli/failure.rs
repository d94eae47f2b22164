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
