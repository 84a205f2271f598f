-- Which robot-hours of the last 7 days (the day of as_of included) ran hottest or slowest? The
-- pooled hourly rollups, worst p95 latency first; reads only the last 8 "date" partitions.
-- "Now" is the as_of view (the current time in AWS, the data's last timestamp in `lake demo`).
SELECT h."date", h.robot_id, h.hour, h.arms, h.samples, h.motor_temp_c_avg, h.motor_temp_c_max, h.latency_ms_avg,
    h.latency_ms_p95_max, h.error_count
FROM v_robot_hourly AS h
CROSS JOIN as_of AS n
WHERE h."date" >= date_format(date_add('day', -7, n.as_of), '%Y-%m-%d') AND h.hour <= n.as_of
ORDER BY h.latency_ms_p95_max DESC, h.robot_id, h.hour
