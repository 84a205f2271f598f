-- Which telemetry cannot be tied to the transactional data? Samples whose robot is unknown,
-- whose procedure is unknown, or whose procedure ran on another robot, per date, robot and
-- procedure (distinct telemetry_ids).
CREATE OR REPLACE VIEW analytics.v_orphan_telemetry AS
SELECT
    t."date",
    t.robot_id,
    t.procedure_id,
    CASE
        WHEN r.robot_id IS NULL THEN 'unknown_robot'
        WHEN p.procedure_id IS NULL THEN 'unknown_procedure'
        ELSE 'robot_mismatch'
    END AS reason,
    COUNT(DISTINCT t.telemetry_id) AS samples,
    MIN(t."timestamp") AS first_sample_at,
    MAX(t."timestamp") AS last_sample_at
FROM lake.procedure_telemetry AS t
LEFT JOIN rds.surgical_procedures AS p ON p.procedure_id = t.procedure_id
LEFT JOIN rds.surgical_robots AS r ON r.robot_id = t.robot_id
WHERE r.robot_id IS NULL OR p.procedure_id IS NULL OR p.robot_id <> t.robot_id
GROUP BY 1, 2, 3, 4
WITH NO SCHEMA BINDING;
