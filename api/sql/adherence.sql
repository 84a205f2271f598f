-- Which robots (not retired) need attention as of the data's latest day? as_of = midnight UTC after
-- the latest activity of any robot in scope (activity = start or end of a performed procedure that
-- began, or an hourly telemetry rollup). Per robot: last activity, hours silent before as_of
-- (NULL: never seen), silent when above :silent_hours; utilization = operating hours of performed
-- procedures started in the :days days before as_of / (24 h x :days), under_utilized when below
-- :threshold. Only robots that are silent or under-utilized are returned.
WITH last_procedure AS (
    SELECT robot_id, MAX(COALESCE(actual_end, actual_start)) AS last_procedure_at
    FROM rds.surgical_procedures
    WHERE status <> 'cancelled' AND actual_start IS NOT NULL
    GROUP BY robot_id
),
last_telemetry AS (
    SELECT robot_id, MAX(hour) AS last_telemetry_at
    FROM lake.telemetry_hourly
    GROUP BY robot_id
),
activity AS (
    SELECT
        r.robot_id,
        r.facility_id,
        r.status,
        CASE
            WHEN lt.last_telemetry_at IS NULL THEN lp.last_procedure_at
            WHEN lp.last_procedure_at IS NULL THEN lt.last_telemetry_at
            WHEN lp.last_procedure_at > lt.last_telemetry_at THEN lp.last_procedure_at
            ELSE lt.last_telemetry_at
        END AS last_activity_at
    FROM rds.surgical_robots AS r
    LEFT JOIN last_procedure AS lp ON lp.robot_id = r.robot_id
    LEFT JOIN last_telemetry AS lt ON lt.robot_id = r.robot_id
    WHERE r.status <> 'retired'
),
as_of AS (
    SELECT CAST(DATEADD(day, 1, CAST(MAX(last_activity_at) AS DATE)) AS TIMESTAMPTZ) AS as_of FROM activity
),
usage AS (
    SELECT p.robot_id, SUM(DATEDIFF(second, p.actual_start, p.actual_end)) AS seconds
    FROM rds.surgical_procedures AS p
    CROSS JOIN as_of AS d
    WHERE p.status <> 'cancelled' AND p.actual_start IS NOT NULL AND p.actual_end IS NOT NULL
        AND p.actual_start >= DATEADD(day, -CAST(:days AS INT), d.as_of) AND p.actual_start < d.as_of
    GROUP BY p.robot_id
),
rated AS (
    SELECT
        a.robot_id,
        a.facility_id,
        a.status,
        a.last_activity_at,
        d.as_of,
        CAST(DATEDIFF(second, a.last_activity_at, d.as_of) AS FLOAT) / 3600 AS hours_silent,
        CAST(COALESCE(u.seconds, 0) AS FLOAT) / (86400 * CAST(:days AS INT)) AS utilization
    FROM activity AS a
    CROSS JOIN as_of AS d
    LEFT JOIN usage AS u ON u.robot_id = a.robot_id
)
SELECT
    robot_id,
    facility_id,
    status,
    last_activity_at,
    as_of,
    hours_silent,
    COALESCE(hours_silent > CAST(:silent_hours AS FLOAT), TRUE) AS silent,
    utilization,
    utilization < CAST(:threshold AS FLOAT) AS under_utilized
FROM rated
WHERE COALESCE(hours_silent > CAST(:silent_hours AS FLOAT), TRUE) OR utilization < CAST(:threshold AS FLOAT)
ORDER BY robot_id
