//! The shared vocabularies: `Op` (what tasks do) and `Event` (what the page cache did), and the event log text form.

pub mod cachestat;
pub mod event;
pub mod log;
pub mod op;
pub mod residency;
pub mod series;
pub(crate) mod table;

pub use event::{Event, EventKind, Name};
pub use op::Op;
