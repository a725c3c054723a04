-- Users, devices and sessions; work order documents with their change log and summaries;
-- what each device has received; the parts catalogue.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- Technician profile; empty for office roles.
    skills        TEXT NOT NULL DEFAULT '[]',
    region        TEXT NOT NULL DEFAULT '',
    latitude      REAL NOT NULL DEFAULT 0,
    longitude     REAL NOT NULL DEFAULT 0,
    senior        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX devices_by_user ON devices (user_id);

-- Bearer tokens, kept only as their SHA-256.
CREATE TABLE tokens (
    hash        BLOB PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    device_id   TEXT NOT NULL REFERENCES devices (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) WITHOUT ROWID;

-- The global change sequence: bumped once per committed document update.
CREATE TABLE sequence (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO sequence (id, value) VALUES (1, 0);

-- One row per work order: the compacted document and its summary for lists and scopes.
CREATE TABLE documents (
    id              TEXT PRIMARY KEY,
    snapshot        BLOB NOT NULL,
    updated_seq     INTEGER NOT NULL,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    customer_name   TEXT NOT NULL,
    tier            TEXT NOT NULL,
    region          TEXT NOT NULL,
    category        TEXT NOT NULL,
    assignee        TEXT,
    created_at      INTEGER NOT NULL,
    response_due    INTEGER NOT NULL,
    resolution_due  INTEGER NOT NULL,
    schedule_start  INTEGER,
    conflicts       INTEGER NOT NULL
);
CREATE INDEX documents_by_seq ON documents (updated_seq);
CREATE INDEX documents_by_assignee ON documents (assignee, updated_seq);
CREATE INDEX documents_by_priority ON documents (priority, resolution_due);

-- Every change the server accepted, with who sent it (NULL: made by the server itself) and
-- the sequence number of the commit that stored it.
CREATE TABLE changes (
    doc            TEXT NOT NULL REFERENCES documents (id),
    hash           BLOB NOT NULL,
    seq            INTEGER NOT NULL,
    origin_device  TEXT,
    received_at    INTEGER NOT NULL,
    bytes          BLOB NOT NULL,
    PRIMARY KEY (doc, hash)
);
CREATE INDEX changes_by_doc_seq ON changes (doc, seq);

-- Documents sent to each device: `sent_seq` is the document's sequence number when it was
-- sent (the device has it for sure once its cursor reaches that), `removed` whether what was
-- sent was a removal.
CREATE TABLE device_docs (
    device    TEXT NOT NULL,
    doc       TEXT NOT NULL,
    sent_seq  INTEGER NOT NULL,
    removed   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, doc)
) WITHOUT ROWID;

CREATE TABLE parts (
    part_number       TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    category          TEXT NOT NULL,
    unit_price_cents  INTEGER NOT NULL,
    safety_stock      INTEGER NOT NULL
);
