"""PHI: raw patient values appear nowhere (RDS, Parquet, quarantine, logs); pseudonyms are as specified."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pyarrow as pa
import pytest

from lambdas.ingest.pseudonymize import hmac_hex
from tests.lambdas.ingest.conftest import HMAC_KEY
from tests.lambdas.ingest.samples import (
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    ndjson,
    procedure,
    robot,
    telemetry,
)

MRNS = ("MRN48151623", "MRN42424242", "MRN77777777", "MRN31415926")
NAMES = ("Ada Quixote", "Bertram Zyx", "Cora Vexley", "Dmitri Ulm")
BIRTHS = ("1961-07-19", "1935-03-04", "1935-03-02", "1977-11-30")
ZIPS = ("02139", "94110", "60614", "73301")
SSN = "123-45-6789"


def _procedures_file() -> str:
    rows = [
        procedure(1, mrn=MRNS[0], name=NAMES[0], birth=BIRTHS[0], zip_=ZIPS[0]),
        # 89 on 2025-03-03 (birthday tomorrow) vs 90 the day before: Safe Harbor groups only 90+
        procedure(2, mrn=MRNS[1], name=NAMES[1], birth=BIRTHS[1], zip_=ZIPS[1]),
        procedure(3, mrn=MRNS[2], name=NAMES[2], birth=BIRTHS[2], zip_=ZIPS[2]),
        # rejected (bad enum): still pseudonymized in quarantine
        procedure(4, mrn=MRNS[3], name=NAMES[3], birth=BIRTHS[3], zip_=ZIPS[3], status="postponed"),
    ]
    # one malformed line that carries PHI: recorded by line number only
    rows.append(f"PROC-000005,ROBOT-0001,{MRNS[3]},{NAMES[3]}")
    header = PROC_HEADER + ",ssn"
    return csv_file(header, [r + f",{SSN}" if r.count(",") > 5 else r for r in rows])


def test_raw_patient_values_appear_nowhere(lake, caplog, capsys):
    # GIVEN a robot, procedures full of PHI (plus an unknown SSN column), and telemetry
    caplog.set_level(logging.DEBUG)
    lake.ingest("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1)]))
    response = lake.ingest("surgical_procedures/p.csv", _procedures_file())
    lake.ingest("procedure_telemetry/t.ndjson", ndjson([telemetry(1)]))
    assert response == {"batchItemFailures": []}
    # WHEN everything the pipeline wrote is dumped as text
    dumps = []
    for table in ("surgical_robots", "surgical_procedures", "etl.ingest_ledger", "etl.parked_rows",
                  "etl.lake_files"):
        dumps += [r[0] for r in lake.query(f"SELECT t::text FROM {table} t")]
    for key in lake.keys(lake.quarantine):
        dumps.append(lake.s3.get_object(Bucket=lake.quarantine, Key=key)["Body"].read().decode())
    for key in lake.keys(lake.processed):
        dumps.append(lake.parquet(key).to_pandas().to_csv())
    dumps.append(caplog.text)
    dumps.append(capsys.readouterr().out)
    everything = "\n".join(dumps)
    # THEN no MRN, name, birth date, full ZIP or SSN is anywhere
    for raw in (*MRNS, *NAMES, *BIRTHS, *ZIPS, SSN):
        assert raw not in everything, raw
    # AND the pseudonyms are the keyed HMAC, the age at scheduled_start 2025-03-03 (NULL for 90+) and the ZIP3
    expected_key = hmac.new(HMAC_KEY.encode(), MRNS[0].encode(), hashlib.sha256).hexdigest()
    assert lake.query("SELECT procedure_id, patient_key, patient_age_at_procedure, patient_age_90_plus, patient_zip3"
                      " FROM surgical_procedures ORDER BY 1") == [
        ("PROC-000001", expected_key, 63, False, "021"),
        ("PROC-000002", hmac.new(HMAC_KEY.encode(), MRNS[1].encode(), hashlib.sha256).hexdigest(), 89, False,
         "941"),
        ("PROC-000003", hmac.new(HMAC_KEY.encode(), MRNS[2].encode(), hashlib.sha256).hexdigest(), None, True,
         "606"),
    ]
    assert expected_key != hashlib.sha256(MRNS[0].encode()).hexdigest()
    lines = lake.quarantine_lines("surgical_procedures/surgical_procedures/p.csv.rejects.ndjson")
    assert [(q["line"], q["reasons"]) for q in lines] == [(6, ["malformed_row"]), (5, ["bad_enum"])]
    assert lines[0]["row"] is None
    rejected = lines[1]["row"]
    assert "patient_id" not in rejected and "patient_name" not in rejected and "ssn" not in rejected
    assert (rejected["patient_key"], rejected["patient_age_at_procedure"], rejected["patient_zip3"],
            rejected["status"]) == (
        hmac.new(HMAC_KEY.encode(), MRNS[3].encode(), hashlib.sha256).hexdigest(), 47, "733", "postponed")


@pytest.mark.parametrize("key", [b"", b"short", b"k" * 64, bytes(range(200))], ids=["empty", "short", "block", "long"])
def test_hmac_matches_the_standard_library_for_every_key_length(key: bytes) -> None:
    # GIVEN values with repeats, a NULL, an empty string and non-ASCII text
    values = pa.array(["MRN00000001", None, "", "MRN00000001", "Zoë-Ünïcode"])
    # WHEN they are pseudonymized with the precomputed-pad HMAC
    got = hmac_hex(key, values).to_pylist()
    # THEN each digest is exactly the standard library's HMAC-SHA256
    assert got == [None if v is None else hmac.new(key, v.encode(), hashlib.sha256).hexdigest()
                   for v in values.to_pylist()]


def test_safe_harbor_is_per_patient_and_stable_in_rds_and_quarantine(lake):
    # GIVEN one patient born 1935-06-15 operated on at 89 (2025-06-14) and at 90 (2025-06-15), living
    # in a restricted ZIP3 (036); and two rejected rows of 90+ patients: one with a bad status, one
    # whose scheduled_start does not parse (age unknown)
    mrn = "MRN90000001"
    rows = [
        procedure(1, mrn=mrn, birth="1935-06-15", zip_="03601", start="2025-06-14T23:59:00Z"),
        procedure(2, mrn=mrn, birth="1935-06-15", zip_="03601", start="2025-06-15T00:00:00Z"),
        procedure(3, mrn="MRN90000002", birth="1920-01-01", zip_="89301", status="postponed"),
        procedure(4, mrn="MRN90000003", birth="1920-01-01", zip_="02139", start="2025-13-45T08:00:00Z"),
    ]
    lake.ingest("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1)]))
    # WHEN they are ingested
    lake.ingest("surgical_procedures/old.csv", csv_file(PROC_HEADER, rows))
    # THEN the patient is 89 then 90+, no birth year exists, and 036 is stored as 000
    key = hmac.new(HMAC_KEY.encode(), mrn.encode(), hashlib.sha256).hexdigest()
    assert lake.query("SELECT procedure_id, patient_key, patient_age_at_procedure, patient_age_90_plus,"
                      " patient_zip3 FROM surgical_procedures ORDER BY 1") == [
        ("PROC-000001", key, 89, False, "000"), ("PROC-000002", key, None, True, "000")]
    # AND quarantine applies the same rules: 90+ grouped (or unknown), 893 -> 000, never a birth value
    lines = lake.quarantine_lines("surgical_procedures/surgical_procedures/old.csv.rejects.ndjson")
    got = {q["row"]["procedure_id"]: (q["reasons"], q["row"]["patient_age_at_procedure"],
                                      q["row"]["patient_age_90_plus"], q["row"]["patient_zip3"]) for q in lines}
    assert got == {"PROC-000003": (["bad_enum"], None, True, "000"),
                   "PROC-000004": (["bad_timestamp"], None, None, "021")}
    text = lake.s3.get_object(Bucket=lake.quarantine,
                              Key="surgical_procedures/surgical_procedures/old.csv.rejects.ndjson")["Body"].read()
    assert b"1920" not in text and b"1935" not in text and b"birth" not in text
