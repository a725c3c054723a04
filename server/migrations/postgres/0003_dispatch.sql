-- What the dispatcher's board and suggestions read without loading documents: the SLA facts of
-- each work order next to its summary, and how many open jobs each technician has (kept by
-- every commit, so that ranking technicians never counts jobs).
-- Rows written before this migration have zero targets until their next change.

ALTER TABLE documents ADD COLUMN response_minutes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN resolution_minutes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN responded_at BIGINT;
ALTER TABLE documents ADD COLUMN resolved_at BIGINT;
-- Set while the resolution clock is paused: when the row was written.
ALTER TABLE documents ADD COLUMN sla_paused_at BIGINT;

CREATE TABLE technician_load (
    user_id    UUID PRIMARY KEY,
    open_jobs  BIGINT NOT NULL
);

INSERT INTO technician_load (user_id, open_jobs)
    SELECT assignee, COUNT(*) FROM documents
    WHERE assignee IS NOT NULL AND status NOT IN ('completed', 'closed', 'cancelled')
    GROUP BY assignee;
