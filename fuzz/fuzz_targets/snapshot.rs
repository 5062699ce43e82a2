//! Snapshot JSON: parse, and when it parses, index it and plan against it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| regprune_fuzz::snapshot(data));
