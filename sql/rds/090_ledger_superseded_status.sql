-- Issue 14: `superseded` is a ledger status of its own (lake.contract.LedgerStatus): an older
-- version of a lake (telemetry) key processed after a newer one is recorded before it is read,
-- with zero counts, instead of `loaded` with error 'superseded'. The CHECK lists exactly the
-- contract's statuses (tests/sql/test_rds_migrations.py compares them).
ALTER TABLE etl.ingest_ledger DROP CONSTRAINT IF EXISTS ingest_ledger_status_check;
ALTER TABLE etl.ingest_ledger ADD CONSTRAINT ingest_ledger_status_check
    CHECK (status IN ('processing', 'loaded', 'partial', 'rejected', 'superseded', 'failed'));

-- Rows of earlier versions of the ingest: same meaning, now under its own status.
UPDATE etl.ingest_ledger SET status = 'superseded', error = NULL,
       rows_in = 0, rows_loaded = 0, rows_parked = 0, rows_rejected = 0
 WHERE status = 'loaded' AND error = 'superseded';
