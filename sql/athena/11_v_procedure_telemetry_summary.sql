-- What did the robot record during each procedure? Per procedure, robot and date: distinct
-- samples (a telemetry_id counts once), arms used, first/last sample and span, force, motor
-- temperature and latency statistics, samples with an error code. Filter on "date" to prune.
CREATE OR REPLACE VIEW v_procedure_telemetry_summary AS
WITH samples AS (
    SELECT
        "date", robot_id, procedure_id, telemetry_id, "timestamp", arm_id, force_newtons,
        motor_temp_c, latency_ms, error_code,
        ROW_NUMBER() OVER (PARTITION BY "date", telemetry_id ORDER BY "timestamp") AS copy
    FROM procedure_telemetry
)
SELECT
    "date",
    procedure_id,
    robot_id,
    COUNT(*) AS samples,
    COUNT(DISTINCT arm_id) AS arms,
    MIN("timestamp") AS first_sample_at,
    MAX("timestamp") AS last_sample_at,
    date_diff('second', MIN("timestamp"), MAX("timestamp")) AS span_seconds,
    AVG(force_newtons) AS force_newtons_avg,
    MAX(force_newtons) AS force_newtons_max,
    AVG(motor_temp_c) AS motor_temp_c_avg,
    MAX(motor_temp_c) AS motor_temp_c_max,
    AVG(latency_ms) AS latency_ms_avg,
    MAX(latency_ms) AS latency_ms_max,
    count_if(error_code IS NOT NULL) AS error_samples
FROM samples
WHERE copy = 1
GROUP BY "date", procedure_id, robot_id
