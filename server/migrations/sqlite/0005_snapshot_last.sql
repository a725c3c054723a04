-- The snapshot moves to the end of the documents row. SQLite keeps a row's first bytes in the
-- table page and the rest in overflow pages: with the snapshot second, reading a summary column
-- (a board, a scope check) walked the whole snapshot. Now summaries sit in the table page and
-- the snapshot is read only by those who ask for it.
-- Pulls scan by sequence number and scope; their index holds both, so a scan never reads rows.

CREATE TABLE documents_reordered (
    id                  TEXT PRIMARY KEY,
    updated_seq         INTEGER NOT NULL,
    number              TEXT NOT NULL,
    status              TEXT NOT NULL,
    priority            INTEGER NOT NULL,
    customer_name       TEXT NOT NULL,
    tier                TEXT NOT NULL,
    region              TEXT NOT NULL,
    category            TEXT NOT NULL,
    assignee            TEXT,
    created_at          INTEGER NOT NULL,
    response_due        INTEGER NOT NULL,
    resolution_due      INTEGER NOT NULL,
    schedule_start      INTEGER,
    conflicts           INTEGER NOT NULL,
    response_minutes    INTEGER NOT NULL DEFAULT 0,
    resolution_minutes  INTEGER NOT NULL DEFAULT 0,
    responded_at        INTEGER,
    resolved_at         INTEGER,
    sla_paused_at       INTEGER,
    snapshot            BLOB NOT NULL
);

INSERT INTO documents_reordered (id, updated_seq, number, status, priority, customer_name, tier,
        region, category, assignee, created_at, response_due, resolution_due, schedule_start,
        conflicts, response_minutes, resolution_minutes, responded_at, resolved_at,
        sla_paused_at, snapshot)
    SELECT id, updated_seq, number, status, priority, customer_name, tier, region, category,
        assignee, created_at, response_due, resolution_due, schedule_start, conflicts,
        response_minutes, resolution_minutes, responded_at, resolved_at, sla_paused_at, snapshot
    FROM documents;

DROP TABLE documents;
ALTER TABLE documents_reordered RENAME TO documents;

CREATE INDEX documents_for_pull ON documents (updated_seq, assignee, id);
CREATE INDEX documents_by_assignee ON documents (assignee, updated_seq);
CREATE INDEX documents_by_priority ON documents (priority, resolution_due);
CREATE INDEX documents_by_resolved ON documents (resolved_at);
