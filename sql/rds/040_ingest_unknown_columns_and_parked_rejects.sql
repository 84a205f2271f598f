-- Issue 11: what the ingest learns about an object beyond its counts, and parked rows that
-- could not move into their table when their parent arrived.
--
-- unknown_columns: the NAMES (never the values) of CSV header cells / JSON keys the contract
--   does not know, so a producer's schema change is noticed (at most 100, each at most 128
--   characters).
-- error_detail: what a whole-object reason or a failure needs to be acted on (the size limit
--   for too_large, the missing columns, an exception class); never row content.
ALTER TABLE etl.ingest_ledger
    ADD COLUMN IF NOT EXISTS unknown_columns text[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS error_detail text;

-- A parked row the database refused when its parent arrived (parked by an older version of
-- the ingest whose contract lacked a rule): moved here with its reason instead of aborting
-- the parent's load. Same pseudonymized row_data as etl.parked_rows.
CREATE TABLE IF NOT EXISTS etl.parked_rejects (
    entity         text NOT NULL,
    row_key        text NOT NULL,
    parent_entity  text NOT NULL,
    parent_key     text NOT NULL,
    row_data       jsonb NOT NULL,
    src_key        text NOT NULL,
    src_modified   timestamp with time zone NOT NULL,
    parked_at      timestamp with time zone NOT NULL,
    reason         text NOT NULL,      -- a row reason of lake/contract.py REASONS
    detail         text,               -- the constraint the database named
    rejected_by    text NOT NULL,      -- the object whose load tried to move it
    rejected_at    timestamp with time zone NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS parked_rejects_entity_rejected_idx
    ON etl.parked_rejects (entity, rejected_at);
