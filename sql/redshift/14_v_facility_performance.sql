-- How does each facility perform per quarter, and where does it rank among facilities?
-- Performed procedures (completed or converted) by quarter of scheduled_start (UTC); rates
-- over those with an outcome. Rank 1 = highest success rate in the quarter (ties share a
-- rank; a lower complication rate breaks ties first).
CREATE OR REPLACE VIEW analytics.v_facility_performance AS
WITH per_quarter AS (
    SELECT
        p.facility_id,
        CAST(DATE_TRUNC('quarter', p.scheduled_start) AS DATE) AS quarter_start,
        COUNT(*) AS procedures,
        COUNT(o.outcome_id) AS outcomes,
        SUM(CASE WHEN o.success THEN 1 ELSE 0 END) AS successes,
        SUM(CASE WHEN o.complication_occurred THEN 1 ELSE 0 END) AS complications,
        SUM(CASE WHEN o.readmitted_30d THEN 1 ELSE 0 END) AS readmissions,
        AVG(CAST(DATEDIFF(second, p.actual_start, p.actual_end) AS FLOAT)) / 60 AS avg_duration_minutes,
        AVG(o.length_of_stay_days) AS avg_length_of_stay_days
    FROM rds.surgical_procedures AS p
    LEFT JOIN rds.procedure_outcomes AS o ON o.procedure_id = p.procedure_id
    WHERE p.status <> 'cancelled'
    GROUP BY 1, 2
),
rated AS (
    SELECT
        facility_id,
        quarter_start,
        procedures,
        outcomes,
        CAST(successes AS FLOAT) / NULLIF(outcomes, 0) AS success_rate,
        CAST(complications AS FLOAT) / NULLIF(outcomes, 0) AS complication_rate,
        CAST(readmissions AS FLOAT) / NULLIF(outcomes, 0) AS readmission_rate,
        avg_duration_minutes,
        avg_length_of_stay_days
    FROM per_quarter
)
SELECT
    facility_id,
    quarter_start,
    procedures,
    outcomes,
    success_rate,
    complication_rate,
    readmission_rate,
    avg_duration_minutes,
    avg_length_of_stay_days,
    RANK() OVER (
        PARTITION BY quarter_start ORDER BY success_rate DESC NULLS LAST, complication_rate ASC NULLS LAST
    ) AS success_rank
FROM rated
WITH NO SCHEMA BINDING;
