-- Indexes the analytics views read through (Redshift federated queries push these predicates
-- down to RDS): failures per robot in time order (v_robot_reliability, v_failure_precursors),
-- outcomes per procedure type and month (v_outcome_trend_monthly), parked rows per entity and
-- day (v_ingest_reconciliation), ledger rows per entity and first-seen day for unfinished
-- objects (v_ingest_reconciliation).

CREATE INDEX IF NOT EXISTS robot_maintenance_logs_failures_idx
    ON robot_maintenance_logs (robot_id, started_at)
    WHERE maintenance_type IN ('unscheduled', 'emergency');

CREATE INDEX IF NOT EXISTS surgical_procedures_type_sched_idx
    ON surgical_procedures (procedure_type, scheduled_start);

CREATE INDEX IF NOT EXISTS parked_rows_entity_parked_idx
    ON etl.parked_rows (entity, parked_at);

CREATE INDEX IF NOT EXISTS ingest_ledger_entity_first_seen_idx
    ON etl.ingest_ledger (entity, first_seen_at);
