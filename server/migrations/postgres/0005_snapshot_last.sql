-- Pulls scan by sequence number and scope: their index holds both, so a scan reads no rows.
-- (PostgreSQL keeps large snapshots out of line already; SQLite's migration 5 also moves the
-- snapshot to the end of the row.)

CREATE INDEX documents_for_pull ON documents (updated_seq, assignee, id);
DROP INDEX documents_by_seq;
