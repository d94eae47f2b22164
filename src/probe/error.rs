//! The probe's error type.

/// Why the probe could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Something the probe needs is missing on this host (root, tracefs, loop devices, a tool).
    #[error("{0}")]
    Missing(String),
    /// The request cannot be honoured as given (the message says what to change).
    #[error("{0}")]
    Refused(String),
    /// A host operation failed.
    #[error("{0}")]
    Host(String),
    /// A signal arrived; the host was restored.
    #[error("interrupted by signal {0}; the host was restored and no output was kept")]
    Interrupted(i32),
}
