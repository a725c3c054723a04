-- After the server refuses a change, the edits made after it wait in the outbox, held, until
-- the server's version of their work order arrives; they are then made again on top of it.
ALTER TABLE outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1));

-- Work orders that left this device's scope while they still had unsent changes: dropped as
-- soon as those changes are settled.
CREATE TABLE leaving (
    doc   TEXT PRIMARY KEY NOT NULL,
    since INTEGER NOT NULL
) STRICT;
