-- Producers bound to facilities, held in the database (docs/adr/0006-producers-bound-to-facilities.md).
-- The ingest refuses a producer's rows that belong to another facility before it loads them
-- (lambdas/ingest/facility_scope.py, reason foreign_facility). These triggers hold the same line
-- for what that check cannot see: a concurrent load of the same key, and a parked row whose
-- parent arrives later from another facility. A producer's row carries its facility in its
-- src_key ('<entity>/facility=FAC-nnn/...'); rows of trusted keys are never checked (the WHEN
-- clauses cost one LIKE per row). Refusals are kept in etl.refused_rows (keys only, no content).

CREATE OR REPLACE FUNCTION etl.producer_facility(src_key text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT substring(src_key from '^[^/]+/facility=([^/]+)/') $$;

-- The facility a stored row (or a parent key) belongs to: robots and procedures carry it,
-- outcomes and maintenance logs belong to their procedure's and robot's.
CREATE OR REPLACE FUNCTION etl.owner_facility(entity text, row_key text) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT CASE entity
        WHEN 'surgical_robots' THEN
            (SELECT facility_id FROM surgical_robots WHERE robot_id = row_key)
        WHEN 'surgical_procedures' THEN
            (SELECT facility_id FROM surgical_procedures WHERE procedure_id = row_key)
        WHEN 'procedure_outcomes' THEN
            (SELECT p.facility_id FROM procedure_outcomes o JOIN surgical_procedures p USING (procedure_id)
             WHERE o.outcome_id = row_key)
        WHEN 'robot_maintenance_logs' THEN
            (SELECT r.facility_id FROM robot_maintenance_logs m JOIN surgical_robots r USING (robot_id)
             WHERE m.maintenance_id = row_key)
    END $$;

CREATE TABLE IF NOT EXISTS etl.refused_rows (
    entity          text NOT NULL,
    row_key         text NOT NULL,
    src_key         text NOT NULL,
    facility        text NOT NULL,  -- the producer's facility (from src_key)
    owner_facility  text NOT NULL,  -- the facility the row or its parent belongs to
    refused_at      timestamp with time zone NOT NULL DEFAULT now()
);

-- BEFORE INSERT OR UPDATE of a producer's row: skipped (and recorded) when the row names another
-- facility, the stored row belongs to another facility, or its parent does.
-- Arguments: primary key column, parent entity ('' for none), foreign key column ('' for none).
CREATE OR REPLACE FUNCTION etl.keep_rows_with_their_facility() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    writer text := etl.producer_facility(NEW.src_key);
    fields jsonb := to_jsonb(NEW);
    row_key text := fields ->> TG_ARGV[0];
    owner text;
BEGIN
    owner := fields ->> 'facility_id';
    IF (owner IS NULL OR owner = writer) AND TG_OP = 'UPDATE' THEN
        owner := etl.owner_facility(TG_TABLE_NAME, row_key);
    END IF;
    IF (owner IS NULL OR owner = writer) AND TG_ARGV[1] <> '' THEN
        owner := etl.owner_facility(TG_ARGV[1], fields ->> TG_ARGV[2]);
    END IF;
    IF owner IS NOT NULL AND owner <> writer THEN
        INSERT INTO etl.refused_rows (entity, row_key, src_key, facility, owner_facility)
        VALUES (TG_TABLE_NAME, row_key, NEW.src_key, writer, owner);
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS keep_rows_with_their_facility ON surgical_robots;
CREATE TRIGGER keep_rows_with_their_facility BEFORE INSERT OR UPDATE ON surgical_robots
    FOR EACH ROW WHEN (NEW.src_key LIKE '%/facility=%')
    EXECUTE FUNCTION etl.keep_rows_with_their_facility('robot_id', '', '');
DROP TRIGGER IF EXISTS keep_rows_with_their_facility ON surgical_procedures;
CREATE TRIGGER keep_rows_with_their_facility BEFORE INSERT OR UPDATE ON surgical_procedures
    FOR EACH ROW WHEN (NEW.src_key LIKE '%/facility=%')
    EXECUTE FUNCTION etl.keep_rows_with_their_facility('procedure_id', 'surgical_robots', 'robot_id');
DROP TRIGGER IF EXISTS keep_rows_with_their_facility ON procedure_outcomes;
CREATE TRIGGER keep_rows_with_their_facility BEFORE INSERT OR UPDATE ON procedure_outcomes
    FOR EACH ROW WHEN (NEW.src_key LIKE '%/facility=%')
    EXECUTE FUNCTION etl.keep_rows_with_their_facility('outcome_id', 'surgical_procedures', 'procedure_id');
DROP TRIGGER IF EXISTS keep_rows_with_their_facility ON robot_maintenance_logs;
CREATE TRIGGER keep_rows_with_their_facility BEFORE INSERT OR UPDATE ON robot_maintenance_logs
    FOR EACH ROW WHEN (NEW.src_key LIKE '%/facility=%')
    EXECUTE FUNCTION etl.keep_rows_with_their_facility('maintenance_id', 'surgical_robots', 'robot_id');

-- A producer's parked row leaves etl.parked_rows (to be loaded, or superseded) only for a
-- parent of its own facility; otherwise it stays parked, visible in the reconciliation view.
CREATE OR REPLACE FUNCTION etl.parked_row_stays_with_its_facility() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    owner text := etl.owner_facility(OLD.parent_entity, OLD.parent_key);
BEGIN
    IF owner IS NOT NULL AND owner <> etl.producer_facility(OLD.src_key) THEN
        RETURN NULL;
    END IF;
    RETURN OLD;
END $$;

DROP TRIGGER IF EXISTS parked_row_stays_with_its_facility ON etl.parked_rows;
CREATE TRIGGER parked_row_stays_with_its_facility BEFORE DELETE ON etl.parked_rows
    FOR EACH ROW WHEN (OLD.src_key LIKE '%/facility=%')
    EXECUTE FUNCTION etl.parked_row_stays_with_its_facility();
