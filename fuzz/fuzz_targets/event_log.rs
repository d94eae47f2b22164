//! The event-log reader (and with it every event's field parser): any bytes give a log or an error naming the
//! line; a log read back writes and reads again to the same events.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = pcsim::trace::log::read_log(data) {
        let text = pcsim::trace::log::write_log(&log);
        let again = pcsim::trace::log::read_log(&text[..]).expect("a written log reads back");
        assert_eq!(again.events.len(), log.events.len());
    }
});
