//! cargo-fuzz target `codec`: see `vr_fuzz::codec` for the input format and the invariants.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vr_fuzz::codec(data));
