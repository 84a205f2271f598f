-- Does every ingested row add up? Ledger totals per entity and day (of finishing, or first
-- seen while unfinished): objects by status, rows in / loaded / parked / rejected, replays
-- skipped, rows still waiting in etl.parked_rows (by day parked) and rows that do not balance
-- (finished objects whose rows_in <> loaded + parked + rejected: should always be 0).
CREATE OR REPLACE VIEW analytics.v_ingest_reconciliation AS
WITH ledger AS (
    SELECT
        COALESCE(entity, '(unknown)') AS entity,
        CAST(COALESCE(finished_at, first_seen_at) AS DATE) AS day,
        COUNT(*) AS objects,
        SUM(CASE WHEN status = 'loaded' THEN 1 ELSE 0 END) AS objects_loaded,
        SUM(CASE WHEN status = 'partial' THEN 1 ELSE 0 END) AS objects_partial,
        SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS objects_rejected,
        SUM(CASE WHEN status IN ('failed', 'processing') THEN 1 ELSE 0 END) AS objects_unfinished,
        SUM(rows_in) AS rows_in,
        SUM(rows_loaded) AS rows_loaded,
        SUM(rows_parked) AS rows_parked,
        SUM(rows_rejected) AS rows_rejected,
        SUM(replays_skipped) AS replays_skipped,
        SUM(CASE WHEN status IN ('loaded', 'partial', 'rejected')
                 THEN rows_in - rows_loaded - rows_parked - rows_rejected ELSE 0 END) AS unbalanced_rows
    FROM rds_etl.ingest_ledger
    GROUP BY 1, 2
),
parked AS (
    SELECT entity, CAST(parked_at AS DATE) AS day, COUNT(*) AS still_parked, MIN(parked_at) AS oldest_parked_at
    FROM rds_etl.parked_rows
    GROUP BY 1, 2
)
SELECT
    COALESCE(l.entity, p.entity) AS entity,
    COALESCE(l.day, p.day) AS day,
    COALESCE(l.objects, 0) AS objects,
    COALESCE(l.objects_loaded, 0) AS objects_loaded,
    COALESCE(l.objects_partial, 0) AS objects_partial,
    COALESCE(l.objects_rejected, 0) AS objects_rejected,
    COALESCE(l.objects_unfinished, 0) AS objects_unfinished,
    COALESCE(l.rows_in, 0) AS rows_in,
    COALESCE(l.rows_loaded, 0) AS rows_loaded,
    COALESCE(l.rows_parked, 0) AS rows_parked,
    COALESCE(l.rows_rejected, 0) AS rows_rejected,
    COALESCE(l.replays_skipped, 0) AS replays_skipped,
    COALESCE(p.still_parked, 0) AS still_parked,
    p.oldest_parked_at,
    COALESCE(l.unbalanced_rows, 0) AS unbalanced_rows
FROM ledger AS l
FULL OUTER JOIN parked AS p ON p.entity = l.entity AND p.day = l.day
WITH NO SCHEMA BINDING;
