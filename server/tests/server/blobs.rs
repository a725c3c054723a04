//! The attachment blob API: chunked uploads that resume and are verified, downloads only for
//! people who can see a referencing work order, limits, and bad input.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use fieldsync_proto::{Action, AttachmentKind, BlobHash, NewAttachment, Role, CHUNK_SHA256_HEADER};
use fieldsync_server::BlobLimits;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::{assert_error, Harness};

fn hash_of(bytes: &[u8]) -> BlobHash {
    BlobHash::from_digest(&Sha256::digest(bytes).into())
}

fn photo_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32) as u8
        })
        .collect()
}

async fn start(h: &Harness, token: &str, hash: &BlobHash, size: usize) -> (StatusCode, Value) {
    h.post(
        &format!("/v1/blobs/{hash}/upload"),
        token,
        json!({ "size": size }),
    )
    .await
}

/// Sends one chunk; `claimed` is the chunk hash to put in the header.
async fn chunk_as(
    h: &Harness,
    token: &str,
    hash: &BlobHash,
    size: usize,
    offset: usize,
    bytes: &[u8],
    claimed: &BlobHash,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::PATCH)
        .uri(format!(
            "/v1/blobs/{hash}/upload?offset={offset}&size={size}"
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(CHUNK_SHA256_HEADER, claimed.as_str())
        .body(Body::from(bytes.to_vec()))
        .expect("request");
    let (status, body, _) = h.call(req).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn chunk(
    h: &Harness,
    token: &str,
    hash: &BlobHash,
    size: usize,
    offset: usize,
    bytes: &[u8],
) -> (StatusCode, Value) {
    chunk_as(h, token, hash, size, offset, bytes, &hash_of(bytes)).await
}

async fn download(
    h: &Harness,
    token: &str,
    hash: &str,
    range: Option<&str>,
) -> (StatusCode, Vec<u8>, Option<String>) {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/blobs/{hash}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(range) = range {
        req = req.header(header::RANGE, range);
    }
    h.call(req.body(Body::empty()).expect("request")).await
}

fn attach(hash: &BlobHash, size: usize, kind: AttachmentKind) -> Action {
    Action::Attach(NewAttachment {
        sha256: hash.clone(),
        kind,
        content_type: "image/jpeg".into(),
        size: size as i64,
        file_name: "IMG_0042.jpg".into(),
    })
}

#[tokio::test]
async fn a_photo_uploads_in_chunks_resumes_and_is_served_only_within_scope() {
    let h = Harness::with_blobs(BlobLimits::default()).await;
    let office = h.device("disp", Role::Dispatcher).await;
    let tech_id = h.add_user("tech", Role::Technician).await;
    let other_id = h.add_user("other", Role::Technician).await;
    let mut tech = crate::common::Device::new(h.login("tech").await);
    let other = crate::common::Device::new(h.login("other").await);
    let wo = h.create_work_order(&office.token, Some(tech_id)).await;
    let _ = h.create_work_order(&office.token, Some(other_id)).await;
    tech.pull_all(&h).await;

    let photo = photo_bytes(300_000, 3);
    let hash = hash_of(&photo);
    let push = tech.act(wo, attach(&hash, photo.len(), AttachmentKind::Photo));
    let (status, _) = tech.sync(&h, vec![push]).await;
    assert_eq!(status, StatusCode::OK);

    // Referenced but not uploaded yet: the technician is told so.
    let (status, body, _) = download(&h, &tech.token, hash.as_str(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("not been uploaded yet"));

    let (status, answer) = start(&h, &tech.token, &hash, photo.len()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["offset"].as_u64(), answer["complete"].as_bool()),
        (Some(0), Some(false))
    );
    let (status, answer) = chunk(&h, &tech.token, &hash, photo.len(), 0, &photo[..100_000]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["offset"], 100_000);

    // A retried chunk (its answer was lost) is refused with where the upload stands, and
    // asking again says the same: the device resumes at byte 100,000.
    let (status, answer) = chunk(&h, &tech.token, &hash, photo.len(), 0, &photo[..100_000]).await;
    assert_error(
        status,
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        &["at byte 100000"],
    );
    let (_, answer) = start(&h, &tech.token, &hash, photo.len()).await;
    assert_eq!(answer["offset"], 100_000);

    // Not visible before the last byte is verified.
    let (status, _, _) = download(&h, &tech.token, hash.as_str(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = chunk(
        &h,
        &tech.token,
        &hash,
        photo.len(),
        100_000,
        &photo[100_000..],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["complete"], true);

    for token in [&tech.token, &office.token] {
        let (status, body, content_type) = download(&h, token, hash.as_str(), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(hash_of(&body), hash);
    }
    let (status, body, _) = download(&h, &tech.token, hash.as_str(), Some("bytes=299000-")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &photo[299_000..]);

    // Another technician gets the answer an unknown hash gets.
    let (status, body, _) = download(&h, &other.token, hash.as_str(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = hash_of(b"nothing");
    let (status2, body2, _) = download(&h, &other.token, unknown.as_str(), None).await;
    assert_eq!(status2, StatusCode::NOT_FOUND);
    let text = |b: &[u8]| {
        let v: Value = serde_json::from_slice(b).expect("json");
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .replace(hash.as_str(), "H")
            .replace(unknown.as_str(), "H")
    };
    assert_eq!(text(&body), text(&body2));

    // The same bytes from another device are already there: nothing to send.
    let (status, answer) = start(&h, &other.token, &hash, photo.len()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (answer["offset"].as_u64(), answer["complete"].as_bool()),
        (Some(300_000), Some(true))
    );
}

#[tokio::test]
async fn damaged_chunks_and_files_are_refused_and_nothing_of_them_is_kept() {
    let h = Harness::with_blobs(BlobLimits::default()).await;
    h.add_user("tech", Role::Technician).await;
    let tech = h.login("tech").await;
    let data = photo_bytes(50_000, 5);
    let hash = hash_of(&data);

    // A chunk whose bytes were flipped on the way.
    let mut damaged = data[..20_000].to_vec();
    damaged[777] ^= 0x40;
    let (status, answer) = chunk_as(
        &h,
        &tech.token,
        &hash,
        data.len(),
        0,
        &damaged,
        &hash_of(&data[..20_000]),
    )
    .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hash_mismatch",
        &["byte 0", "send it again"],
    );
    let (_, answer) = start(&h, &tech.token, &hash, data.len()).await;
    assert_eq!(answer["offset"], 0, "nothing of the damaged chunk was kept");

    // A whole file that is not what its hash says: discarded at the end.
    let other = photo_bytes(50_000, 6);
    let (status, _) = chunk(&h, &tech.token, &hash, data.len(), 0, &other[..30_000]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) =
        chunk(&h, &tech.token, &hash, data.len(), 30_000, &other[30_000..]).await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hash_mismatch",
        &["sha256", "discarded"],
    );
    let (_, answer) = start(&h, &tech.token, &hash, data.len()).await;
    assert_eq!(answer["offset"], 0);

    // The right bytes then go through.
    let (status, answer) = chunk(&h, &tech.token, &hash, data.len(), 0, &data).await;
    assert_eq!(
        (status, answer["complete"].as_bool()),
        (StatusCode::OK, Some(true))
    );
}

#[tokio::test]
async fn limits_and_bad_input_are_named() {
    let h = Harness::with_blobs(BlobLimits {
        max_file_bytes: 100_000,
        device_quota_bytes: 150_000,
    })
    .await;
    h.add_user("tech", Role::Technician).await;
    let tech = h.login("tech").await;
    let t = tech.token.as_str();

    let big = hash_of(b"big");
    let (status, body) = start(&h, t, &big, 100_001).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &["100000 bytes per file", "--max-attachment-bytes"],
    );

    let first = photo_bytes(90_000, 1);
    let (status, _) = chunk(&h, t, &hash_of(&first), first.len(), 0, &first).await;
    assert_eq!(status, StatusCode::OK);
    let second = photo_bytes(90_000, 2);
    let (status, body) = start(&h, t, &hash_of(&second), second.len()).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &["quota is 150000 bytes", "--device-quota-bytes"],
    );
    let (status, body) = chunk(&h, t, &hash_of(&second), second.len(), 0, &second).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let (status, body) = h
        .post("/v1/blobs/not-a-hash/upload", t, json!({"size": 5}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["sha256"],
    );
    let (status, body) = start(&h, t, &big, 0).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["size"],
    );
    let (status, body) = h
        .post(&format!("/v1/blobs/{big}/upload"), t, json!({"size": -3}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["size"],
    );

    // A chunk without its hash, past the end, or without offset.
    let req = Request::builder()
        .method(Method::PATCH)
        .uri(format!("/v1/blobs/{big}/upload?offset=0&size=10"))
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .body(Body::from(vec![1u8; 10]))
        .expect("request");
    let (status, body, _) = h.call(req).await;
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &[CHUNK_SHA256_HEADER],
    );
    let (status, body) = chunk(&h, t, &big, 10, 5, &[1u8; 10]).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["offset", "past the end"],
    );
    let req = Request::builder()
        .method(Method::PATCH)
        .uri(format!("/v1/blobs/{big}/upload?size=10"))
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(CHUNK_SHA256_HEADER, hash_of(&[1u8; 10]).as_str())
        .body(Body::from(vec![1u8; 10]))
        .expect("request");
    let (status, body, _) = h.call(req).await;
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &["offset"],
    );

    // Without a token nothing is said about any blob.
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/blobs/{}", hash_of(&first)))
        .body(Body::empty())
        .expect("request");
    let (status, _, _) = h.call(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_router_without_a_blob_store_says_so() {
    let h = Harness::new().await;
    h.add_user("tech", Role::Technician).await;
    let tech = h.login("tech").await;
    let (status, body) = start(&h, &tech.token, &hash_of(b"x"), 1).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}
