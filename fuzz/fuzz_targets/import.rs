//! Importer documents: `az acr manifest list-metadata` output, ACR API bodies, storage listings.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| regprune_fuzz::import(data));
