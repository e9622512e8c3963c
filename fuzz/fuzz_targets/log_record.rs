#![no_main]
//! `ozrepair::props::log_record`: see that function for the property.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ozrepair::props::log_record(data));
