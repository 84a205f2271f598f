-- What did each procedure of the last 7 days record? The per-procedure telemetry summary,
-- most error samples first; reads only the last 8 "date" partitions of procedure_telemetry.
SELECT "date", procedure_id, robot_id, samples, arms, span_seconds, force_newtons_max, motor_temp_c_max,
    latency_ms_max, error_samples
FROM v_procedure_telemetry_summary
WHERE "date" >= date_format(date_add('day', -7, current_date), '%Y-%m-%d')
ORDER BY error_samples DESC, "date", procedure_id
