#![no_main]
//! `ozrepair::props::yaml_edit`: see that function for the property.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ozrepair::props::yaml_edit(data));
