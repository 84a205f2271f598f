-- The alerts function's role (issue 17; lake/db_roles.py ALERTS, created with its password and
-- timeouts by lambdas/migrate/roles.py like the others): it reads a robot's facility and the
-- procedure windows (the export: ids, status, actual start and end; column grants, so never a
-- patient column) and keeps alert_episodes (070), whose rows it inserts and merges; it never
-- deletes. lake_reader (federated queries) may read them.
-- A runner that created no roles gets it as a NOLOGIN role so the grants always apply.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lake_alerts') THEN
        CREATE ROLE lake_alerts NOLOGIN;
    END IF;
END $$;

REVOKE ALL ON alert_episodes FROM PUBLIC;
GRANT SELECT (robot_id, facility_id) ON surgical_robots TO lake_alerts;
GRANT SELECT (procedure_id, robot_id, status, actual_start, actual_end) ON surgical_procedures TO lake_alerts;
GRANT SELECT, INSERT, UPDATE ON alert_episodes TO lake_alerts;
GRANT SELECT ON alert_episodes TO lake_reader;
