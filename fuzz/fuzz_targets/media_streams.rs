//! cargo-fuzz target `media_streams`: see `vr_fuzz::media_streams` for the input format and the invariants.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vr_fuzz::media_streams(data));
