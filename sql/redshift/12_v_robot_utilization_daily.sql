-- How many procedures and operating hours does each robot perform per day?
-- Performed procedures with an actual start and end, attributed to the UTC day of their
-- start; utilization is operating hours over the 24 hours of that day.
CREATE OR REPLACE VIEW analytics.v_robot_utilization_daily AS
SELECT
    p.robot_id,
    r.facility_id,
    CAST(p.actual_start AS DATE) AS day,
    COUNT(*) AS procedures,
    CAST(SUM(DATEDIFF(second, p.actual_start, p.actual_end)) AS FLOAT) / 3600 AS operating_hours,
    CAST(SUM(DATEDIFF(second, p.actual_start, p.actual_end)) AS FLOAT) / 86400 AS utilization,
    MIN(p.actual_start) AS first_start,
    MAX(p.actual_end) AS last_end
FROM rds.surgical_procedures AS p
JOIN rds.surgical_robots AS r ON r.robot_id = p.robot_id
WHERE p.status <> 'cancelled' AND p.actual_start IS NOT NULL AND p.actual_end IS NOT NULL
GROUP BY p.robot_id, r.facility_id, CAST(p.actual_start AS DATE)
WITH NO SCHEMA BINDING;
