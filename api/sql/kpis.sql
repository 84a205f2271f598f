-- Fleet KPIs over the token's facilities (narrowed by facility_id), one robot or all, in [from, to).
-- procedures: performed (status <> 'cancelled') by scheduled_start, as v_procedure_volume_weekly;
-- success / complication rate: over the performed procedures that have an outcome;
-- utilization: operating hours / 24 h per robot-day with a procedure, by actual_start, as
-- v_robot_utilization_daily (the mean share of the day a robot operated, on days it operated);
-- robots / robots_in_maintenance: the fleet now (status maintenance), whatever the range;
-- anomalies: robot-hours x metrics flagged by the rollup job in the range.
WITH performed AS (
    SELECT procedure_id
    FROM rds.surgical_procedures
    WHERE status <> 'cancelled' AND robot_id LIKE :robot
        AND scheduled_start >= CAST(:from_ts AS TIMESTAMPTZ) AND scheduled_start < CAST(:to_ts AS TIMESTAMPTZ)
),
rated AS (
    SELECT
        COUNT(*) AS outcomes,
        SUM(CASE WHEN o.success THEN 1 ELSE 0 END) AS successes,
        SUM(CASE WHEN o.complication_occurred THEN 1 ELSE 0 END) AS complications
    FROM performed AS f
    JOIN rds.procedure_outcomes AS o ON o.procedure_id = f.procedure_id
),
robot_days AS (
    SELECT robot_id, CAST(actual_start AS DATE) AS day, SUM(DATEDIFF(second, actual_start, actual_end)) AS seconds
    FROM rds.surgical_procedures
    WHERE status <> 'cancelled' AND actual_start IS NOT NULL AND actual_end IS NOT NULL AND robot_id LIKE :robot
        AND actual_start >= CAST(:from_ts AS TIMESTAMPTZ) AND actual_start < CAST(:to_ts AS TIMESTAMPTZ)
    GROUP BY 1, 2
),
used AS (
    SELECT SUM(seconds) AS seconds, COUNT(*) AS robot_days FROM robot_days
),
fleet AS (
    SELECT COUNT(*) AS robots, SUM(CASE WHEN status = 'maintenance' THEN 1 ELSE 0 END) AS robots_in_maintenance
    FROM rds.surgical_robots
    WHERE robot_id LIKE :robot
),
flagged AS (
    SELECT COUNT(*) AS anomalies
    FROM lake.telemetry_anomalies
    WHERE robot_id LIKE :robot AND "date" >= :from_date AND "date" <= :to_date
        AND hour >= CAST(:from_ts AS TIMESTAMPTZ) AND hour < CAST(:to_ts AS TIMESTAMPTZ)
)
SELECT
    (SELECT COUNT(*) FROM performed) AS procedures,
    r.outcomes,
    CAST(r.successes AS FLOAT) / NULLIF(r.outcomes, 0) AS success_rate,
    CAST(r.complications AS FLOAT) / NULLIF(r.outcomes, 0) AS complication_rate,
    CAST(u.seconds AS FLOAT) / NULLIF(u.robot_days * 86400, 0) AS utilization,
    f.robots,
    COALESCE(f.robots_in_maintenance, 0) AS robots_in_maintenance,
    a.anomalies
FROM rated AS r
CROSS JOIN used AS u
CROSS JOIN fleet AS f
CROSS JOIN flagged AS a
