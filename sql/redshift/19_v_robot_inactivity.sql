-- Which robots (not retired) have had no procedure and no telemetry in the last 48 hours?
-- "Now" is GETDATE() (UTC). Last procedure = latest start or end of a performed procedure
-- that has begun; last telemetry = the later of the last raw sample in the last 3 days of
-- partitions (pruned on "date") and the start of the last hourly rollup. Robots never seen
-- have NULL timestamps and NULL hours_inactive.
CREATE OR REPLACE VIEW analytics.v_robot_inactivity AS
WITH last_procedure AS (
    SELECT robot_id, MAX(COALESCE(actual_end, actual_start)) AS last_procedure_at
    FROM rds.surgical_procedures
    WHERE status <> 'cancelled' AND actual_start IS NOT NULL AND actual_start <= GETDATE()
    GROUP BY robot_id
),
recent_telemetry AS (
    SELECT robot_id, MAX("timestamp") AS last_sample_at
    FROM lake.procedure_telemetry
    WHERE "date" >= TO_CHAR(DATEADD(day, -3, GETDATE()), 'YYYY-MM-DD')
    GROUP BY robot_id
),
rolled_telemetry AS (
    SELECT robot_id, MAX(hour) AS last_hour
    FROM lake.telemetry_hourly
    GROUP BY robot_id
),
activity AS (
    SELECT
        r.robot_id,
        r.facility_id,
        r.status,
        lp.last_procedure_at,
        GREATEST(rt.last_sample_at, ro.last_hour) AS last_telemetry_at
    FROM rds.surgical_robots AS r
    LEFT JOIN last_procedure AS lp ON lp.robot_id = r.robot_id
    LEFT JOIN recent_telemetry AS rt ON rt.robot_id = r.robot_id
    LEFT JOIN rolled_telemetry AS ro ON ro.robot_id = r.robot_id
    WHERE r.status <> 'retired'
)
SELECT
    robot_id,
    facility_id,
    status,
    last_procedure_at,
    last_telemetry_at,
    GREATEST(last_procedure_at, last_telemetry_at) AS last_activity_at,
    DATEDIFF(hour, GREATEST(last_procedure_at, last_telemetry_at), GETDATE()) AS hours_inactive
FROM activity
WHERE GREATEST(last_procedure_at, last_telemetry_at) IS NULL
    OR GREATEST(last_procedure_at, last_telemetry_at) < DATEADD(hour, -48, GETDATE())
WITH NO SCHEMA BINDING;
