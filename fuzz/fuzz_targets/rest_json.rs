//! Fuzzes the REST API's JSON bodies.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsync_tests::fuzz_bodies::rest_json(data);
});
