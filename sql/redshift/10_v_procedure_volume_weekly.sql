-- How many procedures does each facility perform per week in each category, what is the
-- 4-week moving average and how did the count change from the previous week?
-- Performed = status completed or converted (cancelled bookings are counted apart). Weeks
-- start on Monday (UTC) of scheduled_start. A week without procedures has no row; the moving
-- average counts such weeks as zero (sum of the last 4 calendar weeks / 4) and the
-- week-over-week change compares with 0 when the previous week has no row.
CREATE OR REPLACE VIEW analytics.v_procedure_volume_weekly AS
WITH weekly AS (
    SELECT
        facility_id,
        procedure_category,
        CAST(DATE_TRUNC('week', scheduled_start) AS DATE) AS week_start,
        SUM(CASE WHEN status <> 'cancelled' THEN 1 ELSE 0 END) AS procedures,
        SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
        SUM(CASE WHEN status <> 'cancelled' AND is_emergency THEN 1 ELSE 0 END) AS emergencies
    FROM rds.surgical_procedures
    GROUP BY 1, 2, 3
)
SELECT
    w.facility_id,
    w.procedure_category,
    w.week_start,
    w.procedures,
    w.cancelled,
    w.emergencies,
    CAST(SUM(h.procedures) AS FLOAT) / 4 AS procedures_4wk_avg,
    w.procedures - COALESCE(MAX(CASE WHEN h.week_start = DATEADD(day, -7, w.week_start)
                                     THEN h.procedures END), 0) AS wow_change
FROM weekly AS w
JOIN weekly AS h
    ON h.facility_id = w.facility_id
    AND h.procedure_category = w.procedure_category
    AND h.week_start BETWEEN DATEADD(day, -21, w.week_start) AND w.week_start
GROUP BY w.facility_id, w.procedure_category, w.week_start, w.procedures, w.cancelled, w.emergencies
WITH NO SCHEMA BINDING;
