-- The Parquet files the ingest wrote for each lake source key, so a changed object under the
-- same key replaces exactly its previous files (also in partitions the new version no longer
-- touches), and an older version processed late does not overwrite a newer one.

CREATE TABLE IF NOT EXISTS etl.lake_files (
    path              text PRIMARY KEY,      -- key in the processed bucket
    object_key        text NOT NULL,         -- source key in the raw bucket
    content_checksum  text NOT NULL,
    src_modified      timestamp with time zone NOT NULL,
    partition_values  text[] NOT NULL,       -- e.g. {2024-01-02, ROBOT-0001}
    row_count         bigint NOT NULL,
    written_at        timestamp with time zone NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS lake_files_object_key_idx ON etl.lake_files (object_key);
