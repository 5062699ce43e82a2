//! Operations and policies (JSON), planned against a small fixed registry.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| regprune_fuzz::operation(data));
