-- How do success, complication, major-complication and 30-day readmission rates and the
-- length of stay evolve per procedure type and month, with a 3-month moving average?
-- Month of scheduled_start (UTC), procedures with a recorded outcome. Major = severity major
-- or critical. The 3-month figures pool the counts of the month and the two calendar months
-- before it (a rate of sums, not an average of rates).
CREATE OR REPLACE VIEW analytics.v_outcome_trend_monthly AS
WITH monthly AS (
    SELECT
        p.procedure_type,
        CAST(DATE_TRUNC('month', p.scheduled_start) AS DATE) AS month_start,
        COUNT(*) AS outcomes,
        SUM(CASE WHEN o.success THEN 1 ELSE 0 END) AS successes,
        SUM(CASE WHEN o.complication_occurred THEN 1 ELSE 0 END) AS complications,
        SUM(CASE WHEN o.complication_severity IN ('major', 'critical') THEN 1 ELSE 0 END) AS major_complications,
        SUM(CASE WHEN o.readmitted_30d THEN 1 ELSE 0 END) AS readmissions,
        SUM(o.length_of_stay_days) AS los_days
    FROM rds.surgical_procedures AS p
    JOIN rds.procedure_outcomes AS o ON o.procedure_id = p.procedure_id
    GROUP BY 1, 2
)
SELECT
    m.procedure_type,
    m.month_start,
    m.outcomes,
    CAST(m.successes AS FLOAT) / m.outcomes AS success_rate,
    CAST(m.complications AS FLOAT) / m.outcomes AS complication_rate,
    CAST(m.major_complications AS FLOAT) / m.outcomes AS major_complication_rate,
    CAST(m.readmissions AS FLOAT) / m.outcomes AS readmission_rate,
    m.los_days / m.outcomes AS avg_length_of_stay_days,
    CAST(SUM(h.successes) AS FLOAT) / SUM(h.outcomes) AS success_rate_3mo,
    CAST(SUM(h.complications) AS FLOAT) / SUM(h.outcomes) AS complication_rate_3mo,
    CAST(SUM(h.major_complications) AS FLOAT) / SUM(h.outcomes) AS major_complication_rate_3mo,
    CAST(SUM(h.readmissions) AS FLOAT) / SUM(h.outcomes) AS readmission_rate_3mo,
    SUM(h.los_days) / SUM(h.outcomes) AS avg_length_of_stay_days_3mo
FROM monthly AS m
JOIN monthly AS h
    ON h.procedure_type = m.procedure_type
    AND h.month_start BETWEEN DATEADD(month, -2, m.month_start) AND m.month_start
GROUP BY m.procedure_type, m.month_start, m.outcomes, m.successes, m.complications,
    m.major_complications, m.readmissions, m.los_days
WITH NO SCHEMA BINDING;
