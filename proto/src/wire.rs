//! Wire protocol v1 between devices and the server: one round trip pushes local changes and pulls
//! what is new, paged. Frames are `FSYN` + a 2-byte version + a postcard body; decoding untrusted
//! bytes returns an error, never panics, and never allocates more than the input warrants.

use serde::{Deserialize, Serialize};

use crate::ids::WorkOrderId;
use crate::time::Timestamp;
use crate::view::WorkOrderSummary;

pub const MAGIC: [u8; 4] = *b"FSYN";
pub const PROTOCOL_VERSION: u16 = 1;
/// HTTP content type of protocol frames.
pub const CONTENT_TYPE: &str = "application/x-fieldsync";
/// Path of the sync endpoint.
pub const SYNC_PATH: &str = "/v1/sync";
/// Largest frame either side accepts.
pub const MAX_FRAME_BYTES: usize = 32 * 1024 * 1024;

/// The bytes of one Automerge change. `Debug` shows the size, never the content.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChangeBytes(#[serde(with = "serde_bytes_vec")] pub Vec<u8>);

impl std::fmt::Debug for ChangeBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChangeBytes({} bytes)", self.0.len())
    }
}

impl AsRef<[u8]> for ChangeBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Position in the server's change sequence up to which a device has received everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(pub u64);

/// Device → server: what to upload, and where to resume downloading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub cursor: Cursor,
    pub push: Vec<PushDoc>,
    /// Documents the device wants whole again (after a rejection it dropped its local copy).
    pub resync: Vec<WorkOrderId>,
    pub limits: PullLimits,
}

/// Local changes to one document, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushDoc {
    pub doc: WorkOrderId,
    pub changes: Vec<ChangeBytes>,
}

/// How much one response may carry; the server clamps both to its own maximums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullLimits {
    pub max_docs: u32,
    pub max_bytes: u32,
}

impl Default for PullLimits {
    fn default() -> Self {
        Self {
            max_docs: 1000,
            max_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Server → device: the fate of each pushed document, and a page of what is new.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub results: Vec<PushResult>,
    pub updates: Vec<DocUpdate>,
    /// Everything up to here has now been sent; the device stores it once the page is applied.
    pub cursor: Cursor,
    /// More updates wait: call again with the new cursor.
    pub more: bool,
    /// Documents the device should expect in total for this pull, for progress reports.
    pub remaining_docs: u64,
    pub server_time: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    pub doc: WorkOrderId,
    pub outcome: PushOutcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PushOutcome {
    /// Durably stored (or already there). `new_changes` were not known to the server before.
    Accepted { new_changes: u32 },
    /// Nothing of this document was stored.
    Rejected(Rejection),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
    /// How many of the pushed changes, from the first, were stored before the refused one.
    pub accepted: u32,
}

/// New state of one document for the device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocUpdate {
    pub doc: WorkOrderId,
    pub payload: UpdatePayload,
    /// With a snapshot or changes: the server's index row of the state they lead to, derived
    /// by the same rules the device uses. A device with nothing local in play for the document
    /// files the update under it without loading the document; one with local changes derives
    /// its own. Older servers send it with snapshots only, and older devices ignore it on
    /// changes: the field has always been part of the message.
    pub summary: Option<WorkOrderSummary>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum UpdatePayload {
    /// The whole document, compacted: for documents the device has never seen.
    Snapshot(#[serde(with = "serde_bytes_vec")] Vec<u8>),
    /// Changes the device has not seen, in an order that respects their dependencies.
    Changes(Vec<ChangeBytes>),
    /// The document left this device's scope: drop it once nothing local is unsent.
    Removed,
}

impl UpdatePayload {
    pub fn byte_len(&self) -> usize {
        match self {
            UpdatePayload::Snapshot(b) => b.len(),
            UpdatePayload::Changes(c) => c.iter().map(|c| c.0.len()).sum(),
            UpdatePayload::Removed => 0,
        }
    }
}

impl std::fmt::Debug for UpdatePayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpdatePayload::Snapshot(b) => write!(f, "Snapshot({} bytes)", b.len()),
            UpdatePayload::Changes(c) => {
                write!(f, "Changes({} changes, {} bytes)", c.len(), self.byte_len())
            }
            UpdatePayload::Removed => f.write_str("Removed"),
        }
    }
}

/// Machine-readable reason for a refusal, shared by the sync protocol and the JSON API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    /// The bytes are not a protocol frame, or are truncated.
    MalformedFrame,
    /// The frame's protocol version is not spoken by this side.
    UnsupportedVersion,
    /// The request body is larger than allowed.
    TooLarge,
    /// No valid credentials.
    Unauthorized,
    /// The credentials are valid but this device has been revoked.
    DeviceRevoked,
    /// Valid credentials, but not allowed to do this.
    Forbidden,
    /// A pushed change could not be decoded.
    ChangeUndecodable,
    /// Pushed changes depend on changes the server does not have.
    MissingDependencies,
    /// The document would break a work order rule.
    InvalidDocument,
    /// The change touches a field this role may not change.
    FieldNotWritable,
    /// A JSON body or parameter is wrong.
    InvalidInput,
    NotFound,
    /// The action does not fit the work order's current state.
    Conflict,
    RateLimited,
    /// Uploaded bytes do not match the SHA-256 they were sent under; nothing was kept.
    HashMismatch,
    /// The server failed; the request can be retried.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ChangeUndecodable => "change_undecodable",
            ErrorCode::MissingDependencies => "missing_dependencies",
            ErrorCode::InvalidDocument => "invalid_document",
            ErrorCode::FieldNotWritable => "field_not_writable",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::HashMismatch => "hash_mismatch",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of every error answer over HTTP (as JSON): `{"error": {"code": …, "message": …}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// Path of the input field that was wrong (`customer.name`, `limit`), when one was.
    #[serde(default)]
    pub field: Option<String>,
    /// On a conflict over a stale edit: the version the work order is at now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                field: None,
                current_version: None,
            },
        }
    }

    /// An error about one input field.
    pub fn for_field(
        code: ErrorCode,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let mut body = Self::new(code, message);
        body.error.field = Some(field.into());
        body
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the message is {len} bytes, shorter than the 6-byte frame header")]
    Truncated { len: usize },
    #[error("the message does not start with the Fieldsync frame marker")]
    BadMagic,
    #[error(
        "protocol version {found} is not supported (this side speaks version {PROTOCOL_VERSION})"
    )]
    UnsupportedVersion { found: u16 },
    #[error("the message is {len} bytes; at most {MAX_FRAME_BYTES} are accepted")]
    TooLarge { len: usize },
    #[error("the message body could not be decoded: {0}")]
    Body(String),
    #[error("the message has {0} unexpected bytes after its end")]
    TrailingBytes(usize),
}

impl WireError {
    pub fn code(&self) -> ErrorCode {
        match self {
            WireError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            WireError::TooLarge { .. } => ErrorCode::TooLarge,
            _ => ErrorCode::MalformedFrame,
        }
    }
}

/// Encodes a message as a version-1 frame.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    // Serializing our own message types into a Vec cannot fail.
    match postcard::to_extend(message, out) {
        Ok(out) => out,
        Err(e) => unreachable!("postcard cannot fail to encode protocol types: {e}"),
    }
}

/// Decodes a frame from untrusted bytes.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(WireError::TooLarge { len: bytes.len() });
    }
    if bytes.len() < 6 {
        return Err(WireError::Truncated { len: bytes.len() });
    }
    if bytes[..4] != MAGIC {
        return Err(WireError::BadMagic);
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != PROTOCOL_VERSION {
        return Err(WireError::UnsupportedVersion { found: version });
    }
    let (message, rest) =
        postcard::take_from_bytes(&bytes[6..]).map_err(|e| WireError::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(message)
}

/// Byte vectors as postcard byte strings (a length and the bytes, not a sequence of numbers).
mod serde_bytes_vec {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(BytesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> SyncRequest {
        SyncRequest {
            cursor: Cursor(42),
            push: vec![PushDoc {
                doc: WorkOrderId::new(),
                changes: vec![ChangeBytes(vec![1, 2, 3]), ChangeBytes(vec![])],
            }],
            resync: vec![WorkOrderId::new()],
            limits: PullLimits::default(),
        }
    }

    #[test]
    fn round_trip() {
        let req = sample();
        let bytes = encode(&req);
        assert_eq!(decode::<SyncRequest>(&bytes).expect("decodes"), req);
    }

    #[test]
    fn rejects_bad_frames() {
        let good = encode(&sample());
        assert_eq!(
            decode::<SyncRequest>(&good[..3]),
            Err(WireError::Truncated { len: 3 })
        );
        let mut bad_magic = good.clone();
        bad_magic[0] = b'X';
        assert_eq!(decode::<SyncRequest>(&bad_magic), Err(WireError::BadMagic));
        let mut v2 = good.clone();
        v2[4] = 2;
        assert_eq!(
            decode::<SyncRequest>(&v2),
            Err(WireError::UnsupportedVersion { found: 2 })
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            decode::<SyncRequest>(&trailing),
            Err(WireError::TrailingBytes(1))
        );
        for cut in 6..good.len() {
            assert!(decode::<SyncRequest>(&good[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn huge_length_prefix_is_an_error() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        bytes.extend_from_slice(&[0x2a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode::<SyncRequest>(&bytes).is_err());
    }

    #[test]
    fn debug_prints_sizes_not_bytes() {
        let text = format!("{:?}", ChangeBytes(vec![7; 500]));
        assert_eq!(text, "ChangeBytes(500 bytes)");
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
            bytes.extend_from_slice(&body);
            let _ = decode::<SyncRequest>(&bytes);
            let _ = decode::<SyncResponse>(&bytes);
        }

        #[test]
        fn requests_round_trip(cursor in any::<u64>(), changes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let req = SyncRequest {
                cursor: Cursor(cursor),
                push: vec![PushDoc { doc: WorkOrderId::new(), changes: changes.into_iter().map(ChangeBytes).collect() }],
                resync: Vec::new(),
                limits: PullLimits::default(),
            };
            prop_assert_eq!(decode::<SyncRequest>(&encode(&req)).expect("decodes"), req);
        }
    }
}
