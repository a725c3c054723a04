//! `FsBlobStore`: blobs as files under one directory. Several server instances may share the
//! directory (a network file system), since every step is a file operation that is safe to
//! repeat: chunks append at a checked offset, finished blobs arrive by atomic rename.
//!
//! Layout: `objects/ab/<hash>` stored blobs; `uploads/<device>/<hash>.part` unfinished
//! uploads; `owners/<device>/<hash>` the size of each blob a device stored first (its quota);
//! `refs/<hash>/<work order id>` which work orders reference a blob.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use fieldsync_proto::{BlobHash, DeviceId, WorkOrderId};
use sha2::{Digest, Sha256};

use super::{BlobError, BlobReader, BlobStore, Finished};

/// Independent locks for appends, picked by upload, so that two requests for the same upload
/// (a retry racing its predecessor) never interleave their writes.
const LOCK_STRIPES: usize = 64;

pub struct FsBlobStore {
    root: PathBuf,
    locks: Vec<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for FsBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsBlobStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))?
        .map_err(BlobError::Io)
}

/// Makes a rename or a new file in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn len_or_zero(path: &Path) -> std::io::Result<u64> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Writes a small file durably: to a temporary name, synced, then renamed into place.
fn write_marker(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

impl FsBlobStore {
    /// Opens (creating) a blob store under `root`.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<FsBlobStore> {
        let root = root.into();
        for sub in ["objects", "uploads", "owners", "refs"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(FsBlobStore {
            root,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        })
    }

    fn object(&self, hash: &BlobHash) -> PathBuf {
        let h = hash.as_str();
        self.root.join("objects").join(&h[..2]).join(h)
    }

    fn upload(&self, device: DeviceId, hash: &BlobHash) -> PathBuf {
        self.root
            .join("uploads")
            .join(device.to_string())
            .join(format!("{hash}.part"))
    }

    fn owner(&self, device: DeviceId, hash: &BlobHash) -> PathBuf {
        self.root
            .join("owners")
            .join(device.to_string())
            .join(hash.as_str())
    }

    fn lock_for(&self, device: DeviceId, hash: &BlobHash) -> &tokio::sync::Mutex<()> {
        let mut n: usize = 0;
        for b in device
            .as_uuid()
            .as_bytes()
            .iter()
            .chain(hash.as_str().as_bytes())
        {
            n = n.wrapping_mul(31).wrapping_add(usize::from(*b));
        }
        &self.locks[n % LOCK_STRIPES]
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn size(&self, hash: &BlobHash) -> Result<Option<u64>, BlobError> {
        let path = self.object(hash);
        blocking(move || match std::fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    async fn open(&self, hash: &BlobHash, from: u64) -> Result<Option<BlobReader>, BlobError> {
        let path = self.object(hash);
        let opened = blocking(move || match std::fs::File::open(&path) {
            Ok(mut f) => {
                let size = f.metadata()?.len();
                f.seek(SeekFrom::Start(from.min(size)))?;
                Ok(Some((f, size)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
        Ok(opened.map(|(f, size)| BlobReader {
            size,
            reader: Box::new(tokio::fs::File::from_std(f)),
        }))
    }

    async fn upload_offset(&self, device: DeviceId, hash: &BlobHash) -> Result<u64, BlobError> {
        let path = self.upload(device, hash);
        blocking(move || len_or_zero(&path)).await
    }

    async fn append(
        &self,
        device: DeviceId,
        hash: &BlobHash,
        offset: u64,
        bytes: &[u8],
    ) -> Result<u64, BlobError> {
        let _guard = self.lock_for(device, hash).lock().await;
        let path = self.upload(device, hash);
        let bytes = bytes.to_vec();
        let outcome = blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)?;
            let current = f.metadata()?.len();
            if current != offset {
                return Ok(Err(current));
            }
            f.seek(SeekFrom::Start(offset))?;
            f.write_all(&bytes)?;
            f.sync_data()?;
            Ok(Ok(offset + bytes.len() as u64))
        })
        .await?;
        outcome.map_err(|current| BlobError::WrongOffset {
            current,
            sent: offset,
        })
    }

    async fn finish(&self, device: DeviceId, hash: &BlobHash) -> Result<Finished, BlobError> {
        let _guard = self.lock_for(device, hash).lock().await;
        let (part, object, owner) = (
            self.upload(device, hash),
            self.object(hash),
            self.owner(device, hash),
        );
        let expected = hash.clone();
        blocking(move || {
            let mut f = std::fs::File::open(&part)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut size = 0u64;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                size += n as u64;
            }
            drop(f);
            let actual = BlobHash::from_digest(&hasher.finalize().into());
            if actual != expected {
                std::fs::remove_file(&part)?;
                return Ok(Finished::Mismatch { actual });
            }
            if object.exists() {
                // Another device stored it first: keep one copy.
                std::fs::remove_file(&part)?;
                return Ok(Finished::Stored { size });
            }
            let dir = object.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            std::fs::rename(&part, &object)?;
            sync_dir(dir)?;
            write_marker(&owner, size.to_string().as_bytes())?;
            Ok(Finished::Stored { size })
        })
        .await
    }

    async fn discard(&self, device: DeviceId, hash: &BlobHash) -> Result<(), BlobError> {
        let _guard = self.lock_for(device, hash).lock().await;
        let part = self.upload(device, hash);
        blocking(move || match std::fs::remove_file(&part) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await
    }

    async fn device_usage(&self, device: DeviceId) -> Result<u64, BlobError> {
        let owners = self.root.join("owners").join(device.to_string());
        let uploads = self.root.join("uploads").join(device.to_string());
        blocking(move || {
            let mut total = 0u64;
            for (dir, is_marker) in [(owners, true), (uploads, false)] {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                for entry in entries {
                    let entry = entry?;
                    let bytes = if is_marker {
                        std::fs::read_to_string(entry.path())?
                            .trim()
                            .parse::<u64>()
                            .unwrap_or(0)
                    } else {
                        entry.metadata()?.len()
                    };
                    total = total.saturating_add(bytes);
                }
            }
            Ok(total)
        })
        .await
    }

    async fn add_references(&self, doc: WorkOrderId, hashes: &[BlobHash]) -> Result<(), BlobError> {
        let paths: Vec<PathBuf> = hashes
            .iter()
            .map(|h| {
                self.root
                    .join("refs")
                    .join(h.as_str())
                    .join(doc.to_string())
            })
            .collect();
        blocking(move || {
            for path in paths {
                if !path.exists() {
                    write_marker(&path, b"")?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn references(&self, hash: &BlobHash) -> Result<Vec<WorkOrderId>, BlobError> {
        let dir = self.root.join("refs").join(hash.as_str());
        blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut docs = Vec::new();
            for entry in entries {
                if let Some(id) = entry?
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<WorkOrderId>().ok())
                {
                    docs.push(id);
                }
            }
            docs.sort();
            Ok(docs)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(bytes: &[u8]) -> BlobHash {
        BlobHash::from_digest(&Sha256::digest(bytes).into())
    }

    #[tokio::test]
    async fn uploads_resume_verify_and_deduplicate() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let (a, b) = (DeviceId::new(), DeviceId::new());
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let hash = hash_of(&data);

        assert_eq!(store.upload_offset(a, &hash).await.expect("offset"), 0);
        let at = store.append(a, &hash, 0, &data[..40_000]).await.expect("1");
        assert_eq!(at, 40_000);
        // A retry of a chunk already taken is refused with where the upload stands.
        match store.append(a, &hash, 0, &data[..40_000]).await {
            Err(BlobError::WrongOffset { current, sent }) => {
                assert_eq!((current, sent), (40_000, 0))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(store.upload_offset(a, &hash).await.expect("offset"), 40_000);
        assert_eq!(store.device_usage(a).await.expect("usage"), 40_000);
        store
            .append(a, &hash, 40_000, &data[40_000..])
            .await
            .expect("2");
        assert_eq!(
            store.size(&hash).await.expect("size"),
            None,
            "not visible before finish"
        );
        assert_eq!(
            store.finish(a, &hash).await.expect("finish"),
            Finished::Stored { size: 100_000 }
        );
        assert_eq!(store.size(&hash).await.expect("size"), Some(100_000));
        assert_eq!(store.device_usage(a).await.expect("usage"), 100_000);

        // The same bytes from another device: kept once, not counted against it.
        store.append(b, &hash, 0, &data).await.expect("b");
        assert_eq!(
            store.finish(b, &hash).await.expect("finish"),
            Finished::Stored { size: 100_000 }
        );
        assert_eq!(store.device_usage(b).await.expect("usage"), 0);
        let objects: Vec<_> =
            std::fs::read_dir(dir.path().join("objects").join(&hash.as_str()[..2]))
                .expect("dir")
                .collect();
        assert_eq!(objects.len(), 1);

        // Bytes that do not match the hash are discarded.
        let wrong = hash_of(b"something else");
        store
            .append(a, &wrong, 0, &data[..10])
            .await
            .expect("append");
        assert!(matches!(
            store.finish(a, &wrong).await.expect("finish"),
            Finished::Mismatch { .. }
        ));
        assert_eq!(store.size(&wrong).await.expect("size"), None);
        assert_eq!(store.upload_offset(a, &wrong).await.expect("offset"), 0);

        let mut reader = store
            .open(&hash, 99_990)
            .await
            .expect("open")
            .expect("stored");
        let mut tail = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut reader.reader, &mut tail)
            .await
            .expect("read");
        assert_eq!((reader.size, tail.as_slice()), (100_000, &data[99_990..]));

        let doc = WorkOrderId::new();
        store
            .add_references(doc, std::slice::from_ref(&hash))
            .await
            .expect("refs");
        store
            .add_references(doc, std::slice::from_ref(&hash))
            .await
            .expect("again");
        assert_eq!(store.references(&hash).await.expect("refs"), vec![doc]);
        assert!(store.references(&wrong).await.expect("refs").is_empty());
    }
}
