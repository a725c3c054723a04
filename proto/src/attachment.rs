//! Attachments: photos, signatures and documents referenced from a work order by the SHA-256 of
//! their bytes. The document holds only the reference (hash, type, size, kind, who and when);
//! the bytes travel separately through the blob upload API, in chunks that can resume.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, EntryId, UserId};
use crate::time::Timestamp;
use crate::vocab::word_enum;

word_enum!(
    /// What an attachment shows.
    AttachmentKind, "attachment kind" {
        Photo => "photo",
        Signature => "signature",
        Document => "document",
    }
);

/// Path prefix of the blob API: `GET /v1/blobs/{sha256}` serves the bytes,
/// `POST /v1/blobs/{sha256}/upload` starts or resumes an upload, `PATCH` sends a chunk.
pub const BLOBS_PATH: &str = "/v1/blobs";
/// Header of a chunk upload carrying the SHA-256 (hex) of the chunk's bytes.
pub const CHUNK_SHA256_HEADER: &str = "x-chunk-sha256";
/// Longest file name kept in a reference, in bytes.
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Longest content type kept in a reference, in bytes.
pub const MAX_CONTENT_TYPE_BYTES: usize = 127;

/// A content address: the SHA-256 of a blob's bytes, as 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobHash(String);

/// Text that is not a SHA-256 in hex.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a SHA-256 hash (expected 64 hex digits)")]
pub struct BadBlobHash(pub String);

impl BlobHash {
    /// From the 32 bytes of a digest.
    pub fn from_digest(bytes: &[u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
        BlobHash(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for BlobHash {
    type Err = BadBlobHash;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(BlobHash(t.to_ascii_lowercase()))
        } else {
            Err(BadBlobHash(s.chars().take(80).collect()))
        }
    }
}

impl TryFrom<String> for BlobHash {
    type Error = BadBlobHash;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BlobHash> for String {
    fn from(h: BlobHash) -> String {
        h.0
    }
}

impl std::fmt::Display for BlobHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobHash({})", &self.0[..12.min(self.0.len())])
    }
}

impl Reconcile for BlobHash {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: autosurgeon::Reconciler>(&self, mut r: R) -> Result<(), R::Error> {
        r.str(&self.0)
    }
}

impl Hydrate for BlobHash {
    fn hydrate_string(s: &str) -> Result<Self, autosurgeon::HydrateError> {
        s.parse()
            .map_err(|e: BadBlobHash| autosurgeon::HydrateError::unexpected("a SHA-256 hash", e.0))
    }
}

/// A file attached to a work order, appended by whoever attached it. The bytes are a blob on
/// the server, found by `sha256`.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    #[key]
    pub id: EntryId,
    pub sha256: BlobHash,
    pub kind: AttachmentKind,
    /// MIME type, e.g. `image/jpeg`.
    pub content_type: String,
    /// Size of the blob in bytes.
    pub size: i64,
    /// The file's name where it came from, e.g. `IMG_0042.jpg`.
    pub file_name: String,
    pub added_by: UserId,
    pub device: DeviceId,
    /// When it was attached, by the device's clock.
    pub added_at: Timestamp,
}

/// What a person attaches; the rest of the entry is filled in when the action is performed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAttachment {
    pub sha256: BlobHash,
    pub kind: AttachmentKind,
    pub content_type: String,
    pub size: i64,
    #[serde(default)]
    pub file_name: String,
}

/// `POST /v1/blobs/{sha256}/upload`: starts an upload of `size` bytes, or asks how far it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadStart {
    pub size: u64,
}

/// Where an upload stands: `offset` bytes received; `complete` once the blob is verified and
/// stored (then `offset == size`). Answer to the upload start and to every chunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadStatus {
    pub sha256: BlobHash,
    pub size: u64,
    pub offset: u64,
    pub complete: bool,
}

/// A content type from a file name's extension, for files attached without one.
pub fn content_type_for(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_checked_and_lowercased() {
        let upper = "AB".repeat(32);
        let h: BlobHash = upper.parse().expect("hex");
        assert_eq!(h.as_str(), "ab".repeat(32));
        assert!("abc".parse::<BlobHash>().is_err());
        assert!("zz".repeat(32).parse::<BlobHash>().is_err());
        assert_eq!(BlobHash::from_digest(&[0xab; 32]), h);
        let json = serde_json::to_string(&h).expect("json");
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert!(serde_json::from_str::<BlobHash>("\"nothex\"").is_err());
    }

    #[test]
    fn content_types_come_from_extensions() {
        assert_eq!(content_type_for("IMG_1.JPG"), "image/jpeg");
        assert_eq!(content_type_for("manual.pdf"), "application/pdf");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }
}
