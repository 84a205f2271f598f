-- How healthy is each robot's telemetry per day, against its 7-day moving average?
-- From the measured hourly rollups (imputed rows never count): samples, sample-weighted mean
-- motor temperature and latency, the worst hourly p95 latency, errors per 1,000 samples,
-- anomalies flagged that day and robot-arm-hours flagged as sample gaps. The 7-day figures
-- pool the day and the 6 calendar days before it (days without telemetry add nothing).
CREATE OR REPLACE VIEW analytics.v_telemetry_health_daily AS
WITH daily AS (
    SELECT
        robot_id,
        CAST("date" AS DATE) AS day,
        SUM(sample_count) AS samples,
        SUM(motor_temp_c_avg * sample_count) AS motor_temp_sum,
        MAX(motor_temp_c_max) AS motor_temp_max,
        SUM(latency_ms_avg * sample_count) AS latency_sum,
        MAX(latency_ms_p95) AS latency_p95_max,
        SUM(error_count) AS errors
    FROM lake.telemetry_hourly
    WHERE NOT is_imputed AND sample_count > 0
    GROUP BY 1, 2
),
gaps AS (
    SELECT robot_id, CAST("date" AS DATE) AS day, COUNT(*) AS gap_arm_hours
    FROM lake.telemetry_hourly
    WHERE sample_gap
    GROUP BY 1, 2
),
anomalies AS (
    SELECT robot_id, CAST("date" AS DATE) AS day, COUNT(*) AS anomalies
    FROM lake.telemetry_anomalies
    GROUP BY 1, 2
)
SELECT
    d.robot_id,
    d.day,
    d.samples,
    d.motor_temp_sum / d.samples AS motor_temp_avg,
    d.motor_temp_max,
    d.latency_sum / d.samples AS latency_ms_avg,
    d.latency_p95_max AS latency_ms_p95_max,
    d.errors,
    CAST(d.errors AS FLOAT) * 1000 / d.samples AS errors_per_1k,
    COALESCE(a.anomalies, 0) AS anomalies,
    COALESCE(g.gap_arm_hours, 0) AS gap_arm_hours,
    SUM(w.motor_temp_sum) / SUM(w.samples) AS motor_temp_avg_7d,
    SUM(w.latency_sum) / SUM(w.samples) AS latency_ms_avg_7d,
    CAST(SUM(w.errors) AS FLOAT) * 1000 / SUM(w.samples) AS errors_per_1k_7d
FROM daily AS d
JOIN daily AS w ON w.robot_id = d.robot_id AND w.day BETWEEN DATEADD(day, -6, d.day) AND d.day
LEFT JOIN anomalies AS a ON a.robot_id = d.robot_id AND a.day = d.day
LEFT JOIN gaps AS g ON g.robot_id = d.robot_id AND g.day = d.day
GROUP BY d.robot_id, d.day, d.samples, d.motor_temp_sum, d.motor_temp_max, d.latency_sum,
    d.latency_p95_max, d.errors, a.anomalies, g.gap_arm_hours
WITH NO SCHEMA BINDING;
