-- What did each procedure of the last 7 days record? The per-procedure telemetry summary,
-- most error samples first; reads only the last 8 "date" partitions of procedure_telemetry.
-- "Now" is the as_of view (the current time in AWS, the data's last timestamp in `lake demo`).
SELECT s."date", s.procedure_id, s.robot_id, s.samples, s.arms, s.span_seconds, s.force_newtons_max,
    s.motor_temp_c_max, s.latency_ms_max, s.error_samples
FROM v_procedure_telemetry_summary AS s
CROSS JOIN as_of AS n
WHERE s."date" >= date_format(date_add('day', -7, n.as_of), '%Y-%m-%d') AND s.first_sample_at <= n.as_of
ORDER BY s.error_samples DESC, s."date", s.procedure_id
