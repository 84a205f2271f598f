-- How do patients fare by cohort (month of their first procedure): how many come back for
-- repeat procedures, and how many are readmitted within 30 and 90 days?
-- Performed procedures only (status <> cancelled). 30-day readmission is the outcome's
-- readmitted_30d flag (any of the patient's procedures). The contract has no readmission
-- date, so 90-day readmission is derived: readmitted within 30 days, or a repeat procedure
-- starting at most 90 days after the patient's previous one.
CREATE OR REPLACE VIEW analytics.v_patient_cohort_outcomes AS
WITH performed AS (
    SELECT
        p.patient_key,
        p.scheduled_start,
        o.success,
        o.readmitted_30d,
        ROW_NUMBER() OVER (PARTITION BY p.patient_key ORDER BY p.scheduled_start, p.procedure_id) AS nth,
        LAG(p.scheduled_start) OVER (PARTITION BY p.patient_key ORDER BY p.scheduled_start, p.procedure_id)
            AS previous_start
    FROM rds.surgical_procedures AS p
    LEFT JOIN rds.procedure_outcomes AS o ON o.procedure_id = p.procedure_id
    WHERE p.status <> 'cancelled'
),
patients AS (
    SELECT
        patient_key,
        CAST(DATE_TRUNC('month', MIN(scheduled_start)) AS DATE) AS cohort_month,
        COUNT(*) AS procedures,
        MAX(CASE WHEN nth = 1 AND success THEN 1 ELSE 0 END) AS first_success,
        MAX(CASE WHEN readmitted_30d THEN 1 ELSE 0 END) AS readmitted_30d,
        MAX(CASE WHEN readmitted_30d
                 OR (nth > 1 AND DATEDIFF(day, previous_start, scheduled_start) <= 90) THEN 1 ELSE 0 END)
            AS readmitted_90d
    FROM performed
    GROUP BY patient_key
)
SELECT
    cohort_month,
    COUNT(*) AS patients,
    SUM(procedures) AS procedures,
    SUM(CASE WHEN procedures > 1 THEN 1 ELSE 0 END) AS repeat_patients,
    SUM(procedures) - COUNT(*) AS repeat_procedures,
    CAST(SUM(CASE WHEN procedures > 1 THEN 1 ELSE 0 END) AS FLOAT) / COUNT(*) AS repeat_rate,
    CAST(SUM(first_success) AS FLOAT) / COUNT(*) AS first_procedure_success_rate,
    SUM(readmitted_30d) AS readmitted_30d_patients,
    CAST(SUM(readmitted_30d) AS FLOAT) / COUNT(*) AS readmission_30d_rate,
    SUM(readmitted_90d) AS readmitted_90d_patients,
    CAST(SUM(readmitted_90d) AS FLOAT) / COUNT(*) AS readmission_90d_rate
FROM patients
GROUP BY cohort_month
WITH NO SCHEMA BINDING;
