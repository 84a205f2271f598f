-- How did each robot behave hour by hour (all arms pooled)? Sample-weighted means of the
-- hourly averages, the worst arm's maximum and p95, summed errors. Query it with a predicate
-- on "date" so Athena reads only those partitions of telemetry_hourly.
CREATE OR REPLACE VIEW v_robot_hourly AS
SELECT
    "date",
    robot_id,
    hour,
    COUNT(*) AS arms,
    SUM(sample_count) AS samples,
    SUM(force_newtons_avg * sample_count) / SUM(sample_count) AS force_newtons_avg,
    MAX(force_newtons_max) AS force_newtons_max,
    SUM(motor_temp_c_avg * sample_count) / SUM(sample_count) AS motor_temp_c_avg,
    MAX(motor_temp_c_max) AS motor_temp_c_max,
    SUM(latency_ms_avg * sample_count) / SUM(sample_count) AS latency_ms_avg,
    MAX(latency_ms_p95) AS latency_ms_p95_max,
    SUM(error_count) AS error_count
FROM telemetry_hourly
GROUP BY "date", robot_id, hour
