//! The blob part of storage: attachment bytes (photos, signatures, documents), addressed by
//! their SHA-256. Uploads arrive in chunks at an offset, per device, so that a cut connection
//! or a restarted device resumes where it stopped; a finished upload is verified against its
//! hash before it becomes visible, and each blob is kept once however many devices send it.
//!
//! `BlobStore` is the trait another backend (an object store, a database table) implements;
//! `FsBlobStore` keeps everything under a directory, by default `blobs/` in the data directory.

mod fs;

use std::sync::Arc;

use async_trait::async_trait;
use fieldsync_proto::{BlobHash, DeviceId, WorkOrderId};

pub use fs::FsBlobStore;

/// A blob store shared by every request.
pub type SharedBlobStore = Arc<dyn BlobStore>;

/// Default largest attachment: 100 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// Default total a device may upload: 5 GiB.
pub const DEFAULT_DEVICE_QUOTA_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Largest chunk accepted in one upload request.
pub const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Limits on what devices may upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLimits {
    /// Largest single attachment, in bytes (`--max-attachment-bytes`).
    pub max_file_bytes: u64,
    /// Most bytes one device may have stored, counting uploads in progress
    /// (`--device-quota-bytes`).
    pub device_quota_bytes: u64,
}

impl Default for BlobLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            device_quota_bytes: DEFAULT_DEVICE_QUOTA_BYTES,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The chunk does not start where the upload stands.
    #[error("the upload is at byte {current}, not {sent}")]
    WrongOffset { current: u64, sent: u64 },
    #[error("blob storage failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What finishing an upload found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// The bytes match the hash and are stored (or were already).
    Stored { size: u64 },
    /// The bytes hash to something else; the upload was discarded.
    Mismatch { actual: BlobHash },
}

/// A range of a stored blob, read in pieces.
pub struct BlobReader {
    pub size: u64,
    pub reader: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// The size of a stored, verified blob; `None` if it is not stored.
    async fn size(&self, hash: &BlobHash) -> Result<Option<u64>, BlobError>;
    /// Opens a stored blob for reading from byte `from`.
    async fn open(&self, hash: &BlobHash, from: u64) -> Result<Option<BlobReader>, BlobError>;

    /// How many bytes of `hash` the device has sent so far in an unfinished upload.
    async fn upload_offset(&self, device: DeviceId, hash: &BlobHash) -> Result<u64, BlobError>;
    /// Appends `bytes` to the device's upload of `hash`, durably, if `offset` is where the
    /// upload stands. Returns the new offset.
    async fn append(
        &self,
        device: DeviceId,
        hash: &BlobHash,
        offset: u64,
        bytes: &[u8],
    ) -> Result<u64, BlobError>;
    /// Verifies the device's upload against `hash`; if it matches, makes it a stored blob
    /// counted against the device; if not, discards it.
    async fn finish(&self, device: DeviceId, hash: &BlobHash) -> Result<Finished, BlobError>;
    /// Forgets the device's unfinished upload of `hash`.
    async fn discard(&self, device: DeviceId, hash: &BlobHash) -> Result<(), BlobError>;
    /// Bytes counted against the device: blobs it stored first, and its unfinished uploads.
    async fn device_usage(&self, device: DeviceId) -> Result<u64, BlobError>;

    /// Remembers that `doc` references these blobs (references are never removed: attachments
    /// are append-only).
    async fn add_references(&self, doc: WorkOrderId, hashes: &[BlobHash]) -> Result<(), BlobError>;
    /// The work orders known to reference `hash`.
    async fn references(&self, hash: &BlobHash) -> Result<Vec<WorkOrderId>, BlobError>;
}
