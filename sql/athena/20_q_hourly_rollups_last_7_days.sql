-- Which robot-hours of the last 7 days (today included) ran hottest or slowest? The pooled
-- hourly rollups, worst p95 latency first; reads only the last 8 "date" partitions.
SELECT "date", robot_id, hour, arms, samples, motor_temp_c_avg, motor_temp_c_max, latency_ms_avg,
    latency_ms_p95_max, error_count
FROM v_robot_hourly
WHERE "date" >= date_format(date_add('day', -7, current_date), '%Y-%m-%d')
ORDER BY latency_ms_p95_max DESC, robot_id, hour
