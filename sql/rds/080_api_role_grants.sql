-- The query API's role (issue 15; lake/db_roles.py API, created with its password and timeouts
-- by lambdas/migrate/roles.py like the others): lake_api reads the entity tables and the ingest
-- ledger (the ledger endpoint is admin-only in the API) and the parked rows (the reconciliation
-- view), and nothing else: no writes, no etl.lake_files, no schema_migrations.
-- A runner that created no roles gets it as a NOLOGIN role so the grants always apply.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lake_api') THEN
        CREATE ROLE lake_api NOLOGIN;
    END IF;
END $$;

GRANT USAGE ON SCHEMA etl TO lake_api;
GRANT SELECT
    ON surgical_robots, surgical_procedures, procedure_outcomes, robot_maintenance_logs,
       etl.ingest_ledger, etl.parked_rows
    TO lake_api;
