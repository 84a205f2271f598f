-- HIPAA Safe Harbor generalization applied per patient and stable (issue 13, ADR 0001).
--
-- 1. Birth year -> age at the procedure. A stored birth year "ages past 89" as years go by, and
--    the old per-row rule let one patient_key carry a birth year on one row and the 90+ flag on
--    another. The age in completed years at scheduled_start never changes once stored; from 90
--    on it is NULL with patient_age_90_plus (45 CFR 164.514(b)(2)(i)(C)).
--    Rows loaded before this migration only kept the birth year, so their age is known to within
--    one year: they get the lower bound (year of scheduled_start - birth year - 1), and the 90+
--    flag as soon as the upper bound reaches 90 (over-generalizing, never under). Re-uploading a
--    source object recomputes the exact values.
-- 2. The 17 restricted three-digit ZIP prefixes (population 20,000 or fewer; HHS
--    de-identification guidance, section 3.4; lake.contract.RESTRICTED_ZIP3) become '000'
--    (164.514(b)(2)(i)(B)), and a CHECK keeps them out.
-- Parked procedures (etl.parked_rows.row_data, stored columns as JSON) get the same treatment.

ALTER TABLE surgical_procedures
    ADD COLUMN IF NOT EXISTS patient_age_at_procedure integer;

UPDATE surgical_procedures
SET patient_age_90_plus = patient_age_90_plus
        OR (extract(year FROM scheduled_start AT TIME ZONE 'UTC') - patient_birth_year) >= 90,
    patient_age_at_procedure = CASE
        WHEN patient_age_90_plus
             OR (extract(year FROM scheduled_start AT TIME ZONE 'UTC') - patient_birth_year) >= 90 THEN NULL
        ELSE greatest(0, extract(year FROM scheduled_start AT TIME ZONE 'UTC')::integer - patient_birth_year - 1)
    END
WHERE patient_birth_year IS NOT NULL OR patient_age_90_plus;

UPDATE etl.parked_rows
SET row_data = (row_data - 'patient_birth_year') || jsonb_build_object(
        'patient_age_90_plus', g.old,
        'patient_age_at_procedure', CASE WHEN g.old THEN NULL ELSE greatest(0, g.years - 1) END)
FROM (
    SELECT entity, row_key,
           extract(year FROM (row_data ->> 'scheduled_start')::timestamptz AT TIME ZONE 'UTC')::integer
               - (row_data ->> 'patient_birth_year')::integer AS years,
           coalesce((row_data ->> 'patient_age_90_plus')::boolean, false)
               OR extract(year FROM (row_data ->> 'scheduled_start')::timestamptz AT TIME ZONE 'UTC')
                  - (row_data ->> 'patient_birth_year')::integer >= 90 AS old
    FROM etl.parked_rows
    WHERE entity = 'surgical_procedures' AND row_data ? 'patient_birth_year'
) AS g
WHERE etl.parked_rows.entity = g.entity AND etl.parked_rows.row_key = g.row_key;

UPDATE surgical_procedures SET patient_zip3 = '000'
WHERE patient_zip3 IN ('036', '059', '063', '102', '203', '556', '692', '790', '821',
                       '823', '830', '831', '878', '879', '884', '890', '893');

UPDATE etl.parked_rows SET row_data = jsonb_set(row_data, '{patient_zip3}', '"000"')
WHERE entity = 'surgical_procedures'
  AND row_data ->> 'patient_zip3' IN ('036', '059', '063', '102', '203', '556', '692', '790', '821',
                                      '823', '830', '831', '878', '879', '884', '890', '893');

ALTER TABLE surgical_procedures
    DROP COLUMN IF EXISTS patient_birth_year,
    ADD CONSTRAINT surgical_procedures_patient_age_at_procedure_check
        CHECK (patient_age_at_procedure BETWEEN 0 AND 89),
    ADD CONSTRAINT patient_age_generalized
        CHECK (NOT (patient_age_90_plus AND patient_age_at_procedure IS NOT NULL)),
    ADD CONSTRAINT patient_zip3_not_restricted
        CHECK (patient_zip3 NOT IN ('036', '059', '063', '102', '203', '556', '692', '790', '821',
                                    '823', '830', '831', '878', '879', '884', '890', '893'));
