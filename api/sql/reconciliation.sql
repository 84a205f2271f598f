-- Where did every row read go, per entity? From the ingest ledger (admins only: it has no facility):
-- loaded on arrival (rows_loaded), loaded after their parent arrived (parked when processed, no
-- longer in etl.parked_rows), still parked (waiting in etl.parked_rows, at most what was parked),
-- rejected (quarantined with a reason). rows_in = the sum of the four.
WITH ledger AS (
    SELECT
        COALESCE(entity, '(unknown)') AS entity,
        COUNT(*) AS objects,
        SUM(rows_in) AS rows_in,
        SUM(rows_loaded) AS loaded,
        SUM(rows_parked) AS parked,
        SUM(rows_rejected) AS rejected
    FROM rds_etl.ingest_ledger
    GROUP BY 1
),
waiting AS (
    SELECT entity, COUNT(*) AS rows_waiting FROM rds_etl.parked_rows GROUP BY 1
),
split AS (
    SELECT
        l.entity, l.objects, l.rows_in, l.loaded, l.parked, l.rejected,
        CASE WHEN COALESCE(w.rows_waiting, 0) < l.parked THEN COALESCE(w.rows_waiting, 0) ELSE l.parked END
            AS still_parked
    FROM ledger AS l
    LEFT JOIN waiting AS w ON w.entity = l.entity
)
SELECT
    entity,
    objects,
    rows_in,
    loaded AS loaded_on_arrival,
    parked - still_parked AS loaded_after_parent,
    still_parked,
    rejected
FROM split
ORDER BY entity
