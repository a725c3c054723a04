//! Attachment files on the device: content-addressed under `attachments/` next to the store,
//! each written to a temporary name, synced and renamed, so that a file named by a hash always
//! holds exactly those bytes.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fieldsync_proto::BlobHash;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Directory of attachment files inside the store directory.
pub const ATTACHMENTS_DIR: &str = "attachments";

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::InvalidInput(format!("{what} {}: {e}", path.display()))
}

/// Where attachments of the store at `db_path` (the database file) live.
pub(crate) fn root_for(db_path: &Path) -> PathBuf {
    db_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(ATTACHMENTS_DIR)
}

pub(crate) fn path_of(root: &Path, sha: &BlobHash) -> PathBuf {
    root.join(&sha.as_str()[..2]).join(sha.as_str())
}

fn partial_dir(root: &Path) -> PathBuf {
    root.join("partial")
}

/// Where a download in progress is kept, so that it resumes after a cut.
pub(crate) fn partial_path(root: &Path, sha: &BlobHash) -> PathBuf {
    partial_dir(root).join(format!("{sha}.part"))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Moves a finished, synced temporary file to its content address.
fn settle(root: &Path, tmp: &Path, sha: &BlobHash) -> std::io::Result<PathBuf> {
    let target = path_of(root, sha);
    let dir = target.parent().unwrap_or(root);
    std::fs::create_dir_all(dir)?;
    if target.exists() {
        std::fs::remove_file(tmp)?;
    } else {
        std::fs::rename(tmp, &target)?;
        sync_dir(dir)?;
    }
    Ok(target)
}

fn temp_file(root: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let dir = partial_dir(root);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("import-{}.tmp", uuid::Uuid::now_v7()));
    let file = std::fs::File::create(&path)?;
    Ok((path, file))
}

/// Copies `bytes` durably into the store; returns their hash and size.
pub(crate) fn import_bytes(root: &Path, bytes: &[u8]) -> Result<(BlobHash, u64)> {
    let sha = BlobHash::from_digest(&Sha256::digest(bytes).into());
    let write = || -> std::io::Result<()> {
        let (tmp, mut f) = temp_file(root)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        settle(root, &tmp, &sha)?;
        Ok(())
    };
    write().map_err(|e| io_error("could not store the attachment in", root, e))?;
    Ok((sha, bytes.len() as u64))
}

/// Copies the file at `source` durably into the store, hashing it on the way.
pub(crate) fn import_file(root: &Path, source: &Path) -> Result<(BlobHash, u64)> {
    let mut input = std::fs::File::open(source)
        .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", source.display())))?;
    let mut copy = || -> std::io::Result<(BlobHash, u64)> {
        let (tmp, mut f) = temp_file(root)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            f.write_all(&buf[..n])?;
            size += n as u64;
        }
        f.sync_all()?;
        drop(f);
        let sha = BlobHash::from_digest(&hasher.finalize().into());
        settle(root, &tmp, &sha)?;
        Ok((sha, size))
    };
    copy().map_err(|e| io_error("could not copy the attachment into", root, e))
}

/// `len` bytes (or fewer at the end) of a stored attachment from `offset`.
pub(crate) fn read_chunk(root: &Path, sha: &BlobHash, offset: u64, len: usize) -> Result<Vec<u8>> {
    let path = path_of(root, sha);
    let read = || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(&path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::with_capacity(len);
        f.take(len as u64).read_to_end(&mut buf)?;
        Ok(buf)
    };
    read().map_err(|e| io_error("cannot read the attachment file", &path, e))
}

/// Whether the stored file still hashes to its name.
pub(crate) fn verify(root: &Path, sha: &BlobHash) -> Result<bool> {
    let path = path_of(root, sha);
    let hash = || -> std::io::Result<BlobHash> {
        let mut f = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(BlobHash::from_digest(&hasher.finalize().into()))
    };
    Ok(hash().map_err(|e| io_error("cannot read the attachment file", &path, e))? == *sha)
}

/// Turns a finished download into a stored file if its bytes match `sha`; otherwise removes it.
pub(crate) fn settle_download(root: &Path, sha: &BlobHash) -> Result<Option<PathBuf>> {
    let part = partial_path(root, sha);
    let check = || -> std::io::Result<Option<PathBuf>> {
        let mut f = std::fs::File::open(&part)?;
        f.sync_all()?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        drop(f);
        if BlobHash::from_digest(&hasher.finalize().into()) != *sha {
            std::fs::remove_file(&part)?;
            return Ok(None);
        }
        settle(root, &part, sha).map(Some)
    };
    check().map_err(|e| io_error("cannot store the downloaded attachment", &part, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_content_addressed_and_verified() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().join(ATTACHMENTS_DIR);
        let (a, size) = import_bytes(&root, b"signature strokes").expect("bytes");
        assert_eq!(size, 17);
        let source = dir.path().join("photo.jpg");
        std::fs::write(&source, b"signature strokes").expect("write");
        let (b, _) = import_file(&root, &source).expect("file");
        assert_eq!(a, b, "same bytes, same address");
        assert_eq!(read_chunk(&root, &a, 10, 100).expect("chunk"), b"strokes");
        assert!(verify(&root, &a).expect("verify"));
        std::fs::write(path_of(&root, &a), b"bit rot").expect("damage");
        assert!(!verify(&root, &a).expect("verify"));
        let err = import_file(&root, &dir.path().join("missing.jpg")).expect_err("missing");
        assert!(err.to_string().contains("missing.jpg"), "{err}");
    }
}
