-- Which robots (not retired) have had no procedure and no telemetry for more than
-- {{INACTIVITY_HOURS}} hours (the `inactivity_hours` setting, 48 by default) before analytics.as_of?
-- Last procedure = latest start or end, up to as_of, of a performed procedure that began by
-- then; last telemetry = the start of the robot's last measured hourly rollup up to as_of
-- (imputed gap rows and gap rows without a sample are not telemetry). Robots never seen have
-- NULL timestamps and NULL hours_inactive.
CREATE OR REPLACE VIEW analytics.v_robot_inactivity AS
WITH last_procedure AS (
    SELECT p.robot_id, MAX(LEAST(COALESCE(p.actual_end, p.actual_start), n.as_of)) AS last_procedure_at
    FROM rds.surgical_procedures AS p
    CROSS JOIN analytics.as_of AS n
    WHERE p.status <> 'cancelled' AND p.actual_start IS NOT NULL AND p.actual_start <= n.as_of
    GROUP BY p.robot_id
),
last_telemetry AS (
    SELECT h.robot_id, MAX(h.hour) AS last_telemetry_at
    FROM lake.telemetry_hourly AS h
    CROSS JOIN analytics.as_of AS n
    WHERE NOT h.is_imputed AND h.sample_count > 0 AND h.hour <= n.as_of
    GROUP BY h.robot_id
),
activity AS (
    SELECT
        r.robot_id,
        r.facility_id,
        r.status,
        lp.last_procedure_at,
        lt.last_telemetry_at,
        GREATEST(lp.last_procedure_at, lt.last_telemetry_at) AS last_activity_at
    FROM rds.surgical_robots AS r
    LEFT JOIN last_procedure AS lp ON lp.robot_id = r.robot_id
    LEFT JOIN last_telemetry AS lt ON lt.robot_id = r.robot_id
    WHERE r.status <> 'retired'
)
SELECT
    a.robot_id,
    a.facility_id,
    a.status,
    a.last_procedure_at,
    a.last_telemetry_at,
    a.last_activity_at,
    DATEDIFF(hour, a.last_activity_at, n.as_of) AS hours_inactive
FROM activity AS a
CROSS JOIN analytics.as_of AS n
WHERE a.last_activity_at IS NULL
    OR a.last_activity_at < DATEADD(hour, -{{INACTIVITY_HOURS}}, n.as_of)
WITH NO SCHEMA BINDING;
