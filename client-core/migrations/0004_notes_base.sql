-- For a notes edit, the notes text it started from. When the edit is held after a refusal and
-- made again on the server's version, the person's change of the text (what they added or
-- removed) is applied there, keeping what others wrote meanwhile, instead of the whole text
-- replacing the server's. NULL for other edits, and for notes edits queued before this column.
ALTER TABLE outbox ADD COLUMN notes_before TEXT;
