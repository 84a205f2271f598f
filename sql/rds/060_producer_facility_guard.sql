-- Producers bound to facilities, held in the database (docs/adr/0007-producers-bound-to-facilities.md).
-- The ingest refuses a producer's rows that belong to another facility before it loads them
-- (lambdas/ingest/facility_scope.py, reason foreign_facility). These triggers hold the same line
-- for what that check cannot see: a concurrent load of the same key, and a parked row whose
-- parent arrives later from another facility. A producer's row carries its facility in its
-- src_key ('<entity>/facility=FAC-nnn/...'); rows of trusted keys are never refused.

CREATE OR REPLACE FUNCTION etl.producer_facility(src_key text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT substring(src_key from '^[^/]+/facility=([^/]+)/') $$;

-- After each INSERT/UPDATE statement, over its rows at once (transition tables): a producer's row
-- whose own facility is another one, whose parent (robot, procedure) belongs to another facility,
-- or that replaced a row of another facility fails the statement, so the load rolls back and
-- is retried, and the retry's check refuses the row with its reason. Nothing is skipped silently.
-- Arguments: primary key, 'own' when the table carries facility_id, parent table, its key, the
-- referencing column ('' when none).
CREATE OR REPLACE FUNCTION etl.refuse_rows_of_other_facilities() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    pk text := TG_ARGV[0];
    own boolean := TG_ARGV[1] = 'own';
    parent text := TG_ARGV[2];
    parent_pk text := TG_ARGV[3];
    fk text := TG_ARGV[4];
    producer constant text := $p$n.src_key LIKE '%/facility=%'$p$;
    writer constant text := 'etl.producer_facility(n.src_key)';
    any_producer boolean;
    refused boolean := false;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM new_rows n WHERE %s)', producer) INTO any_producer;
    IF NOT any_producer THEN  -- a trusted load: nothing to check
        RETURN NULL;
    END IF;
    IF own THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM new_rows n WHERE %s AND n.facility_id <> %s)',
                       producer, writer) INTO refused;
    END IF;
    IF NOT refused AND parent <> '' THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM new_rows n JOIN %I p ON p.%I = n.%I'
                       ' WHERE %s AND p.facility_id <> %s)', parent, parent_pk, fk, producer, writer) INTO refused;
    END IF;
    IF NOT refused AND TG_OP = 'UPDATE' THEN
        IF own THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o USING (%I)'
                           ' WHERE %s AND o.facility_id <> %s)', pk, producer, writer) INTO refused;
        ELSE
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o USING (%I)'
                           ' JOIN %I p ON p.%I = o.%I WHERE %s AND p.facility_id <> %s)',
                           pk, parent, parent_pk, fk, producer, writer) INTO refused;
        END IF;
    END IF;
    IF refused THEN  -- no key or value in the message: it reaches the server log
        RAISE EXCEPTION 'a producer''s row belongs to another facility (%)', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('surgical_robots', 'robot_id', 'own', '', '', ''),
        ('surgical_procedures', 'procedure_id', 'own', 'surgical_robots', 'robot_id', 'robot_id'),
        ('procedure_outcomes', 'outcome_id', '', 'surgical_procedures', 'procedure_id', 'procedure_id'),
        ('robot_maintenance_logs', 'maintenance_id', '', 'surgical_robots', 'robot_id', 'robot_id')
    ) AS v (tbl, pk, own, parent, parent_pk, fk) LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS refuse_rows_of_other_facilities_insert ON %I', t.tbl);
        EXECUTE format('CREATE TRIGGER refuse_rows_of_other_facilities_insert AFTER INSERT ON %I'
                       ' REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION etl.refuse_rows_of_other_facilities(%L, %L, %L, %L, %L)',
                       t.tbl, t.pk, t.own, t.parent, t.parent_pk, t.fk);
        EXECUTE format('DROP TRIGGER IF EXISTS refuse_rows_of_other_facilities_update ON %I', t.tbl);
        EXECUTE format('CREATE TRIGGER refuse_rows_of_other_facilities_update AFTER UPDATE ON %I'
                       ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION etl.refuse_rows_of_other_facilities(%L, %L, %L, %L, %L)',
                       t.tbl, t.pk, t.own, t.parent, t.parent_pk, t.fk);
    END LOOP;
END $$;

-- A producer's parked row leaves etl.parked_rows (to be loaded, or superseded) only for a
-- parent of its own facility; otherwise it stays parked, visible in the reconciliation view.
CREATE OR REPLACE FUNCTION etl.parked_row_stays_with_its_facility() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    owner text;
BEGIN
    IF OLD.parent_entity = 'surgical_robots' THEN
        SELECT facility_id INTO owner FROM surgical_robots WHERE robot_id = OLD.parent_key;
    ELSIF OLD.parent_entity = 'surgical_procedures' THEN
        SELECT facility_id INTO owner FROM surgical_procedures WHERE procedure_id = OLD.parent_key;
    END IF;
    IF owner IS NOT NULL AND owner <> etl.producer_facility(OLD.src_key) THEN
        RETURN NULL;
    END IF;
    RETURN OLD;
END $$;

DROP TRIGGER IF EXISTS parked_row_stays_with_its_facility ON etl.parked_rows;
CREATE TRIGGER parked_row_stays_with_its_facility BEFORE DELETE ON etl.parked_rows
    FOR EACH ROW WHEN (OLD.src_key LIKE '%/facility=%')
    EXECUTE FUNCTION etl.parked_row_stays_with_its_facility();
