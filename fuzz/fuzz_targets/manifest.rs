//! Manifest bytes as a registry serves them, with and without a claimed digest.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| regprune_fuzz::manifest(data));
