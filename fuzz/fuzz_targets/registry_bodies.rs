//! Whatever a registry answers (status, headers, body), fed to a crawl and an execution.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| regprune_fuzz::registry_bodies(data));
