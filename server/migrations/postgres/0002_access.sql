-- Access control and accountability: who was ever assigned each work order (so that a
-- technician can still upload the work done while it was theirs), and the audit trail.
-- The twin of the SQLite backend's second migration.

CREATE TABLE assignments (
    doc        UUID NOT NULL,
    user_id    UUID NOT NULL,
    -- Sequence number of the first commit that assigned it to this user.
    since_seq  BIGINT NOT NULL,
    PRIMARY KEY (doc, user_id)
);

INSERT INTO assignments (doc, user_id, since_seq)
    SELECT id, assignee, updated_seq FROM documents WHERE assignee IS NOT NULL;

-- Append-only: the triggers refuse every update, delete and truncate, whoever asks.
CREATE TABLE audit (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    user_id      UUID,
    username     TEXT,
    device_id    UUID,
    doc          UUID,
    number       TEXT,
    device_time  BIGINT,
    detail       TEXT NOT NULL,
    address      TEXT
);
CREATE INDEX audit_by_doc ON audit (doc, id);
CREATE INDEX audit_by_number ON audit (number, id);
CREATE INDEX audit_by_user ON audit (user_id, id);
CREATE INDEX audit_by_time ON audit (at, id);

CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END
$$;

CREATE TRIGGER audit_refuses_changes BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_is_append_only();

CREATE TRIGGER audit_refuses_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();
