-- Make bulk loads into surgical_procedures cheaper without weakening a rule. Measured with
-- bench/ingest.py and EXPLAIN ANALYZE on a 200 k-row upsert (PostgreSQL 15, 2 cores):
--
-- 1. patient_key's CHECK `~ '^[0-9a-f]{64}$'` cost 6.4 us a row, a quarter of the whole upsert:
--    PostgreSQL's regex engine expands the counted repetition into 64 states. A length test plus
--    an uncounted class accepts exactly the same strings at a twelfth of the cost.
-- 2. Three secondary indexes no query reads. The Redshift views aggregate whole tables
--    (federated queries push down only their non-selective WHERE), and no other query filters
--    on these leading columns; each index cost ~0.35 s per 200 k rows on every load.
--    Kept: the primary key, (robot_id, actual_start) for per-robot history and robot deletes,
--    and (patient_key, scheduled_start) for one patient's procedures (access and erasure requests).

ALTER TABLE surgical_procedures
    DROP CONSTRAINT IF EXISTS surgical_procedures_patient_key_check,
    ADD CONSTRAINT surgical_procedures_patient_key_check
        CHECK (length(patient_key) = 64 AND patient_key ~ '^[0-9a-f]*$');

DROP INDEX IF EXISTS
    surgical_procedures_facility_sched_idx,
    surgical_procedures_surgeon_start_idx,
    surgical_procedures_type_sched_idx;
