-- Least privilege (issue 13; roles in lake/db_roles.py, created with their passwords and
-- timeouts by lambdas/migrate/roles.py before the migrations run as lake_migrator, the owner):
--   lake_ingest  (the ingest, through RDS Proxy): reads and upserts the entity tables, keeps its
--                bookkeeping in etl; never deletes a loaded row, never changes the schema.
--   lake_reader  (Redshift federated queries): SELECT only.
-- A runner that created no roles (a bare server under a superuser, e.g. a benchmark) gets them
-- here as NOLOGIN roles, so the grants always apply; where they exist nothing is created.

DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['lake_ingest', 'lake_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA public, etl FROM PUBLIC;
GRANT USAGE ON SCHEMA etl TO lake_ingest, lake_reader;

GRANT SELECT, INSERT, UPDATE
    ON surgical_robots, surgical_procedures, procedure_outcomes, robot_maintenance_logs TO lake_ingest;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON etl.ingest_ledger, etl.parked_rows, etl.lake_files TO lake_ingest;

GRANT SELECT
    ON surgical_robots, surgical_procedures, procedure_outcomes, robot_maintenance_logs,
       etl.ingest_ledger, etl.parked_rows, etl.lake_files
    TO lake_reader;
