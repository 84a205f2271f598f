-- Is each facility's success, complication and 30-day readmission rate improving, stable or
-- declining over the last 12 months? Monthly rates (month of scheduled_start, performed
-- procedures with an outcome) in the 12 calendar months up to and including analytics.as_of's
-- month; a month without outcomes is no data point. Rule: Mann-Kendall trend test (Mann 1945,
-- Kendall 1975; as in Hirsch et al. 1982): S = sum over month pairs i < j of sign(x_j - x_i),
-- Var(S) = [n(n-1)(2n+5) - sum over groups of tied rates t(t-1)(2t+5)] / 18, Z = (S - sign(S)) /
-- sqrt(Var(S)). Fewer than 5 months: 'insufficient data' (with 4 points |Z| can never reach
-- 1.96); |Z| < 1.96 (two-sided, alpha 0.05): 'stable'; otherwise the direction, read for the
-- metric: a rising success rate or a falling complication / readmission rate is 'improving'.
CREATE OR REPLACE VIEW analytics.v_facility_outcome_trend_class AS
WITH monthly AS (
    SELECT
        p.facility_id,
        CAST(DATE_TRUNC('month', p.scheduled_start) AS DATE) AS month_start,
        COUNT(*) AS outcomes,
        SUM(CASE WHEN o.success THEN 1 ELSE 0 END) AS successes,
        SUM(CASE WHEN o.complication_occurred THEN 1 ELSE 0 END) AS complications,
        SUM(CASE WHEN o.readmitted_30d THEN 1 ELSE 0 END) AS readmissions
    FROM rds.surgical_procedures AS p
    JOIN rds.procedure_outcomes AS o ON o.procedure_id = p.procedure_id
    CROSS JOIN analytics.as_of AS n
    WHERE p.status <> 'cancelled'
        AND p.scheduled_start <= n.as_of
        AND p.scheduled_start >= DATEADD(month, -11, DATE_TRUNC('month', n.as_of))
    GROUP BY 1, 2
),
series AS (
    SELECT facility_id, 'success_rate' AS metric, 1 AS polarity, month_start,
        CAST(successes AS FLOAT) / outcomes AS rate
    FROM monthly
    UNION ALL
    SELECT facility_id, 'complication_rate', -1, month_start, CAST(complications AS FLOAT) / outcomes
    FROM monthly
    UNION ALL
    SELECT facility_id, 'readmission_rate', -1, month_start, CAST(readmissions AS FLOAT) / outcomes
    FROM monthly
),
pairs AS (
    SELECT a.facility_id, a.metric, SUM(SIGN(b.rate - a.rate)) AS s
    FROM series AS a
    JOIN series AS b ON b.facility_id = a.facility_id AND b.metric = a.metric AND b.month_start > a.month_start
    GROUP BY 1, 2
),
ties AS (
    SELECT facility_id, metric, SUM(t * (t - 1) * (2 * t + 5)) AS tie_term
    FROM (SELECT facility_id, metric, rate, COUNT(*) AS t FROM series GROUP BY 1, 2, 3) AS grouped
    GROUP BY 1, 2
),
scored AS (
    SELECT
        x.facility_id,
        x.metric,
        MAX(x.polarity) AS polarity,
        COUNT(*) AS months,
        MIN(x.month_start) AS first_month,
        MAX(x.month_start) AS last_month,
        COALESCE(MAX(p.s), 0) AS s_statistic,
        (CAST(COUNT(*) AS FLOAT) * (COUNT(*) - 1) * (2 * COUNT(*) + 5) - MAX(t.tie_term)) / 18 AS s_variance
    FROM series AS x
    LEFT JOIN pairs AS p ON p.facility_id = x.facility_id AND p.metric = x.metric
    JOIN ties AS t ON t.facility_id = x.facility_id AND t.metric = x.metric
    GROUP BY 1, 2
),
tested AS (
    SELECT
        s.*,
        CASE WHEN s.s_variance > 0 THEN (s.s_statistic - SIGN(s.s_statistic)) / SQRT(s.s_variance) ELSE 0 END
            AS z_score
    FROM scored AS s
)
SELECT
    t.facility_id,
    t.metric,
    t.months,
    t.first_month,
    t.last_month,
    f.rate AS first_month_rate,
    l.rate AS last_month_rate,
    t.s_statistic,
    t.s_variance,
    t.z_score,
    CASE
        WHEN t.months < 5 THEN 'insufficient data'
        WHEN ABS(t.z_score) < 1.96 THEN 'stable'
        WHEN SIGN(t.s_statistic) * t.polarity > 0 THEN 'improving'
        ELSE 'declining'
    END AS trend_class
FROM tested AS t
JOIN series AS f ON f.facility_id = t.facility_id AND f.metric = t.metric AND f.month_start = t.first_month
JOIN series AS l ON l.facility_id = t.facility_id AND l.metric = t.metric AND l.month_start = t.last_month
WITH NO SCHEMA BINDING;
