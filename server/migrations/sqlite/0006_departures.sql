-- Each assignment records the commit that ended it (NULL while it lasts). A technician's pull
-- looks for work orders to take off their devices among the assignments that ended, instead of
-- among everything every device changed since the cursor: its work grows with the technician's
-- own jobs, not with the fleet's traffic.
ALTER TABLE assignments ADD COLUMN left_seq INTEGER;

UPDATE assignments
SET left_seq = COALESCE(
    (SELECT d.updated_seq FROM documents d WHERE d.id = assignments.doc), 0)
WHERE NOT EXISTS (
    SELECT 1 FROM documents d WHERE d.id = assignments.doc AND d.assignee = assignments.user_id);

CREATE INDEX assignments_ended ON assignments (user_id, doc) WHERE left_seq IS NOT NULL;

-- A technician's own documents changed after the cursor, read from the index alone.
DROP INDEX documents_by_assignee;
CREATE INDEX documents_by_assignee ON documents (assignee, updated_seq, id);
