#![no_main]
//! `ozrepair::props::scrub`: see that function for the property.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ozrepair::props::scrub(data));
