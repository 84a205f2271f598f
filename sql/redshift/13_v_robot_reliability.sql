-- How reliable is each robot: mean time between failures, mean time to repair, unscheduled
-- events, downtime, service cost and days since its last service?
-- Failures = maintenance of type unscheduled or emergency. MTBF = mean gap in hours between
-- the starts of consecutive failures (NULL below two failures); MTTR = mean hours from start
-- to completion of completed failures; downtime and cost over all maintenance types;
-- procedure_hours_per_failure = performed procedure hours / failures. Robots without any
-- maintenance appear with zero counts. Days since last service count to analytics.as_of.
CREATE OR REPLACE VIEW analytics.v_robot_reliability AS
WITH failures AS (
    SELECT
        robot_id,
        started_at,
        completed_at,
        DATEDIFF(second, LAG(started_at) OVER (PARTITION BY robot_id ORDER BY started_at), started_at)
            AS gap_seconds
    FROM rds.robot_maintenance_logs
    WHERE maintenance_type IN ('unscheduled', 'emergency')
),
failure_stats AS (
    SELECT
        robot_id,
        COUNT(*) AS failures,
        AVG(CAST(gap_seconds AS FLOAT)) / 3600 AS mtbf_hours,
        AVG(CAST(DATEDIFF(second, started_at, completed_at) AS FLOAT)) / 3600 AS mttr_hours
    FROM failures
    GROUP BY robot_id
),
service AS (
    SELECT
        robot_id,
        COUNT(*) AS maintenance_events,
        SUM(downtime_hours) AS downtime_hours,
        SUM(cost_usd) AS cost_usd,
        MAX(started_at) AS last_service_at
    FROM rds.robot_maintenance_logs
    GROUP BY robot_id
),
procedure_time AS (
    SELECT robot_id, CAST(SUM(DATEDIFF(second, actual_start, actual_end)) AS FLOAT) / 3600 AS procedure_hours
    FROM rds.surgical_procedures
    WHERE status <> 'cancelled' AND actual_start IS NOT NULL AND actual_end IS NOT NULL
    GROUP BY robot_id
)
SELECT
    r.robot_id,
    r.facility_id,
    r.model,
    r.status,
    COALESCE(s.maintenance_events, 0) AS maintenance_events,
    COALESCE(f.failures, 0) AS unscheduled_events,
    f.mtbf_hours,
    f.mttr_hours,
    COALESCE(s.downtime_hours, 0) AS downtime_hours,
    COALESCE(s.cost_usd, 0) AS cost_usd,
    COALESCE(u.procedure_hours, 0) AS procedure_hours,
    u.procedure_hours / NULLIF(f.failures, 0) AS procedure_hours_per_failure,
    s.last_service_at,
    DATEDIFF(day, s.last_service_at, n.as_of) AS days_since_last_service
FROM rds.surgical_robots AS r
CROSS JOIN analytics.as_of AS n
LEFT JOIN failure_stats AS f ON f.robot_id = r.robot_id
LEFT JOIN service AS s ON s.robot_id = r.robot_id
LEFT JOIN procedure_time AS u ON u.robot_id = r.robot_id
WITH NO SCHEMA BINDING;
