-- The four transactional entities of the data contract (lake/contract.py), as stored after
-- pseudonymization, with the lineage columns ingest uses for "newer object wins".
-- Checks mirror the contract; tests/sql/test_rds_migrations.py compares the two.

CREATE TABLE IF NOT EXISTS surgical_robots (
    robot_id          text PRIMARY KEY CHECK (robot_id ~ '^ROBOT-[0-9]{4}$'),
    serial_number     text NOT NULL CHECK (serial_number ~ '^[A-Z0-9-]{6,32}$'),
    model             text NOT NULL,
    manufacturer      text NOT NULL,
    facility_id       text NOT NULL CHECK (facility_id ~ '^FAC-[0-9]{3}$'),
    facility_name     text NOT NULL,
    install_date      date NOT NULL,
    firmware_version  text NOT NULL CHECK (firmware_version ~ '^[0-9]+\.[0-9]+\.[0-9]+$'),
    status            text NOT NULL CHECK (status IN ('active', 'maintenance', 'retired')),
    src_key           text NOT NULL,
    src_modified      timestamp with time zone NOT NULL,
    loaded_at         timestamp with time zone NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS surgical_procedures (
    procedure_id         text PRIMARY KEY CHECK (procedure_id ~ '^PROC-[0-9]{6}$'),
    robot_id             text NOT NULL REFERENCES surgical_robots (robot_id)
                             CHECK (robot_id ~ '^ROBOT-[0-9]{4}$'),
    facility_id          text NOT NULL CHECK (facility_id ~ '^FAC-[0-9]{3}$'),
    surgeon_id           text NOT NULL CHECK (surgeon_id ~ '^SURG-[0-9]{4}$'),
    patient_key          text NOT NULL CHECK (patient_key ~ '^[0-9a-f]{64}$'),
    patient_birth_year   integer CHECK (patient_birth_year BETWEEN 1900 AND 2100),
    patient_age_90_plus  boolean NOT NULL,
    patient_zip3         text CHECK (patient_zip3 ~ '^[0-9]{3}$'),
    procedure_type       text NOT NULL,
    procedure_category   text NOT NULL,
    complexity           text NOT NULL CHECK (complexity IN ('low', 'medium', 'high')),
    is_emergency         boolean NOT NULL,
    scheduled_start      timestamp with time zone NOT NULL,
    actual_start         timestamp with time zone,
    actual_end           timestamp with time zone,
    status               text NOT NULL CHECK (status IN ('completed', 'cancelled', 'converted')),
    src_key              text NOT NULL,
    src_modified         timestamp with time zone NOT NULL,
    loaded_at            timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT end_after_start CHECK (actual_end >= actual_start)
);

CREATE TABLE IF NOT EXISTS procedure_outcomes (
    outcome_id             text PRIMARY KEY CHECK (outcome_id ~ '^OUT-[0-9]{6}$'),
    procedure_id           text NOT NULL REFERENCES surgical_procedures (procedure_id)
                               CHECK (procedure_id ~ '^PROC-[0-9]{6}$'),
    success                boolean NOT NULL,
    complication_occurred  boolean NOT NULL,
    complication_severity  text NOT NULL
                               CHECK (complication_severity IN ('none', 'minor', 'major', 'critical')),
    blood_loss_ml          double precision NOT NULL CHECK (blood_loss_ml BETWEEN 0 AND 10000),
    length_of_stay_days    double precision NOT NULL CHECK (length_of_stay_days BETWEEN 0 AND 365),
    readmitted_30d         boolean NOT NULL,
    conversion_to_open     boolean NOT NULL,
    recorded_at            timestamp with time zone NOT NULL,
    src_key                text NOT NULL,
    src_modified           timestamp with time zone NOT NULL,
    loaded_at              timestamp with time zone NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS robot_maintenance_logs (
    maintenance_id    text PRIMARY KEY CHECK (maintenance_id ~ '^MAINT-[0-9]{6}$'),
    robot_id          text NOT NULL REFERENCES surgical_robots (robot_id)
                          CHECK (robot_id ~ '^ROBOT-[0-9]{4}$'),
    maintenance_type  text NOT NULL
                          CHECK (maintenance_type IN ('scheduled', 'unscheduled', 'emergency', 'calibration')),
    started_at        timestamp with time zone NOT NULL,
    completed_at      timestamp with time zone,
    technician_id     text NOT NULL CHECK (technician_id ~ '^TECH-[0-9]{4}$'),
    downtime_hours    double precision NOT NULL CHECK (downtime_hours BETWEEN 0 AND 2000),
    parts_replaced    text,
    cost_usd          double precision NOT NULL CHECK (cost_usd BETWEEN 0 AND 1000000),
    failure_mode      text,
    src_key           text NOT NULL,
    src_modified      timestamp with time zone NOT NULL,
    loaded_at         timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT completed_after_started CHECK (completed_at >= started_at)
);

CREATE INDEX IF NOT EXISTS surgical_procedures_robot_start_idx
    ON surgical_procedures (robot_id, actual_start);
CREATE INDEX IF NOT EXISTS surgical_procedures_facility_sched_idx
    ON surgical_procedures (facility_id, scheduled_start);
CREATE INDEX IF NOT EXISTS surgical_procedures_surgeon_start_idx
    ON surgical_procedures (surgeon_id, actual_start);
CREATE INDEX IF NOT EXISTS surgical_procedures_patient_idx
    ON surgical_procedures (patient_key, scheduled_start);
CREATE INDEX IF NOT EXISTS procedure_outcomes_procedure_idx
    ON procedure_outcomes (procedure_id);
CREATE INDEX IF NOT EXISTS robot_maintenance_logs_robot_start_idx
    ON robot_maintenance_logs (robot_id, started_at);
