-- Does a surgeon get faster and safer with experience? Duration and complications by the
-- surgeon's nth performed procedure (ordered by actual start), with the running complication
-- rate and the mean duration of the last 5 procedures.
CREATE OR REPLACE VIEW analytics.v_surgeon_learning_curve AS
WITH performed AS (
    SELECT
        p.surgeon_id,
        p.procedure_id,
        p.procedure_type,
        p.actual_start,
        CAST(DATEDIFF(second, p.actual_start, p.actual_end) AS FLOAT) / 60 AS duration_minutes,
        CASE WHEN o.complication_occurred THEN 1 ELSE 0 END AS complication
    FROM rds.surgical_procedures AS p
    LEFT JOIN rds.procedure_outcomes AS o ON o.procedure_id = p.procedure_id
    WHERE p.status <> 'cancelled' AND p.actual_start IS NOT NULL AND p.actual_end IS NOT NULL
)
SELECT
    surgeon_id,
    ROW_NUMBER() OVER (PARTITION BY surgeon_id ORDER BY actual_start, procedure_id) AS nth_procedure,
    procedure_id,
    procedure_type,
    actual_start,
    duration_minutes,
    complication,
    AVG(duration_minutes) OVER (
        PARTITION BY surgeon_id ORDER BY actual_start, procedure_id ROWS BETWEEN 4 PRECEDING AND CURRENT ROW
    ) AS duration_minutes_last5,
    CAST(SUM(complication) OVER (
        PARTITION BY surgeon_id ORDER BY actual_start, procedure_id ROWS UNBOUNDED PRECEDING
    ) AS FLOAT) / ROW_NUMBER() OVER (PARTITION BY surgeon_id ORDER BY actual_start, procedure_id)
        AS complication_rate_to_date
FROM performed
WITH NO SCHEMA BINDING;
