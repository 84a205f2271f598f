"""PHI in the wrong column: rejected `phi_in_free_text`, the value copied nowhere."""

from __future__ import annotations

import pyarrow as pa

from lake.contract import ENTITIES
from lambdas.ingest.phi_screen import phi_shaped
from tests.lambdas.ingest.samples import MAINT_HEADER, PROC_HEADER, ROBOT_HEADER, csv_file, procedure, robot

SHAPED = ["DOB 1935-03-04", "dob: 3/4/1935", "Date of birth 04.03.1935", "born 1935", "MRN12345678",
          "mrn: 7734411", "pt 12345678", "SSN 123-45-6789", "123 45 6789", "social security no. on file",
          "seen 03/04/1999", "1999-12-31 follow-up"]
CLEAN = ["prostatectomy", "Robotic-assisted partial nephrectomy", "encoder drift (arm 3)", "mRNA workup",
         "Versius v3.2.1", "St. Catherine's Hospital, Boston", "instrument arm; cable 2", "SK1234-567",
         "sutured 2-0", "Hôpital Saint-Antoine, Paris", None]


def test_shapes_are_found_and_ordinary_text_passes() -> None:
    # GIVEN values with an MRN, SSN or date-of-birth shape, and ordinary clinical / maintenance text
    # WHEN they are screened
    # THEN exactly the shaped ones are flagged
    assert phi_shaped(pa.array(SHAPED)).tolist() == [True] * len(SHAPED)
    assert phi_shaped(pa.array(CLEAN, pa.string())).tolist() == [False] * len(CLEAN)


def test_the_screened_columns_are_the_contracts_free_text() -> None:
    free = {e.name: [c.name for c in e.columns if c.is_free_text] for e in ENTITIES.values()}
    assert free == {
        "surgical_robots": ["model", "manufacturer", "facility_name"],
        "surgical_procedures": ["procedure_type", "procedure_category"],
        "procedure_outcomes": [],
        "robot_maintenance_logs": ["parts_replaced", "failure_mode"],
        "procedure_telemetry": [],
    }


def test_phi_in_free_text_is_rejected_and_never_copied(lake):
    # GIVEN procedures with DOB/MRN text in procedure_type, an SSN in procedure_category, an MRN in
    # the (enumerated) status of a row that also has a bad complexity, and a clean procedure
    lake.ingest("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1)]))
    clean = procedure(1)
    dob = procedure(2).replace("prostatectomy", "DOB 03/04/1935 MRN48151623 prostatectomy")
    ssn = procedure(3).replace(",urology,", ",SSN 123-45-6789,")
    status = procedure(4, status="MRN77777777").replace(",high,", ",extreme,")
    # WHEN the file is ingested
    response = lake.ingest("surgical_procedures/p.csv", csv_file(PROC_HEADER, [clean, dob, ssn, status]))
    # THEN only the clean row loads, the three others are rejected with the reason
    assert response == {"batchItemFailures": []}
    assert lake.query("SELECT procedure_id FROM surgical_procedures") == [("PROC-000001",)]
    key = "surgical_procedures/surgical_procedures/p.csv.rejects.ndjson"
    lines = {q["line"]: q for q in lake.quarantine_lines(key)}
    assert {n: q["reasons"] for n, q in lines.items()} == {
        3: ["phi_in_free_text"], 4: ["phi_in_free_text"], 5: ["bad_enum", "phi_in_free_text"]}
    # AND the offending values are blank in quarantine, the rest of the row is there for the operator
    assert (lines[3]["row"]["procedure_type"], lines[3]["row"]["procedure_category"]) == (None, "urology")
    assert (lines[4]["row"]["procedure_category"], lines[4]["row"]["procedure_type"]) == (None, "prostatectomy")
    assert (lines[5]["row"]["status"], lines[5]["row"]["complexity"]) == (None, "extreme")
    # AND no shaped value is anywhere: quarantine, RDS, ledger
    text = lake.s3.get_object(Bucket=lake.quarantine, Key=key)["Body"].read().decode()
    text += "".join(r[0] for r in lake.query("SELECT t::text FROM surgical_procedures t"))
    text += "".join(r[0] for r in lake.query("SELECT t::text FROM etl.ingest_ledger t"))
    for value in ("1935", "48151623", "123-45-6789", "77777777"):
        assert value not in text, value
    assert lake.query("SELECT rows_in, rows_loaded, rows_rejected FROM etl.ingest_ledger"
                      " WHERE object_key = 'surgical_procedures/p.csv'") == [(4, 1, 3)]


def test_free_text_of_maintenance_logs_is_screened_too(lake):
    # GIVEN a maintenance log whose failure mode names a patient's MRN
    lake.ingest("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1)]))
    row = ("MAINT-000001,ROBOT-0001,unscheduled,2025-02-01T08:00:00Z,2025-02-01T12:00:00Z,TECH-0001,"
           "4,arm,1200.5,arm fault during case of MRN 31415926")
    # WHEN it is ingested THEN it is rejected, the failure mode blank in quarantine
    lake.ingest("robot_maintenance_logs/m.csv", csv_file(MAINT_HEADER, [row]))
    (line,) = lake.quarantine_lines("robot_maintenance_logs/robot_maintenance_logs/m.csv.rejects.ndjson")
    assert (line["reasons"], line["row"]["failure_mode"], line["row"]["parts_replaced"]) == (
        ["phi_in_free_text"], None, "arm")

