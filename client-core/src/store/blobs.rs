//! Rows about attachment blobs: which ones this device holds as files, and which wait to be
//! uploaded (with what was sent so far and the last failure, for status displays).

use rusqlite::{params, Connection, OptionalExtension};

use fieldsync_proto::{BlobHash, Timestamp};

use crate::error::{Error, Result};

/// One blob waiting to be uploaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub sha256: BlobHash,
    pub size: u64,
    /// Bytes sent over every attempt so far.
    pub sent_bytes: u64,
    pub attempts: u32,
    /// Why the last attempt did not finish, if it failed.
    pub last_error: Option<String>,
}

fn hash(text: String) -> Result<BlobHash> {
    text.parse().map_err(|_| Error::Corrupt {
        what: format!("a stored attachment hash '{text}' is not a SHA-256"),
    })
}

pub(crate) fn add_file(conn: &Connection, sha: &BlobHash, size: u64, now: Timestamp) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO attachment_files (sha256, size, stored_at) VALUES (?1, ?2, ?3)",
        params![sha.as_str(), size as i64, now.millis()],
    )?;
    Ok(())
}

pub(crate) fn has_file(conn: &Connection, sha: &BlobHash) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM attachment_files WHERE sha256 = ?1",
            [sha.as_str()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub(crate) fn queue_upload(
    conn: &Connection,
    sha: &BlobHash,
    size: u64,
    now: Timestamp,
) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO attachment_uploads (sha256, size, queued_at) VALUES (?1, ?2, ?3)",
        params![sha.as_str(), size as i64, now.millis()],
    )?;
    Ok(())
}

/// Oldest first.
pub(crate) fn pending_uploads(conn: &Connection) -> Result<Vec<PendingUpload>> {
    let mut stmt = conn.prepare_cached(
        "SELECT sha256, size, sent_bytes, attempts, last_error FROM attachment_uploads
         ORDER BY queued_at, sha256",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (sha, size, sent, attempts, last_error) = row?;
        out.push(PendingUpload {
            sha256: hash(sha)?,
            size: size.max(0) as u64,
            sent_bytes: sent.max(0) as u64,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            last_error,
        });
    }
    Ok(out)
}

pub(crate) fn add_sent(conn: &Connection, sha: &BlobHash, bytes: u64) -> Result<()> {
    conn.execute(
        "UPDATE attachment_uploads SET sent_bytes = sent_bytes + ?2 WHERE sha256 = ?1",
        params![sha.as_str(), bytes as i64],
    )?;
    Ok(())
}

pub(crate) fn record_attempt(conn: &Connection, sha: &BlobHash, error: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE attachment_uploads SET attempts = attempts + 1, last_error = ?2 WHERE sha256 = ?1",
        params![sha.as_str(), error],
    )?;
    Ok(())
}

pub(crate) fn upload_done(conn: &Connection, sha: &BlobHash) -> Result<()> {
    conn.execute(
        "DELETE FROM attachment_uploads WHERE sha256 = ?1",
        [sha.as_str()],
    )?;
    Ok(())
}

pub(crate) fn pending_count(conn: &Connection) -> Result<usize> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM attachment_uploads", [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

pub(crate) fn clear_all(conn: &Connection) -> Result<()> {
    conn.execute_batch("DELETE FROM attachment_files; DELETE FROM attachment_uploads;")?;
    Ok(())
}
