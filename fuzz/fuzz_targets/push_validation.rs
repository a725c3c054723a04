//! Fuzzes the server's check of pushed changes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsync_tests::fuzz_bodies::push_validation(data);
});
