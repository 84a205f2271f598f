-- Source objects by ledger status (admins only): objects and rows read in each status.
SELECT status, COUNT(*) AS objects, SUM(rows_in) AS rows_in
FROM rds_etl.ingest_ledger
GROUP BY status
ORDER BY status
