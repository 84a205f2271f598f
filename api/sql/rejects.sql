-- Rejected rows by entity and outcome (admins only): rows rejected inside loaded or partial
-- objects, and whole objects rejected with their reason code (the ledger's error).
SELECT
    COALESCE(entity, '(unknown)') AS entity,
    CASE WHEN status = 'rejected' THEN COALESCE(error, 'rejected') ELSE 'rows rejected in ' || status END AS reason,
    COUNT(*) AS objects,
    SUM(rows_rejected) AS rows_rejected
FROM rds_etl.ingest_ledger
WHERE rows_rejected > 0 OR status = 'rejected'
GROUP BY 1, 2
ORDER BY 1, 2
