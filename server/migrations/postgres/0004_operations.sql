-- Service operations: the parts stock ledger with safety levels, customer follow-ups, when the
-- server first received each appended entry of a work order, and reviews a dispatcher closed.

-- Append-only ledger; stock on hand is folded from it, never stored. Usages come from work
-- orders' part usage entries and reuse their ids, so they count once however often saved.
CREATE TABLE stock_movements (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL,
    part_number  TEXT NOT NULL,
    location     TEXT NOT NULL,
    to_location  TEXT,
    work_order   UUID,
    quantity     BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    by_user      UUID NOT NULL,
    recorded_at  BIGINT NOT NULL
);
CREATE INDEX stock_movements_by_time ON stock_movements (recorded_at, at);

CREATE TABLE stock_safety (
    location     TEXT NOT NULL,
    part_number  TEXT NOT NULL,
    level        BIGINT NOT NULL,
    PRIMARY KEY (location, part_number)
);

CREATE TABLE follow_ups (
    work_order    UUID PRIMARY KEY,
    due_at        BIGINT NOT NULL,
    satisfaction  SMALLINT,
    nps           SMALLINT,
    comment       TEXT NOT NULL,
    recorded_by   UUID NOT NULL,
    recorded_at   BIGINT NOT NULL
);
CREATE INDEX documents_by_resolved ON documents (resolved_at);

CREATE TABLE entry_receipts (
    doc          UUID NOT NULL,
    entry        UUID NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (doc, entry)
);

CREATE TABLE review_resolutions (
    doc          UUID NOT NULL,
    review_id    TEXT NOT NULL,
    resolved_by  UUID NOT NULL,
    resolved_at  BIGINT NOT NULL,
    note         TEXT NOT NULL,
    PRIMARY KEY (doc, review_id)
);
