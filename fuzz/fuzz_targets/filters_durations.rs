//! `--filter` regexes and `--ago` durations (acr's Go syntax and ISO 8601), and policy globs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| regprune_fuzz::filters_durations(data));
