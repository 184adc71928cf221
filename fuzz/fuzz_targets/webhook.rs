//! cargo-fuzz target `webhook`: see `vr_fuzz::webhook` for the input format and the invariants.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vr_fuzz::webhook(data));
