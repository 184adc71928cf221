//! cargo-fuzz target `wav`: see `vr_fuzz::wav` for the input format and the invariants.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vr_fuzz::wav(data));
