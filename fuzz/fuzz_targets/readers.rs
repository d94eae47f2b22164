//! The small readers of a run directory and their inputs: residency.txt, cachestat.txt, vmstat.txt, the vmstat
//! series and the extent map: any text gives a value or an error naming the line, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match which % 5 {
        0 => drop(pcsim::trace::residency::parse(text)),
        1 => drop(pcsim::trace::cachestat::parse(text)),
        2 => drop(pcsim::compare::input::parse_vmstat(text)),
        3 => drop(pcsim::trace::series::read_series(text.as_bytes())),
        _ => drop(pcsim::sim::read_extents(text)),
    }
});
