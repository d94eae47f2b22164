//! The simulation engine: virtual time and the event queue (the model that runs on it comes with the read-side
//! model).

pub mod queue;

pub use queue::EventQueue;
