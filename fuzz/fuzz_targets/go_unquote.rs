#![no_main]
//! `ozrepair::props::go_unquote`: see that function for the property.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ozrepair::props::go_unquote(data));
