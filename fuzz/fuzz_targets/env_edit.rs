#![no_main]
//! `ozrepair::props::env_edit`: see that function for the property.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ozrepair::props::env_edit(data));
