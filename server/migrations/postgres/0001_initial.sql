-- Users, devices and sessions; work order documents with their change log and summaries;
-- what each device has received; the parts catalogue; the log of commit notices.
-- The same tables as the SQLite backend's first migration, in PostgreSQL's types.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- Technician profile; empty for office roles.
    skills        TEXT[] NOT NULL DEFAULT '{}',
    region        TEXT NOT NULL DEFAULT '',
    latitude      DOUBLE PRECISION NOT NULL DEFAULT 0,
    longitude     DOUBLE PRECISION NOT NULL DEFAULT 0,
    senior        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);
-- Usernames are unique without regard to case (they are ASCII, so lower() is exact).
CREATE UNIQUE INDEX users_by_username ON users (lower(username));

CREATE TABLE devices (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX devices_by_user ON devices (user_id);

-- Bearer tokens, kept only as their SHA-256.
CREATE TABLE tokens (
    hash        BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id),
    device_id   UUID NOT NULL REFERENCES devices (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- The global change sequence: bumped once per committed document update. The row's lock,
-- held from the bump to the end of the transaction, puts commits in sequence order.
CREATE TABLE sequence (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO sequence (id, value) VALUES (1, 0);

-- One row per work order: the compacted document and its summary for lists and scopes.
CREATE TABLE documents (
    id              UUID PRIMARY KEY,
    snapshot        BYTEA NOT NULL,
    updated_seq     BIGINT NOT NULL,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    customer_name   TEXT NOT NULL,
    tier            TEXT NOT NULL,
    region          TEXT NOT NULL,
    category        TEXT NOT NULL,
    assignee        UUID,
    created_at      BIGINT NOT NULL,
    response_due    BIGINT NOT NULL,
    resolution_due  BIGINT NOT NULL,
    schedule_start  BIGINT,
    conflicts       INTEGER NOT NULL
);
CREATE INDEX documents_by_seq ON documents (updated_seq);
CREATE INDEX documents_by_assignee ON documents (assignee, updated_seq);
CREATE INDEX documents_by_priority ON documents (priority, resolution_due);

-- Every change the server accepted, with who sent it (NULL: made by the server itself), the
-- sequence number of the commit that stored it and its place within that commit.
CREATE TABLE changes (
    doc            UUID NOT NULL REFERENCES documents (id),
    hash           BYTEA NOT NULL,
    seq            BIGINT NOT NULL,
    position       INTEGER NOT NULL,
    origin_device  UUID,
    received_at    BIGINT NOT NULL,
    bytes          BYTEA NOT NULL,
    PRIMARY KEY (doc, hash)
);
CREATE INDEX changes_by_doc_seq ON changes (doc, seq, position);

-- Documents sent to each device: `sent_seq` is the document's sequence number when it was
-- sent (the device has it for sure once its cursor reaches that), `removed` whether what was
-- sent was a removal.
CREATE TABLE device_docs (
    device    UUID NOT NULL,
    doc       UUID NOT NULL,
    sent_seq  BIGINT NOT NULL,
    removed   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (device, doc)
);

CREATE TABLE parts (
    part_number       TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    category          TEXT NOT NULL,
    unit_price_cents  BIGINT NOT NULL,
    safety_stock      BIGINT NOT NULL
);

-- One row per committed update, as announced with NOTIFY: a server instance whose listening
-- connection dropped reads what it missed from here when it reconnects.
CREATE TABLE commit_notices (
    seq                BIGINT PRIMARY KEY,
    doc                UUID NOT NULL,
    assignee           UUID,
    previous_assignee  UUID
);
