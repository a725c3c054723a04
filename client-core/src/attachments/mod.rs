//! Attachments on the device: `attach` copies a photo, signature or document durably into the
//! store and records it on the work order in one step; the bytes go up with the next sync (the
//! upload queue) and come down only when someone opens them, or for a whole job on request.

mod files;
mod transfer;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use fieldsync_proto::{
    content_type_for, Action, Attachment, AttachmentKind, BlobHash, NewAttachment, Timestamp,
    WorkOrderId,
};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::local;
use crate::store::{blobs, outbox};

pub use files::ATTACHMENTS_DIR;
pub use transfer::{UploadProgress, UploadReport, CHUNK_BYTES};

pub use crate::store::blobs::PendingUpload;

/// An attachment of a work order with where its bytes are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    #[serde(flatten)]
    pub attachment: Attachment,
    /// The bytes are on this device.
    pub local: bool,
    /// Still to be uploaded from this device.
    pub upload_pending: bool,
    /// Why the last upload attempt failed, if it did.
    pub upload_error: Option<String>,
}

/// What `attach` takes the bytes from.
#[derive(Clone, Copy, Debug)]
pub enum AttachSource<'a> {
    /// A file; its name is kept.
    Path(&'a Path),
    /// Bytes in memory (a signature drawn on screen), with the file name to show.
    Bytes { bytes: &'a [u8], file_name: &'a str },
}

impl Client {
    fn attachments_root(&self) -> PathBuf {
        files::root_for(self.store.path())
    }

    /// Attaches a photo, signature or document to a work order: the bytes are copied into the
    /// store and synced to disk, then the reference is recorded and the upload queued, in one
    /// transaction. Works offline; durable when it returns.
    pub fn attach(
        &self,
        id: WorkOrderId,
        source: AttachSource<'_>,
        kind: AttachmentKind,
        content_type: Option<&str>,
    ) -> Result<Attachment> {
        let root = self.attachments_root();
        let (file_name, (sha, size)) = match source {
            AttachSource::Path(path) => {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("attachment")
                    .to_owned();
                (name, files::import_file(&root, path)?)
            }
            AttachSource::Bytes { bytes, file_name } => {
                (file_name.to_owned(), files::import_bytes(&root, bytes)?)
            }
        };
        if size == 0 {
            return Err(Error::InvalidInput(
                "the attachment is empty; choose a file with something in it".into(),
            ));
        }
        let content_type = content_type
            .map(str::to_owned)
            .unwrap_or_else(|| content_type_for(&file_name).to_owned());
        let action = Action::Attach(NewAttachment {
            sha256: sha.clone(),
            kind,
            content_type,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            file_name,
        });
        let now = Timestamp::now();
        let (view, pending) = self.store.write(|tx| {
            let view = local::act(tx, id, &action, now)?;
            blobs::add_file(tx, &sha, size, now)?;
            blobs::queue_upload(tx, &sha, size, now)?;
            Ok((view, outbox::outbox_count(tx)?))
        })?;
        self.hub().local_edit(id, pending);
        let attachment = view
            .attachments
            .iter()
            .rev()
            .find(|a| a.sha256 == sha)
            .cloned()
            .ok_or_else(|| Error::Corrupt {
                what: format!("the attachment just recorded on {} is missing", view.number),
            })?;
        tracing::info!(work_order = %view.number, %sha, size, %kind, "attached");
        Ok(attachment)
    }

    /// The attachments of a work order, with whether each is on this device and still to upload.
    pub fn attachments(&self, id: WorkOrderId) -> Result<Vec<AttachmentInfo>> {
        self.store.read(|c| {
            let view = local::view(c, id, Timestamp::now())?;
            let pending = blobs::pending_uploads(c)?;
            view.attachments
                .into_iter()
                .map(|a| {
                    let queued = pending.iter().find(|p| p.sha256 == a.sha256);
                    Ok(AttachmentInfo {
                        local: blobs::has_file(c, &a.sha256)?,
                        upload_pending: queued.is_some(),
                        upload_error: queued.and_then(|p| p.last_error.clone()),
                        attachment: a,
                    })
                })
                .collect()
        })
    }

    /// Attachments waiting to be uploaded, oldest first.
    pub fn pending_uploads(&self) -> Result<Vec<PendingUpload>> {
        self.store.read(blobs::pending_uploads)
    }

    /// Uploads every queued attachment (`sync` does this after the work orders), resuming each
    /// where the server says it stands. `progress` hears after every chunk.
    pub async fn upload_attachments(
        &self,
        progress: &(dyn Fn(UploadProgress) + Send + Sync),
    ) -> Result<UploadReport> {
        if self.store.read(blobs::pending_count)? == 0 {
            return Ok(UploadReport::default());
        }
        let stored = self.online_session()?;
        let endpoint = transfer::Endpoint {
            remote: &self.remote,
            server: &stored.session.server_url,
            token: &stored.token,
        };
        let answer =
            transfer::upload_all(&self.store, &self.attachments_root(), &endpoint, progress).await;
        self.settle(answer)
    }

    /// The file holding an attachment's bytes, downloading it first if this device does not
    /// have it (downloads are lazy: only what someone opens, or `prefetch_attachments`).
    pub async fn attachment_file(&self, sha: &BlobHash) -> Result<PathBuf> {
        let root = self.attachments_root();
        if self.store.read(|c| blobs::has_file(c, sha))? {
            return Ok(files::path_of(&root, sha));
        }
        let stored = self.online_session()?;
        let endpoint = transfer::Endpoint {
            remote: &self.remote,
            server: &stored.session.server_url,
            token: &stored.token,
        };
        let answer = transfer::download(&root, &endpoint, sha).await;
        let path = self.settle(answer)?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        self.store
            .write(|tx| blobs::add_file(tx, sha, size, Timestamp::now()))?;
        Ok(path)
    }

    /// Downloads every attachment of a work order this device does not have yet, so that they
    /// open without signal later. Returns how many were downloaded.
    pub async fn prefetch_attachments(&self, id: WorkOrderId) -> Result<usize> {
        let missing: Vec<BlobHash> = self
            .attachments(id)?
            .into_iter()
            .filter(|a| !a.local)
            .map(|a| a.attachment.sha256)
            .collect();
        let mut fetched = 0;
        for sha in missing {
            self.attachment_file(&sha).await?;
            fetched += 1;
        }
        Ok(fetched)
    }
}

/// Removes every attachment file of the store whose database is at `db_path` (a revoked
/// device). Best effort: the rows are gone already.
pub(crate) fn remove_all_files(db_path: &Path) {
    let root = files::root_for(db_path);
    if let Err(e) = std::fs::remove_dir_all(&root) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(error = %e, "could not remove the attachment files");
        }
    }
}
