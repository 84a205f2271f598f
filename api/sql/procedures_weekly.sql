-- Procedures per week (Monday, UTC, of scheduled_start) in [from, to): performed (status <>
-- 'cancelled'), cancelled and emergencies, as v_procedure_volume_weekly but over every category.
SELECT
    CAST(DATE_TRUNC('week', scheduled_start) AS DATE) AS week_start,
    SUM(CASE WHEN status <> 'cancelled' THEN 1 ELSE 0 END) AS procedures,
    SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
    SUM(CASE WHEN status <> 'cancelled' AND is_emergency THEN 1 ELSE 0 END) AS emergencies
FROM rds.surgical_procedures
WHERE robot_id LIKE :robot
    AND scheduled_start >= CAST(:from_ts AS TIMESTAMPTZ) AND scheduled_start < CAST(:to_ts AS TIMESTAMPTZ)
GROUP BY 1
ORDER BY 1
