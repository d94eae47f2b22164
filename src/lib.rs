//! pcsim: a deterministic model of the Linux page cache and writeback, and a probe that runs the same workloads on
//! the host's kernel and records its tracepoints in the same event vocabulary.

pub mod bench;
pub mod block;
pub mod cli;
pub mod compare;
pub mod fs;
pub mod kernel;
pub mod mm;
pub mod probe;
pub mod replay;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod trace;
pub mod units;
