-- Which robot-hours deviated from their robot's 7-day baseline in the last 30 days? Largest
-- |z| first; reads only the last 31 "date" partitions of telemetry_anomalies.
SELECT "date", robot_id, hour, metric, value, baseline_mean, baseline_stddev, z_score
FROM telemetry_anomalies
WHERE "date" >= date_format(date_add('day', -30, current_date), '%Y-%m-%d')
ORDER BY abs(z_score) DESC, robot_id, hour, metric
