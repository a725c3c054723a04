//! Fuzzes the REST API: the JSON bodies as the server parses them, then the real handlers
//! (the whole router, in process, on a temporary SQLite store) with a fuzzed method, path,
//! signed-in role and body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsync_tests::fuzz_bodies::rest_json(data);
    fieldsync_tests::fuzz_bodies::rest_api(data);
});
