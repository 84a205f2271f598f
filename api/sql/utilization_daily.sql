-- Fleet utilization per day (UTC, of actual_start) in [from, to): operating hours of performed
-- procedures, robots that operated, and utilization = hours / (24 h x those robots), the mean of
-- v_robot_utilization_daily's per-robot share over the robots active that day.
SELECT
    CAST(actual_start AS DATE) AS day,
    COUNT(DISTINCT robot_id) AS robots,
    COUNT(*) AS procedures,
    CAST(SUM(DATEDIFF(second, actual_start, actual_end)) AS FLOAT) / 3600 AS operating_hours,
    CAST(SUM(DATEDIFF(second, actual_start, actual_end)) AS FLOAT) / (86400 * COUNT(DISTINCT robot_id)) AS utilization
FROM rds.surgical_procedures
WHERE status <> 'cancelled' AND actual_start IS NOT NULL AND actual_end IS NOT NULL AND robot_id LIKE :robot
    AND actual_start >= CAST(:from_ts AS TIMESTAMPTZ) AND actual_start < CAST(:to_ts AS TIMESTAMPTZ)
GROUP BY 1
ORDER BY 1
