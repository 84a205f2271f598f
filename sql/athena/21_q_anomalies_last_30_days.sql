-- Which robot-hours deviated from their robot's baseline in the last 30 days? Largest |z|
-- first; reads only the last 31 "date" partitions of telemetry_anomalies. "Now" is the as_of
-- view (the current time in AWS, the data's last timestamp in `lake demo`).
SELECT a."date", a.robot_id, a.hour, a.metric, a.value, a.baseline_mean, a.baseline_stddev, a.z_score
FROM telemetry_anomalies AS a
CROSS JOIN as_of AS n
WHERE a."date" >= date_format(date_add('day', -30, n.as_of), '%Y-%m-%d') AND a.hour <= n.as_of
ORDER BY abs(a.z_score) DESC, a.robot_id, a.hour, a.metric
