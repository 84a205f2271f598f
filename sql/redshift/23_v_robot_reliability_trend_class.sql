-- Is each robot's reliability improving, stable or declining over the last 12 months?
-- Reliability per month = failures (unscheduled or emergency maintenance starting that month)
-- per 100 hours of performed procedures that month, for the months in which the robot
-- performed procedures (month of actual_start, UTC) among the 12 calendar months up to and
-- including analytics.as_of's month. Rule: the Mann-Kendall test of
-- v_facility_outcome_trend_class (5 months at least, |Z| >= 1.96); fewer failures per hour
-- over time is 'improving'. A robot without operating months is listed with 0 months.
CREATE OR REPLACE VIEW analytics.v_robot_reliability_trend_class AS
WITH operating AS (
    SELECT
        p.robot_id,
        CAST(DATE_TRUNC('month', p.actual_start) AS DATE) AS month_start,
        CAST(SUM(DATEDIFF(second, p.actual_start, p.actual_end)) AS FLOAT) / 3600 AS procedure_hours
    FROM rds.surgical_procedures AS p
    CROSS JOIN analytics.as_of AS n
    WHERE p.status <> 'cancelled' AND p.actual_start IS NOT NULL AND p.actual_end IS NOT NULL
        AND p.actual_start <= n.as_of
        AND p.actual_start >= DATEADD(month, -11, DATE_TRUNC('month', n.as_of))
    GROUP BY 1, 2
),
failures AS (
    SELECT robot_id, CAST(DATE_TRUNC('month', started_at) AS DATE) AS month_start, COUNT(*) AS failures
    FROM rds.robot_maintenance_logs
    WHERE maintenance_type IN ('unscheduled', 'emergency')
    GROUP BY 1, 2
),
series AS (
    SELECT o.robot_id, o.month_start, 100 * CAST(COALESCE(f.failures, 0) AS FLOAT) / o.procedure_hours AS rate
    FROM operating AS o
    LEFT JOIN failures AS f ON f.robot_id = o.robot_id AND f.month_start = o.month_start
    WHERE o.procedure_hours > 0
),
pairs AS (
    SELECT a.robot_id, SUM(SIGN(b.rate - a.rate)) AS s
    FROM series AS a
    JOIN series AS b ON b.robot_id = a.robot_id AND b.month_start > a.month_start
    GROUP BY 1
),
ties AS (
    SELECT robot_id, SUM(t * (t - 1) * (2 * t + 5)) AS tie_term
    FROM (SELECT robot_id, rate, COUNT(*) AS t FROM series GROUP BY 1, 2) AS grouped
    GROUP BY 1
),
scored AS (
    SELECT
        x.robot_id,
        COUNT(*) AS months,
        MIN(x.month_start) AS first_month,
        MAX(x.month_start) AS last_month,
        COALESCE(MAX(p.s), 0) AS s_statistic,
        (CAST(COUNT(*) AS FLOAT) * (COUNT(*) - 1) * (2 * COUNT(*) + 5) - MAX(t.tie_term)) / 18 AS s_variance
    FROM series AS x
    LEFT JOIN pairs AS p ON p.robot_id = x.robot_id
    JOIN ties AS t ON t.robot_id = x.robot_id
    GROUP BY 1
),
tested AS (
    SELECT
        s.*,
        CASE WHEN s.s_variance > 0 THEN (s.s_statistic - SIGN(s.s_statistic)) / SQRT(s.s_variance) ELSE 0 END
            AS z_score
    FROM scored AS s
)
SELECT
    r.robot_id,
    r.facility_id,
    COALESCE(t.months, 0) AS months,
    t.first_month,
    t.last_month,
    f.rate AS first_month_failures_per_100h,
    l.rate AS last_month_failures_per_100h,
    t.s_statistic,
    t.s_variance,
    t.z_score,
    CASE
        WHEN COALESCE(t.months, 0) < 5 THEN 'insufficient data'
        WHEN ABS(t.z_score) < 1.96 THEN 'stable'
        WHEN t.s_statistic < 0 THEN 'improving'
        ELSE 'declining'
    END AS trend_class
FROM rds.surgical_robots AS r
LEFT JOIN tested AS t ON t.robot_id = r.robot_id
LEFT JOIN series AS f ON f.robot_id = t.robot_id AND f.month_start = t.first_month
LEFT JOIN series AS l ON l.robot_id = t.robot_id AND l.month_start = t.last_month
WITH NO SCHEMA BINDING;
