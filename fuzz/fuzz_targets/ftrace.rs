//! The probe's ftrace parser: any line of trace text is split and normalised into an event, skipped, or refused
//! with an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pcsim::probe::ftrace::{split_line, Normaliser};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut n = Normaliser::new(0);
    n.add_device(7, 0, "disk0");
    n.add_inode_on(7, 0, 12, "data");
    n.add_inode(13, "other");
    n.add_task("reader");
    for line in text.lines() {
        if let Some(raw) = split_line(line) {
            n.learn_comm(&raw);
            let _ = n.event(&raw);
        }
    }
});
