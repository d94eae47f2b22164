//! The scenario parser and compiler: any text gives a scenario or a located error, never a panic; a scenario's
//! op streams compile (the first ops of each task are drawn).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match pcsim::scenario::Scenario::parse(text, "fuzz.ron") {
        Ok(sc) => {
            for t in 0..sc.tasks.len() {
                for op in sc.ops(t).take(10_000) {
                    let _ = op.io_bytes();
                }
            }
        }
        Err(e) => {
            // Errors are located (line 0 only for errors about the whole file).
            let _ = e.to_string();
        }
    }
});
