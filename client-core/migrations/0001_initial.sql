-- The device store: documents as Automerge chunks, the outbox of unacknowledged local changes,
-- what the server refused, the work order index for fast lists, and a little metadata.

-- Session (including the token), device id, sync cursor, and whose data this store holds.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Each work order document is the concatenation of its chunks in `seq` order: snapshots
-- (full saves) and single raw changes, all readable by Automerge's incremental loading.
CREATE TABLE doc_chunks (
    doc   TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (doc, seq)
) STRICT;

-- Local changes not yet acknowledged by the server, oldest first.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc        TEXT NOT NULL,
    hash       TEXT NOT NULL,
    change     BLOB NOT NULL,
    edit       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (doc, hash)
) STRICT;
CREATE INDEX outbox_by_doc ON outbox (doc, id);

-- Local changes the server refused: kept so that nothing disappears without a trace.
CREATE TABLE rejected_changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    doc     TEXT NOT NULL,
    number  TEXT NOT NULL,
    hash    TEXT NOT NULL,
    edit    TEXT NOT NULL,
    code    TEXT NOT NULL,
    message TEXT NOT NULL,
    at      INTEGER NOT NULL
) STRICT;

-- One row per stored work order, refreshed in the same transaction as every document write,
-- so that lists never load documents.
CREATE TABLE work_orders (
    id             TEXT PRIMARY KEY NOT NULL,
    number         TEXT NOT NULL,
    status         TEXT NOT NULL,
    open           INTEGER NOT NULL CHECK (open IN (0, 1)),
    priority       INTEGER NOT NULL,
    customer_name  TEXT NOT NULL,
    tier           TEXT NOT NULL,
    region         TEXT NOT NULL,
    category       TEXT NOT NULL,
    assignee       TEXT,
    created_at     INTEGER NOT NULL,
    response_due   INTEGER NOT NULL,
    resolution_due INTEGER NOT NULL,
    schedule_start INTEGER,
    conflicts      INTEGER NOT NULL
) STRICT;
CREATE INDEX work_orders_my_open ON work_orders (assignee, open, priority, resolution_due);
CREATE INDEX work_orders_open_priority ON work_orders (open, priority, resolution_due);
CREATE INDEX work_orders_number ON work_orders (number);

-- Documents to fetch whole from the server on the next sync (after a rejection, or when
-- received changes could not be applied).
CREATE TABLE resync (
    doc    TEXT PRIMARY KEY NOT NULL,
    reason TEXT NOT NULL,
    since  INTEGER NOT NULL
) STRICT;
