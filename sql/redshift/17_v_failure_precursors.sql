-- Does telemetry drift before a failure? For each unscheduled or emergency maintenance, the
-- robot's hourly telemetry in the 3 days before it started (precursor window) against the
-- 30 days before that window (baseline): sample-weighted motor temperature and latency,
-- errors per 1,000 samples, and the anomalies flagged inside the precursor window. Imputed
-- hourly rows (filled gaps) are not measurements and are left out.
CREATE OR REPLACE VIEW analytics.v_failure_precursors AS
WITH failures AS (
    SELECT maintenance_id, robot_id, maintenance_type, failure_mode, started_at
    FROM rds.robot_maintenance_logs
    WHERE maintenance_type IN ('unscheduled', 'emergency')
),
windows AS (
    SELECT
        f.maintenance_id,
        CASE WHEN h.hour >= DATEADD(day, -3, f.started_at) THEN 'precursor' ELSE 'baseline' END AS period,
        SUM(h.sample_count) AS samples,
        SUM(h.motor_temp_c_avg * h.sample_count) AS motor_temp_sum,
        SUM(h.latency_ms_avg * h.sample_count) AS latency_sum,
        SUM(h.error_count) AS errors
    FROM failures AS f
    JOIN lake.telemetry_hourly AS h
        ON h.robot_id = f.robot_id
        AND h.hour >= DATEADD(day, -33, f.started_at)
        AND h.hour < f.started_at
        AND NOT h.is_imputed
    GROUP BY 1, 2
),
flagged AS (
    SELECT f.maintenance_id, COUNT(*) AS anomalies
    FROM failures AS f
    JOIN lake.telemetry_anomalies AS a
        ON a.robot_id = f.robot_id
        AND a.hour >= DATEADD(day, -3, f.started_at)
        AND a.hour < f.started_at
    GROUP BY 1
),
pivoted AS (
    SELECT
        maintenance_id,
        SUM(CASE WHEN period = 'precursor' THEN samples END) AS precursor_samples,
        SUM(CASE WHEN period = 'precursor' THEN motor_temp_sum END)
            / SUM(CASE WHEN period = 'precursor' THEN samples END) AS precursor_motor_temp_avg,
        SUM(CASE WHEN period = 'precursor' THEN latency_sum END)
            / SUM(CASE WHEN period = 'precursor' THEN samples END) AS precursor_latency_ms_avg,
        CAST(SUM(CASE WHEN period = 'precursor' THEN errors END) AS FLOAT) * 1000
            / SUM(CASE WHEN period = 'precursor' THEN samples END) AS precursor_errors_per_1k,
        SUM(CASE WHEN period = 'baseline' THEN samples END) AS baseline_samples,
        SUM(CASE WHEN period = 'baseline' THEN motor_temp_sum END)
            / SUM(CASE WHEN period = 'baseline' THEN samples END) AS baseline_motor_temp_avg,
        SUM(CASE WHEN period = 'baseline' THEN latency_sum END)
            / SUM(CASE WHEN period = 'baseline' THEN samples END) AS baseline_latency_ms_avg,
        CAST(SUM(CASE WHEN period = 'baseline' THEN errors END) AS FLOAT) * 1000
            / SUM(CASE WHEN period = 'baseline' THEN samples END) AS baseline_errors_per_1k
    FROM windows
    GROUP BY 1
)
SELECT
    f.maintenance_id,
    f.robot_id,
    f.maintenance_type,
    f.failure_mode,
    f.started_at,
    COALESCE(p.precursor_samples, 0) AS precursor_samples,
    p.precursor_motor_temp_avg,
    p.baseline_motor_temp_avg,
    p.precursor_motor_temp_avg - p.baseline_motor_temp_avg AS motor_temp_delta,
    p.precursor_latency_ms_avg,
    p.baseline_latency_ms_avg,
    p.precursor_latency_ms_avg - p.baseline_latency_ms_avg AS latency_ms_delta,
    p.precursor_errors_per_1k,
    p.baseline_errors_per_1k,
    COALESCE(p.baseline_samples, 0) AS baseline_samples,
    COALESCE(a.anomalies, 0) AS precursor_anomalies
FROM failures AS f
LEFT JOIN pivoted AS p ON p.maintenance_id = f.maintenance_id
LEFT JOIN flagged AS a ON a.maintenance_id = f.maintenance_id
WITH NO SCHEMA BINDING;
