-- Attachment blobs this device holds, each a file named by its SHA-256 under attachments/,
-- written and synced before its row.
CREATE TABLE attachment_files (
    sha256    TEXT PRIMARY KEY NOT NULL,
    size      INTEGER NOT NULL,
    stored_at INTEGER NOT NULL
) STRICT;

-- Blobs waiting to be uploaded. A row leaves only when the server says the blob is stored;
-- where an interrupted upload resumes is asked of the server.
CREATE TABLE attachment_uploads (
    sha256     TEXT PRIMARY KEY NOT NULL,
    size       INTEGER NOT NULL,
    queued_at  INTEGER NOT NULL,
    -- Bytes sent in all, over every attempt (resumed uploads send only what is missing).
    sent_bytes INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
) STRICT;
