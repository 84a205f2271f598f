-- How did each robot behave hour by hour (measured arms pooled)? Sample-weighted means of the
-- hourly averages, the worst arm's maximum and p95, summed errors, and how many of the pooled
-- arms were sparse (sample_gap). Imputed rows (filled gaps) and gap rows without a sample are
-- left out: they are not measurements (telemetry_hourly keeps them, flagged). Query it with a
-- predicate on "date" so Athena reads only those partitions of telemetry_hourly.
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
    SUM(error_count) AS error_count,
    SUM(CASE WHEN sample_gap THEN 1 ELSE 0 END) AS gap_arms
FROM telemetry_hourly
WHERE NOT is_imputed AND sample_count > 0
GROUP BY "date", robot_id, hour
