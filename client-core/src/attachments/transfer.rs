//! Moving attachment bytes: the upload queue, sent in chunks that resume where the server says
//! the upload stands (after a cut connection or a restart of the app), and downloads that
//! resume from the bytes already received and are verified before they are kept.

use std::path::{Path, PathBuf};

use reqwest::header::{CONTENT_TYPE, RANGE};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use fieldsync_proto::wire::ErrorCode;
use fieldsync_proto::{BlobHash, UploadStart, UploadStatus, CHUNK_SHA256_HEADER};

use super::files;
use crate::error::{Error, Result};
use crate::remote::{error_from, offline, url, Remote};
use crate::store::{blobs, Store};

/// Bytes sent per upload request: small enough to get through a link that drops every few
/// seconds, large enough that a 20 MB photo takes a handful of requests.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// Damaged chunks tolerated per blob in one run before it waits for the next sync.
const MAX_DAMAGED_CHUNKS: u32 = 3;

/// Progress of one upload, after every chunk the server took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadProgress {
    pub sha256: BlobHash,
    /// Bytes the server holds.
    pub offset: u64,
    pub size: u64,
}

/// What one pass over the upload queue did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReport {
    /// Blobs the server now holds (sent now, or found there already).
    pub completed: usize,
    /// Bytes of attachments sent in this pass.
    pub bytes_sent: u64,
    /// Blobs still queued after this pass because the server refused them for now (too large,
    /// damaged on the way too often); each keeps its file and its reason.
    pub failed: usize,
}

#[derive(Debug)]
pub(crate) struct Endpoint<'a> {
    pub remote: &'a Remote,
    pub server: &'a str,
    pub token: &'a str,
}

impl Endpoint<'_> {
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        request
            .bearer_auth(self.token)
            .send()
            .await
            .map_err(|e| offline(self.server, &e))
    }

    async fn status_from(&self, resp: reqwest::Response) -> Result<UploadStatus> {
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| offline(self.server, &e))?;
        if !status.is_success() {
            return Err(error_from(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| Error::Server {
            code: ErrorCode::Internal,
            message: format!("the upload answer could not be read ({e})"),
        })
    }

    async fn start(&self, sha: &BlobHash, size: u64) -> Result<UploadStatus> {
        let http = self.remote.http(self.server)?;
        let path = format!("{}/{sha}/upload", fieldsync_proto::BLOBS_PATH);
        let resp = self
            .send(
                http.post(url(self.server, &path))
                    .json(&UploadStart { size }),
            )
            .await?;
        self.status_from(resp).await
    }

    async fn chunk(
        &self,
        sha: &BlobHash,
        size: u64,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<UploadStatus> {
        let http = self.remote.http(self.server)?;
        let chunk_sha = BlobHash::from_digest(&Sha256::digest(&bytes).into());
        let path = format!(
            "{}/{sha}/upload?offset={offset}&size={size}",
            fieldsync_proto::BLOBS_PATH
        );
        let resp = self
            .send(
                http.patch(url(self.server, &path))
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CHUNK_SHA256_HEADER, chunk_sha.as_str())
                    .body(bytes),
            )
            .await?;
        self.status_from(resp).await
    }
}

/// How one blob's upload ended in this pass.
enum Outcome {
    Done,
    /// Refused for now, with the reason kept on the queue row.
    Refused(String),
}

fn code_of(e: &Error) -> Option<ErrorCode> {
    match e {
        Error::Server { code, .. } => Some(*code),
        _ => None,
    }
}

/// Sends every queued blob. Stops at the first network failure (the rest waits for the next
/// sync); a blob the server refuses stays queued with the reason, and the others go on.
pub(crate) async fn upload_all(
    store: &Store,
    root: &Path,
    endpoint: &Endpoint<'_>,
    progress: &(dyn Fn(UploadProgress) + Send + Sync),
) -> Result<UploadReport> {
    let mut report = UploadReport::default();
    let pending = store.read(blobs::pending_uploads)?;
    for upload in pending {
        let sha = upload.sha256.clone();
        match upload_one(store, root, endpoint, &upload, &mut report, progress).await {
            Ok(Outcome::Done) => {
                store.write(|tx| blobs::upload_done(tx, &sha))?;
                report.completed += 1;
                tracing::info!(%sha, size = upload.size, "attachment uploaded");
            }
            Ok(Outcome::Refused(reason)) => {
                tracing::warn!(%sha, %reason, "attachment upload refused; it stays queued");
                store.write(|tx| blobs::record_attempt(tx, &sha, Some(&reason)))?;
                report.failed += 1;
            }
            Err(e) => {
                let reason = e.to_string();
                store.write(|tx| blobs::record_attempt(tx, &sha, Some(&reason)))?;
                return Err(e);
            }
        }
    }
    Ok(report)
}

async fn upload_one(
    store: &Store,
    root: &Path,
    endpoint: &Endpoint<'_>,
    upload: &blobs::PendingUpload,
    report: &mut UploadReport,
    progress: &(dyn Fn(UploadProgress) + Send + Sync),
) -> Result<Outcome> {
    let (sha, size) = (&upload.sha256, upload.size);
    let mut damaged = 0u32;
    // Each pass asks the server where the upload stands, then sends from there.
    'ask: loop {
        let status = match endpoint.start(sha, size).await {
            Ok(status) => status,
            Err(e)
                if matches!(
                    code_of(&e),
                    Some(ErrorCode::TooLarge | ErrorCode::InvalidInput)
                ) =>
            {
                return Ok(Outcome::Refused(e.to_string()))
            }
            Err(e) => return Err(e),
        };
        if status.complete {
            return Ok(Outcome::Done);
        }
        let mut offset = status.offset;
        while offset < size {
            let len =
                usize::try_from((size - offset).min(CHUNK_BYTES as u64)).unwrap_or(CHUNK_BYTES);
            let bytes = files::read_chunk(root, sha, offset, len)?;
            if bytes.len() != len {
                return Ok(Outcome::Refused(format!(
                    "the local copy of attachment {sha} is shorter than {size} bytes; attach the file again"
                )));
            }
            let sent = bytes.len() as u64;
            match endpoint.chunk(sha, size, offset, bytes).await {
                Ok(status) => {
                    report.bytes_sent += sent;
                    store.write(|tx| blobs::add_sent(tx, sha, sent))?;
                    progress(UploadProgress {
                        sha256: sha.clone(),
                        offset: status.offset,
                        size,
                    });
                    if status.complete {
                        return Ok(Outcome::Done);
                    }
                    offset = status.offset;
                }
                // Someone (this device, before a lost answer) got further: ask where.
                Err(e) if code_of(&e) == Some(ErrorCode::Conflict) => continue 'ask,
                Err(e) if code_of(&e) == Some(ErrorCode::HashMismatch) => {
                    report.bytes_sent += sent;
                    store.write(|tx| blobs::add_sent(tx, sha, sent))?;
                    damaged += 1;
                    tracing::info!(%sha, offset, damaged, "the server found an uploaded chunk damaged");
                    if !files::verify(root, sha)? {
                        return Ok(Outcome::Refused(format!(
                            "the local copy of attachment {sha} is damaged (it no longer matches its hash); attach the file again"
                        )));
                    }
                    if damaged >= MAX_DAMAGED_CHUNKS {
                        return Ok(Outcome::Refused(e.to_string()));
                    }
                    continue 'ask;
                }
                Err(e)
                    if matches!(
                        code_of(&e),
                        Some(ErrorCode::TooLarge | ErrorCode::InvalidInput)
                    ) =>
                {
                    return Ok(Outcome::Refused(e.to_string()))
                }
                Err(e) => return Err(e),
            }
        }
        // The server has every byte but did not call it complete: ask once more.
        let status = endpoint.start(sha, size).await?;
        return Ok(if status.complete {
            Outcome::Done
        } else {
            Outcome::Refused(format!(
                "the server holds {} of {size} bytes of attachment {sha} and did not finish it",
                status.offset
            ))
        });
    }
}

/// Downloads one blob into the store (resuming a download cut earlier) and verifies it.
pub(crate) async fn download(
    root: &Path,
    endpoint: &Endpoint<'_>,
    sha: &BlobHash,
) -> Result<PathBuf> {
    use tokio::io::AsyncWriteExt;

    let part = files::partial_path(root, sha);
    if let Some(dir) = part.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::InvalidInput(format!("cannot create {}: {e}", dir.display())))?;
    }
    let have = tokio::fs::metadata(&part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let http = endpoint.remote.http(endpoint.server)?;
    let path = format!("{}/{sha}", fieldsync_proto::BLOBS_PATH);
    let mut request = http.get(url(endpoint.server, &path));
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let mut resp = endpoint.send(request).await?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp
            .bytes()
            .await
            .map_err(|e| offline(endpoint.server, &e))?;
        return Err(error_from(status, &body));
    }
    let append = status == StatusCode::PARTIAL_CONTENT;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&part)
        .await
        .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", part.display())))?;
    while let Some(piece) = resp
        .chunk()
        .await
        .map_err(|e| offline(endpoint.server, &e))?
    {
        file.write_all(&piece)
            .await
            .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", part.display())))?;
    }
    file.flush()
        .await
        .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", part.display())))?;
    drop(file);
    let root = root.to_path_buf();
    let sha2 = sha.clone();
    let settled = tokio::task::spawn_blocking(move || files::settle_download(&root, &sha2))
        .await
        .map_err(|e| Error::Corrupt {
            what: format!("checking a download failed ({e})"),
        })??;
    settled.ok_or_else(|| Error::Server {
        code: ErrorCode::HashMismatch,
        message: format!(
            "the downloaded attachment {sha} did not match its hash; it was discarded, try again"
        ),
    })
}
