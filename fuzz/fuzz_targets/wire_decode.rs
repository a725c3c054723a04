//! Fuzzes the sync protocol decoder with arbitrary frames.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsync_tests::fuzz_bodies::wire_decode(data);
});
