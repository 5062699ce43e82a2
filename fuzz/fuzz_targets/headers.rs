//! `Link` (pagination) and `WWW-Authenticate` (token challenge) headers.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| regprune_fuzz::headers(data));
