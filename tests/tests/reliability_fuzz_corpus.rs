//! The fuzz targets' bodies (`fieldsync_tests::fuzz_bodies`, also run by `cargo fuzz` from
//! `fuzz/`) over every saved crasher and the whole hostile corpus, then over random inputs as a
//! libFuzzer-free smoke test, so CI keeps every fuzzing finding fixed.

use std::path::{Path, PathBuf};

use fieldsync_tests::fuzz_bodies::{
    push_validation, rest_api, rest_api_post, rest_json, wire_decode,
};
use proptest::prelude::*;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn corpus(area: &str) -> Vec<PathBuf> {
    files(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(area),
    )
}

fn run_over(target: fn(&[u8]), areas: &[&str]) -> usize {
    let mut n = 0;
    for area in areas {
        for file in corpus(area) {
            let data = std::fs::read(&file).expect("read");
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{} panicked", file.display());
            n += 1;
        }
    }
    n
}

#[test]
fn saved_crashers_and_the_corpus_pass_every_fuzz_target() {
    let n = run_over(wire_decode, &["fuzz/wire_decode", "sync", "changes"]);
    assert!(n > 15, "{n} frames");
    let n = run_over(
        push_validation,
        &["fuzz/push_validation", "changes", "sync"],
    );
    assert!(n > 15, "{n} pushes");
    let n = run_over(rest_json, &["fuzz/rest_json", "rest"]);
    assert!(n > 40, "{n} bodies");
    // The REST target's saved inputs also go through the real handlers (the corpus bodies do
    // too, below, where each belongs).
    run_over(rest_api, &["fuzz/rest_json"]);
}

/// The REST corpus through the real handlers, each body POSTed where it belongs by every role
/// and by nobody: never a 5xx, every refusal the JSON error body (checked by `rest_api`).
#[test]
fn the_rest_corpus_through_the_real_handlers() {
    let mut n = 0;
    for (dir, path) in [
        ("rest/action", "/v1/work-orders/{wo}/actions"),
        ("rest/admin-user", "/v1/admin/users"),
        ("rest/create", "/v1/work-orders"),
        ("rest/login", "/v1/login"),
    ] {
        for file in corpus(dir) {
            let body = std::fs::read(&file).expect("read");
            for who in 0..4 {
                let input = rest_api_post(path, who, &body);
                let outcome = std::panic::catch_unwind(|| rest_api(&input));
                assert!(outcome.is_ok(), "{} as {who} failed", file.display());
                n += 1;
            }
        }
    }
    assert!(n > 160, "{n} requests");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_frames_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        wire_decode(&data);
        let mut framed = b"FSYN\x01\x00".to_vec();
        framed.extend_from_slice(&data);
        wire_decode(&framed);
    }

    #[test]
    fn random_pushes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        push_validation(&data);
    }

    #[test]
    fn random_json_never_panics(data in prop::collection::vec(any::<u8>(), 0..256)) {
        rest_json(&data);
    }

    #[test]
    fn random_requests_never_get_a_5xx(data in prop::collection::vec(any::<u8>(), 0..256)) {
        rest_api(&data);
    }

    #[test]
    fn random_action_bodies_never_panic(
        action in prop::sample::select(vec![
            "accept", "start_travel", "arrive", "start_work", "hold", "resume",
            "record_part_usage", "add_repair_record", "edit_notes", "complete", "classify",
            "assign", "reschedule", "cancel", "close",
        ]),
        quantity in any::<i64>(),
        value in any::<f64>().prop_filter("JSON numbers are finite", |v| v.is_finite()),
        text in ".{0,40}",
        start in any::<i64>(),
        end in any::<i64>(),
    ) {
        let body = serde_json::json!({
            "action": action, "part_number": text, "quantity": quantity,
            "source_location": text, "reason": text, "text": text, "resolution": text,
            "diagnosis": text, "action_taken": text, "note": text,
            "measurements": [{"name": text, "value": value, "unit": text}],
            "category": "hardware", "urgency": "normal", "impact": "one_unit",
            "hold": "waiting_for_parts", "window": {"start": start, "end": end},
            "technician": "0190f1a0-0000-7000-8000-000000000001",
        });
        rest_json(body.to_string().as_bytes());
    }
}
