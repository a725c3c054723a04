-- Service operations: the parts stock ledger with safety levels, customer follow-ups, when the
-- server first received each appended entry of a work order, and reviews a dispatcher closed.

-- Append-only ledger; stock on hand is folded from it, never stored. Usages come from work
-- orders' part usage entries and reuse their ids, so they count once however often saved.
CREATE TABLE stock_movements (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    part_number  TEXT NOT NULL,
    location     TEXT NOT NULL,
    to_location  TEXT,
    work_order   TEXT,
    quantity     INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    by_user      TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stock_movements_by_time ON stock_movements (recorded_at, at);

CREATE TABLE stock_safety (
    location     TEXT NOT NULL,
    part_number  TEXT NOT NULL,
    level        INTEGER NOT NULL,
    PRIMARY KEY (location, part_number)
) WITHOUT ROWID;

CREATE TABLE follow_ups (
    work_order    TEXT PRIMARY KEY,
    due_at        INTEGER NOT NULL,
    satisfaction  INTEGER,
    nps           INTEGER,
    comment       TEXT NOT NULL,
    recorded_by   TEXT NOT NULL,
    recorded_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX documents_by_resolved ON documents (resolved_at);

CREATE TABLE entry_receipts (
    doc          TEXT NOT NULL,
    entry        TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (doc, entry)
) WITHOUT ROWID;

CREATE TABLE review_resolutions (
    doc          TEXT NOT NULL,
    review_id    TEXT NOT NULL,
    resolved_by  TEXT NOT NULL,
    resolved_at  INTEGER NOT NULL,
    note         TEXT NOT NULL,
    PRIMARY KEY (doc, review_id)
) WITHOUT ROWID;
