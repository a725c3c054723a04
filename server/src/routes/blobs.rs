//! The attachment blob API: resumable, verified chunk uploads and downloads limited to the
//! people who can see a work order that references the blob.
//!
//! - `POST  /v1/blobs/{sha256}/upload` `{"size": N}` → where this device's upload stands.
//! - `PATCH /v1/blobs/{sha256}/upload?offset=K&size=N` with the chunk as the body and its
//!   SHA-256 in `x-chunk-sha256` → the new position; the last chunk verifies the whole blob.
//! - `GET   /v1/blobs/{sha256}` (optionally `Range: bytes=K-`) → the bytes.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fieldsync_proto::wire::ErrorBody;
use fieldsync_proto::{
    Attachment, BlobHash, UploadStart, UploadStatus, WorkOrderDocument, WorkOrderId,
    CHUNK_SHA256_HEADER,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, QueryParams};
use super::openapi::BinaryBody;
use crate::auth::AuthUser;
use crate::blobs::{BlobError, Finished, SharedBlobStore, MAX_CHUNK_BYTES};
use crate::error::Error;
use crate::state::AppState;

/// Pieces in which a download is streamed.
const READ_PIECE: usize = 256 * 1024;
/// Most work orders of a technician searched for a reference the index does not know yet.
const SCAN_LIMIT: u32 = 500;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(download))
        .routes(routes!(start, chunk))
        // Room for a chunk and its request line; the handler names the real limit.
        .layer(RequestBodyLimitLayer::new(MAX_CHUNK_BYTES + 64 * 1024))
}

fn blobs(state: &AppState) -> Result<&SharedBlobStore, Error> {
    state
        .blobs()
        .ok_or_else(|| Error::Unavailable("this server keeps no attachments".into()))
}

fn hash_param(text: &str) -> Result<BlobHash, Error> {
    text.parse()
        .map_err(|e: fieldsync_proto::BadBlobHash| Error::InvalidInput(format!("sha256: {e}")))
}

impl From<BlobError> for Error {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::WrongOffset { current, sent } => Error::Conflict(format!(
                "offset: the upload is at byte {current}, not {sent}; send the bytes from {current} on"
            )),
            BlobError::Io(e) => Error::Internal(format!("blob storage: {e}")),
        }
    }
}

/// Checks the size against the file limit and the device's quota.
async fn check_limits(
    state: &AppState,
    auth: &AuthUser,
    hash: &BlobHash,
    size: u64,
) -> Result<(), Error> {
    let limits = state.blob_limits();
    if size == 0 {
        return Err(Error::InvalidInput(
            "size: an attachment cannot be empty".into(),
        ));
    }
    if size > limits.max_file_bytes {
        return Err(Error::TooLarge(format!(
            "size: the attachment is {size} bytes; this server accepts at most {} bytes per file (max attachment size, --max-attachment-bytes)",
            limits.max_file_bytes
        )));
    }
    let store = blobs(state)?;
    let pending = store.upload_offset(auth.device, hash).await?;
    let used = store
        .device_usage(auth.device)
        .await?
        .saturating_sub(pending);
    if used.saturating_add(size) > limits.device_quota_bytes {
        return Err(Error::TooLarge(format!(
            "size: this device has {used} bytes of attachments on the server and this one has {size}; the per-device quota is {} bytes (--device-quota-bytes)",
            limits.device_quota_bytes
        )));
    }
    Ok(())
}

fn status(hash: &BlobHash, size: u64, offset: u64, complete: bool) -> Json<UploadStatus> {
    Json(UploadStatus {
        sha256: hash.clone(),
        size,
        offset,
        complete,
    })
}

/// Starts an upload of `size` bytes under their SHA-256, or asks how far this device's upload got.
///
/// A blob the server already has answers `complete` at once.
#[utoipa::path(
    post,
    path = "/v1/blobs/{sha256}/upload",
    operation_id = "start_upload",
    tag = "devices",
    security(("bearer_token" = [])),
    params(("sha256" = BlobHash, Path, description = "The SHA-256 of the whole file.")),
    request_body = UploadStart,
    responses(
        (status = 200, description = "Where the upload stands: send the bytes from `offset` on.", body = UploadStatus),
        (status = 400, description = "`sha256` or `size` is malformed, or `size` differs from the stored blob's.", body = ErrorBody),
        (status = 413, description = "The file is larger than the server accepts, or the device's quota would be exceeded.", body = ErrorBody),
        (status = 503, description = "This server keeps no attachments.", body = ErrorBody),
    ),
)]
async fn start(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(sha256): Path<String>,
    JsonBody(req): JsonBody<UploadStart>,
) -> Result<Json<UploadStatus>, Error> {
    let hash = hash_param(&sha256)?;
    let store = blobs(&state)?;
    if let Some(stored) = store.size(&hash).await? {
        if stored != req.size {
            return Err(Error::InvalidInput(format!(
                "size: the blob {hash} has {stored} bytes, not {}",
                req.size
            )));
        }
        return Ok(status(&hash, stored, stored, true));
    }
    check_limits(&state, &auth, &hash, req.size).await?;
    let mut offset = store.upload_offset(auth.device, &hash).await?;
    if offset > req.size {
        // Left from an upload of other bytes under this hash: start over.
        store.discard(auth.device, &hash).await?;
        offset = 0;
    }
    Ok(status(&hash, req.size, offset, false))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChunkParams {
    /// Where the chunk starts in the file: the `offset` of the last `UploadStatus`.
    #[param(value_type = u64)]
    offset: Option<String>,
    /// The size of the whole file.
    #[param(value_type = u64)]
    size: Option<String>,
}

fn number(name: &str, value: Option<&str>) -> Result<u64, Error> {
    let text = value.ok_or_else(|| Error::InvalidInput(format!("{name}: is required")))?;
    text.parse()
        .map_err(|_| Error::InvalidInput(format!("{name}: '{text}' is not a number of bytes")))
}

/// Sends one chunk (at most 1 MiB).
///
/// The last chunk verifies the whole file against its hash; a damaged chunk is refused and nothing
/// of it is kept.
#[utoipa::path(
    patch,
    path = "/v1/blobs/{sha256}/upload",
    operation_id = "upload_chunk",
    tag = "devices",
    security(("bearer_token" = [])),
    params(
        ("sha256" = BlobHash, Path, description = "The SHA-256 of the whole file."),
        ChunkParams,
        ("x-chunk-sha256" = BlobHash, Header, description = "The SHA-256 of this chunk's bytes."),
    ),
    request_body(content = inline(BinaryBody), content_type = "application/octet-stream", description = "The chunk's bytes."),
    responses(
        (status = 200, description = "The new position; `complete` once the file is verified and stored.", body = UploadStatus),
        (status = 400, description = "A parameter or header is missing or malformed, or the chunk is empty or goes past `size`; the message names it.", body = ErrorBody),
        (status = 409, description = "`offset` is not where the upload stands; the message says where it does.", body = ErrorBody),
        (status = 413, description = "The chunk or the file is too large, or the device's quota would be exceeded.", body = ErrorBody),
        (status = 422, description = "The chunk, or the whole file, does not match its SHA-256; nothing of it was kept.", body = ErrorBody),
        (status = 503, description = "This server keeps no attachments.", body = ErrorBody),
    ),
)]
async fn chunk(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(sha256): Path<String>,
    QueryParams(params): QueryParams<ChunkParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UploadStatus>, Error> {
    let hash = hash_param(&sha256)?;
    let offset = number("offset", params.offset.as_deref())?;
    let size = number("size", params.size.as_deref())?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge(format!(
                "the chunk is larger than {MAX_CHUNK_BYTES} bytes; send smaller chunks"
            ))
        } else {
            Error::InvalidInput(format!("the chunk could not be read: {e}"))
        }
    })?;
    if body.len() > MAX_CHUNK_BYTES {
        return Err(Error::TooLarge(format!(
            "the chunk is {} bytes; at most {MAX_CHUNK_BYTES} are accepted",
            body.len()
        )));
    }
    let claimed = headers
        .get(CHUNK_SHA256_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "{CHUNK_SHA256_HEADER}: the header with the chunk's SHA-256 is required"
            ))
        })?;
    let claimed: BlobHash = claimed.parse().map_err(|e: fieldsync_proto::BadBlobHash| {
        Error::InvalidInput(format!("{CHUNK_SHA256_HEADER}: {e}"))
    })?;
    let store = blobs(&state)?;
    if let Some(stored) = store.size(&hash).await? {
        // Already verified and stored (another device, or this one before a lost answer).
        return Ok(status(&hash, stored, stored, true));
    }
    if body.is_empty() {
        return Err(Error::InvalidInput("the chunk is empty".into()));
    }
    let end = offset.saturating_add(body.len() as u64);
    if end > size {
        return Err(Error::InvalidInput(format!(
            "offset: a chunk of {} bytes at byte {offset} goes past the end of a {size}-byte attachment",
            body.len()
        )));
    }
    check_limits(&state, &auth, &hash, size).await?;
    let actual = BlobHash::from_digest(&Sha256::digest(&body).into());
    if actual != claimed {
        tracing::info!(%hash, offset, "a chunk arrived damaged");
        return Err(Error::HashMismatch(format!(
            "the chunk at byte {offset} arrived damaged (its SHA-256 is {actual}, the device sent {claimed}); nothing of it was kept, send it again"
        )));
    }
    let at = store.append(auth.device, &hash, offset, &body).await?;
    if at < size {
        return Ok(status(&hash, size, at, false));
    }
    match store.finish(auth.device, &hash).await? {
        Finished::Stored { size } => {
            tracing::info!(%hash, size, "attachment stored");
            Ok(status(&hash, size, size, true))
        }
        Finished::Mismatch { actual } => {
            tracing::info!(%hash, %actual, "an upload did not match its hash");
            Err(Error::HashMismatch(format!(
                "sha256: the {size} bytes received hash to {actual}, not {hash}; the upload was discarded, send the file again"
            )))
        }
    }
}

/// The attachment entry for `hash` in a work order the user may see, if any.
async fn visible_attachment(
    state: &AppState,
    auth: &AuthUser,
    hash: &BlobHash,
) -> Result<Option<Attachment>, Error> {
    let store = blobs(state)?;
    let mut candidates = store.references(hash).await?;
    if !auth.user.role.is_office() {
        // A reference committed just before a crash may be missing from the index: the
        // technician's own jobs are few enough to look through.
        let page = state
            .storage()
            .list_work_orders(crate::storage::WorkOrderQuery {
                assignee: Some(auth.user.id),
                limit: SCAN_LIMIT,
                ..Default::default()
            })
            .await?;
        candidates.extend(page.items.iter().map(|s| s.summary.id));
    }
    let mut seen = std::collections::HashSet::new();
    for doc in candidates {
        if !seen.insert(doc) {
            continue;
        }
        if let Some(found) = attachment_in(state, auth, doc, hash).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

async fn attachment_in(
    state: &AppState,
    auth: &AuthUser,
    doc: WorkOrderId,
    hash: &BlobHash,
) -> Result<Option<Attachment>, Error> {
    let Some(stored) = state.storage().load_document(doc).await? else {
        return Ok(None);
    };
    if !auth.scope().contains(&stored.summary) {
        return Ok(None);
    }
    let number = stored.summary.number.clone();
    let hash = hash.clone();
    tokio::task::spawn_blocking(move || {
        let wo = WorkOrderDocument::load(&stored.snapshot)
            .and_then(|d| d.read())
            .map_err(|e| Error::Internal(format!("work order {number}: {e}")))?;
        Ok(wo.attachments.into_iter().find(|a| a.sha256 == hash))
    })
    .await
    .map_err(Error::internal)?
}

/// `bytes=K-` → K; anything else is ignored (the whole blob is sent).
fn range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    let rest = value.trim().strip_prefix("bytes=")?;
    let (start, end) = rest.split_once('-')?;
    if !end.trim().is_empty() {
        return None;
    }
    start.trim().parse().ok()
}

/// The bytes of an attachment, for people who can see a work order that references it.
///
/// `Range: bytes=K-` resumes a download from byte K.
#[utoipa::path(
    get,
    path = "/v1/blobs/{sha256}",
    operation_id = "download_blob",
    tag = "devices",
    security(("bearer_token" = [])),
    params(
        ("sha256" = BlobHash, Path, description = "The attachment's SHA-256."),
        ("Range" = Option<String>, Header, description = "`bytes=K-`: only the bytes from K on."),
    ),
    responses(
        (status = 200, description = "The whole file, with the attachment's content type.", body = inline(BinaryBody), content_type = "application/octet-stream"),
        (status = 206, description = "The bytes from the requested start on, with `Content-Range`.", body = inline(BinaryBody), content_type = "application/octet-stream"),
        (status = 400, description = "`sha256` is not a SHA-256.", body = ErrorBody),
        (status = 404, description = "No attachment with this hash that the caller may see, or not uploaded yet.", body = ErrorBody),
        (status = 503, description = "This server keeps no attachments.", body = ErrorBody),
    ),
)]
async fn download(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let hash = hash_param(&sha256)?;
    // Not in the user's scope and not existing look the same.
    let not_found = || Error::NotFound(format!("there is no attachment {hash}"));
    let attachment = visible_attachment(&state, &auth, &hash)
        .await?
        .ok_or_else(not_found)?;
    let from = range_start(&headers).unwrap_or(0);
    let blob = blobs(&state)?.open(&hash, from).await?.ok_or_else(|| {
        Error::NotFound(format!(
            "attachment {hash} ({}) has not been uploaded yet; the device that took it sends it when it syncs",
            attachment.file_name
        ))
    })?;
    let from = from.min(blob.size);
    let content_type = HeaderValue::from_str(&attachment.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let stream = futures_util::stream::unfold(blob.reader, |mut reader| async move {
        let mut buf = vec![0u8; READ_PIECE];
        match tokio::io::AsyncReadExt::read(&mut reader, &mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(blob.size - from));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        h.insert(header::ETAG, etag);
    }
    if from > 0 {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(range) = HeaderValue::from_str(&format!(
            "bytes {from}-{}/{}",
            blob.size.saturating_sub(1),
            blob.size
        )) {
            response.headers_mut().insert(header::CONTENT_RANGE, range);
        }
    }
    Ok(response.into_response())
}
