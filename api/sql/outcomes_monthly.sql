-- Outcome rates per month (UTC, of scheduled_start) in [from, to), over the performed procedures
-- with an outcome, every procedure type pooled (v_outcome_trend_monthly splits them by type).
SELECT
    CAST(DATE_TRUNC('month', p.scheduled_start) AS DATE) AS month_start,
    COUNT(*) AS outcomes,
    CAST(SUM(CASE WHEN o.success THEN 1 ELSE 0 END) AS FLOAT) / COUNT(*) AS success_rate,
    CAST(SUM(CASE WHEN o.complication_occurred THEN 1 ELSE 0 END) AS FLOAT) / COUNT(*) AS complication_rate,
    CAST(SUM(CASE WHEN o.readmitted_30d THEN 1 ELSE 0 END) AS FLOAT) / COUNT(*) AS readmission_rate
FROM rds.surgical_procedures AS p
JOIN rds.procedure_outcomes AS o ON o.procedure_id = p.procedure_id
WHERE p.status <> 'cancelled' AND p.robot_id LIKE :robot
    AND p.scheduled_start >= CAST(:from_ts AS TIMESTAMPTZ) AND p.scheduled_start < CAST(:to_ts AS TIMESTAMPTZ)
GROUP BY 1
ORDER BY 1
