-- Access control and accountability: who was ever assigned each work order (so that a
-- technician can still upload the work done while it was theirs), and the audit trail.

CREATE TABLE assignments (
    doc        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    -- Sequence number of the first commit that assigned it to this user.
    since_seq  INTEGER NOT NULL,
    PRIMARY KEY (doc, user_id)
) WITHOUT ROWID;

INSERT INTO assignments (doc, user_id, since_seq)
    SELECT id, assignee, updated_seq FROM documents WHERE assignee IS NOT NULL;

-- Append-only: the triggers refuse every update and delete, whoever asks.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    user_id      TEXT,
    username     TEXT,
    device_id    TEXT,
    doc          TEXT,
    number       TEXT,
    device_time  INTEGER,
    detail       TEXT NOT NULL,
    address      TEXT
);
CREATE INDEX audit_by_doc ON audit (doc, id);
CREATE INDEX audit_by_number ON audit (number, id);
CREATE INDEX audit_by_user ON audit (user_id, id);
CREATE INDEX audit_by_time ON audit (at, id);

CREATE TRIGGER audit_refuses_updates BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TRIGGER audit_refuses_deletes BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
