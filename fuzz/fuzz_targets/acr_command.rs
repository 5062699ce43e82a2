//! `acr purge` command lines, as a user pastes them.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| regprune_fuzz::acr_command(data));
