-- The ingest's own bookkeeping: one ledger row per source object (key + content checksum)
-- and the parked rows that wait for their parent. Staging tables are per-transaction temp
-- tables and need no migration.

CREATE SCHEMA IF NOT EXISTS etl;

CREATE TABLE IF NOT EXISTS etl.ingest_ledger (
    object_key        text NOT NULL,
    content_checksum  text NOT NULL,   -- ETag of a single-part upload, else SHA-256 of the bytes
    version_id        text,            -- S3 version of the first delivery (informational)
    entity            text,            -- NULL when the key names no entity
    src_modified      timestamp with time zone,
    status            text NOT NULL
                          CHECK (status IN ('processing', 'loaded', 'partial', 'rejected', 'failed')),
    rows_in           bigint NOT NULL DEFAULT 0,
    rows_loaded       bigint NOT NULL DEFAULT 0,
    rows_parked       bigint NOT NULL DEFAULT 0,
    rows_rejected     bigint NOT NULL DEFAULT 0,
    attempts          integer NOT NULL DEFAULT 0,
    replays_skipped   integer NOT NULL DEFAULT 0,
    first_seen_at     timestamp with time zone NOT NULL DEFAULT now(),
    started_at        timestamp with time zone,
    finished_at       timestamp with time zone,
    error             text,            -- reason code or exception class; never row content
    PRIMARY KEY (object_key, content_checksum),
    CONSTRAINT rows_add_up CHECK (
        status IN ('processing', 'failed')
        OR rows_in = rows_loaded + rows_parked + rows_rejected
    )
);

CREATE INDEX IF NOT EXISTS ingest_ledger_entity_finished_idx
    ON etl.ingest_ledger (entity, finished_at);

-- A validated, pseudonymized child row whose parent has not been loaded yet. Loaded (and
-- deleted from here) in the transaction that loads the parent.
CREATE TABLE IF NOT EXISTS etl.parked_rows (
    entity         text NOT NULL,
    row_key        text NOT NULL,      -- the child's primary key value
    parent_entity  text NOT NULL,
    parent_key     text NOT NULL,
    row_data       jsonb NOT NULL,     -- stored columns (already pseudonymized)
    src_key        text NOT NULL,
    src_modified   timestamp with time zone NOT NULL,
    parked_at      timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, row_key)
);

CREATE INDEX IF NOT EXISTS parked_rows_parent_idx
    ON etl.parked_rows (parent_entity, parent_key);
