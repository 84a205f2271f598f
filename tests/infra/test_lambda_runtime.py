"""What deploys is what is tested: the synthesized Lambda bundles, run the way Lambda runs them.

Each test takes the asset folder `cdk synth` staged (what CDK zips and Lambda unpacks to
/var/task) and checks it, or runs it under CPython 3.12 with nothing else on `sys.path` but the
runtime's own SDK (tests/infra/lambda_runtime.py says how that differs from AWS). The Python 3.12
interpreter is required: without it these tests fail (they never skip), with a message saying
how to install it.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from infra.bundling import CONSTRAINTS, LAMBDA_PYTHON_VERSION
from infra.ingest import INGEST_HANDLER
from lake.catalog import LAKE_GLUE_TABLES
from local.stack.local_stack import LocalStack
from local.workdir import Workdir
from tests.infra.lambda_runtime import (
    MISSING_PYTHON,
    RUNTIME_SDK,
    find_lambda_python,
    run_in_runtime,
    runtime_sdk,
)
from tests.lambdas.ingest.events import from_sqs_messages
from tests.lambdas.ingest.samples import (
    MAINT_HEADER,
    OUTCOME_HEADER,
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    maintenance,
    ndjson,
    outcome,
    procedure,
    robot,
    telemetry,
)

# AWS Lambda quotas: "Deployment package (.zip file archive) size: 250 MB (unzipped)", which
# counts the function and all its layers; 250 MB = 262,144,000 bytes in the Lambda API.
LAMBDA_UNZIPPED_LIMIT = 262_144_000


def _python_functions(synth) -> dict[str, tuple[dict[str, Any], Path]]:
    """handler -> (function properties, staged asset folder) for each of the project's Python functions
    (not CDK's BucketDeployment handler, whose code and AWS CLI layer aws-cdk-lib ships: infra/web.py)."""
    out = {}
    for logical_id, fn in synth.resources("AWS::Lambda::Function").items():
        props = fn["Properties"]
        if props.get("Runtime", "").startswith("python") and not logical_id.startswith("CustomCDKBucketDeployment"):
            out[props["Handler"]] = (props, synth.outdir / f"asset.{props['Code']['S3Key'].removesuffix('.zip')}")
    return out


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _bundled_distributions(asset: Path) -> dict[str, str]:
    """Canonical name -> version of every distribution pip put into the bundle."""
    found = {}
    for meta in asset.glob("*.dist-info/METADATA"):
        headers = dict(line.split(": ", 1) for line in meta.read_text().splitlines()[:20] if ": " in line)
        found[_canonical(headers["Name"])] = headers["Version"]
    return found


@pytest.fixture(scope="session")
def lambda_python() -> str:
    python = find_lambda_python()
    if python is None:
        pytest.fail(MISSING_PYTHON)
    return python


@pytest.fixture(scope="session")
def sdk() -> Path:
    return runtime_sdk()


# --- the bundle --------------------------------------------------------------------------------

def test_ingest_bundle_fits_the_unzipped_limit_without_a_layer(dev) -> None:
    # GIVEN the ingest function as synthesized
    props, asset = _python_functions(dev)[INGEST_HANDLER]
    # WHEN its unzipped size is measured (no layer adds to it)
    size = _size(asset)
    print(f"ingest bundle: {size:,} bytes unzipped ({size / LAMBDA_UNZIPPED_LIMIT:.0%} of the limit)")
    # THEN it deploys: under Lambda's limit, with pyarrow and numpy inside rather than from a layer
    assert "Layers" not in props
    assert size < LAMBDA_UNZIPPED_LIMIT, f"{size:,} bytes"
    assert (asset / "pyarrow" / "libparquet.so.2500").exists() and (asset / "numpy").is_dir()


def test_every_bundled_distribution_is_pinned_and_is_the_venv_version(dev) -> None:
    # GIVEN the one source of versions and the venv the tests run in
    pins = _pins()
    for handler, (_, asset) in _python_functions(dev).items():
        bundled = _bundled_distributions(asset)
        # THEN every distribution in every bundle is pinned there, at that version, as in the venv
        assert bundled, handler
        for name, version in bundled.items():
            assert pins.get(name) == version, f"{handler}: {name} {version} is not pinned in constraints.txt"
            assert importlib.metadata.version(name) == version, f"{handler}: the venv runs another {name}"
    ingest = _bundled_distributions(_python_functions(dev)[INGEST_HANDLER][1])
    assert {"pyarrow", "numpy", "psycopg", "psycopg-binary", "pgpq", "aws-lambda-powertools", "boto3",
            "botocore"} <= set(ingest)


# What the ingest code relies on beyond "it imports". Each line fails in a runtime that lacks it:
# the AWSSDKPandas layer's pyarrow, for one, has no zstd (issue 12).
FEATURES = """
import gzip, json, sys, tempfile, os
import pyarrow as pa, pyarrow.csv as pacsv, pyarrow.json as pajson, pyarrow.parquet as pq
import boto3, pgpq, psycopg, pydantic_core
import lambdas.ingest.pipeline  # prefers Arrow's jemalloc pool at import
from lambdas.ingest import source
out = {"python": "%d.%d" % sys.version_info[:2], "boto3": [boto3.__version__, boto3.__file__],
       "pool": pa.default_memory_pool().backend_name, "psycopg_impl": psycopg.pq.__impl__,
       "codecs": {c: pa.Codec.is_available(c) for c in ("zstd", "snappy", "gzip", "lz4", "brotli")}}
path = os.path.join(tempfile.mkdtemp(), "t.parquet")
with pq.ParquetWriter(path, pa.schema([("x", pa.int64())]), compression="zstd") as writer:
    writer.write_table(pa.table({"x": [1, 2, 3]}))
meta = pq.ParquetFile(path).metadata
out["parquet"] = [meta.row_group(0).column(0).compression, pq.read_table(path)["x"].to_pylist()]
out["gunzip"] = b"".join(source.decompressed_chunks(iter([gzip.compress(b"a,b\\n1,2\\n")]), True)).decode()
out["csv"] = pacsv.read_csv(pa.py_buffer(b"a,b\\n1,2\\n")).num_rows
out["ndjson"] = pajson.read_json(pa.py_buffer(b'{"a": 1}\\n{"a": 2}\\n')).num_rows
encoder = pgpq.ArrowToPostgresBinaryEncoder(pa.schema([("x", pa.int64())]))
out["pgpq"] = len(encoder.write_header()) > 0
json.dump(out, open(RESULT_FILE, "w"))
"""


def test_the_deployed_runtime_has_every_codec_and_feature_the_ingest_uses(dev, lambda_python: str,
                                                                             sdk: Path) -> None:
    # GIVEN the ingest bundle under CPython 3.12, with the runtime's own (older) SDK behind it
    _, asset = _python_functions(dev)[INGEST_HANDLER]
    # WHEN the features the code relies on are exercised there
    got = run_in_runtime(lambda_python, asset, sdk, FEATURES, {})
    # THEN zstd Parquet round-trips, Arrow runs on jemalloc, the C extensions load for 3.12
    assert got["python"] == LAMBDA_PYTHON_VERSION
    assert got["parquet"] == ["ZSTD", [1, 2, 3]]
    assert got["codecs"]["zstd"] and got["codecs"]["snappy"]
    assert got["pool"] == "jemalloc"
    assert got["psycopg_impl"] == "binary"  # Amazon Linux has no libpq for the pure-Python one
    assert (got["gunzip"], got["csv"], got["ndjson"], got["pgpq"]) == ("a,b\n1,2\n", 1, 2, True)
    # AND boto3 is the bundle's pinned one, not the runtime's
    version, path = got["boto3"]
    assert version == _pins()["boto3"] != RUNTIME_SDK[0].split("==")[1]
    assert path.startswith(str(asset))


INVOKE = """
import importlib, json, os
module_name, function_name = os.environ["HANDLER"].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)  # what Lambda's bootstrap does

class Context:  # the attributes Powertools reads
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = "asset-test-1"
    log_stream_name = "2026/01/01/[$LATEST]asset-test"
    def get_remaining_time_in_millis(self):
        return 300_000

event = json.load(open(os.environ["EVENT_FILE"]))
response = handler(event, Context())
import boto3, pyarrow
json.dump({"response": response, "modules": [boto3.__file__, pyarrow.__file__]}, open(RESULT_FILE, "w"))
"""


@pytest.fixture
def local_stack(tmp_path: Path, migrated_db: str, monkeypatch: pytest.MonkeyPatch):
    """moto (S3 -> SQS notification, Glue database and tables, HMAC secret, all created from the
    stack's config as `lake up` does) + a migrated database on the session's PostgreSQL."""
    monkeypatch.setenv("DATABASE_URL", migrated_db)
    stack = LocalStack(Workdir.at(tmp_path / "work")).start()
    try:
        yield stack
    finally:
        stack.stop(persist=False)


def test_the_handler_from_its_asset_alone_loads_every_entity(dev, lambda_python: str, sdk: Path,
                                                             local_stack: LocalStack, tmp_path: Path) -> None:
    stack = local_stack
    props, asset = _python_functions(dev)[INGEST_HANDLER]
    # GIVEN one small file per entity in the raw bucket, and the SQS messages S3 sent for them
    raw = stack.names.buckets["raw"]
    for key, body in (
        ("surgical_robots/robots.csv", csv_file(ROBOT_HEADER, [robot(1), robot(2)])),
        ("surgical_procedures/procedures.csv", csv_file(PROC_HEADER, [procedure(1)])),
        ("procedure_outcomes/outcomes.csv", csv_file(OUTCOME_HEADER, [outcome(1, proc_n=1)])),
        ("robot_maintenance_logs/maintenance.csv", csv_file(MAINT_HEADER, [maintenance(1, robot_n=2)])),
        ("procedure_telemetry/2025-03-03.ndjson",
         ndjson([telemetry(1), telemetry(2), telemetry(3, robot_n=2, ts="2025-03-03T23:59:59+00:00")])),
    ):
        stack.s3.put_object(Bucket=raw, Key=key, Body=body.encode())
    messages = stack.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 6  # S3's test event + one per object
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(from_sqs_messages(messages, stack.names.queue_arn(stack.names.queue))))
    # AND the function's environment: the template's variables, pointed at the local stack (the
    # database through DATABASE_URL instead of the RDS secret: the local server has no TLS)
    template_env = props["Environment"]["Variables"]
    env = {**stack.handler_env(), "HANDLER": props["Handler"], "EVENT_FILE": str(event_file),
           "AWS_LAMBDA_FUNCTION_NAME": "surgical-lake-dev-ingest"}
    assert set(template_env) - {"DB_SECRET_ARN", "DB_HOST", "DB_PORT", "DB_NAME"} <= set(env)
    # WHEN the handler named in the template runs from the asset under CPython 3.12
    got = run_in_runtime(lambda_python, asset, sdk, INVOKE, env)
    # THEN every message succeeded, with the bundle's own libraries
    assert got["response"] == {"batchItemFailures": []}
    assert all(path.startswith(str(asset)) for path in got["modules"])
    # AND each entity is where it belongs, pseudonymized, with the ledger adding up
    with psycopg.connect(stack.db.url) as conn:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return conn.execute(sql).fetchall()
        assert rows("SELECT robot_id FROM surgical_robots ORDER BY 1") == [("ROBOT-0001",), ("ROBOT-0002",)]
        # born 1960-05-17, scheduled 2025-03-03: 64 at the procedure (Safe Harbor: no birth year)
        assert rows("SELECT procedure_id, robot_id, patient_age_at_procedure, patient_age_90_plus, patient_zip3"
                    " FROM surgical_procedures") == [("PROC-000001", "ROBOT-0001", 64, False, "021")]
        assert rows("SELECT outcome_id, procedure_id FROM procedure_outcomes") == [("OUT-000001", "PROC-000001")]
        assert rows("SELECT maintenance_id, robot_id FROM robot_maintenance_logs") == [("MAINT-000001", "ROBOT-0002")]
        assert rows("SELECT object_key, status, rows_in, rows_loaded, rows_rejected FROM etl.ingest_ledger"
                    " ORDER BY 1") == [
            ("procedure_outcomes/outcomes.csv", "loaded", 1, 1, 0),
            ("procedure_telemetry/2025-03-03.ndjson", "loaded", 3, 3, 0),
            ("robot_maintenance_logs/maintenance.csv", "loaded", 1, 1, 0),
            ("surgical_procedures/procedures.csv", "loaded", 1, 1, 0),
            ("surgical_robots/robots.csv", "loaded", 2, 2, 0),
        ]
    # AND the telemetry is zstd Parquet per (date, robot), registered in the stack's Glue table
    processed = stack.names.buckets["processed"]
    keys = sorted(o["Key"] for o in stack.s3.list_objects_v2(Bucket=processed)["Contents"])
    assert [k.rsplit("/", 1)[0] for k in keys] == ["procedure_telemetry/date=2025-03-03/robot_id=ROBOT-0001",
                                                   "procedure_telemetry/date=2025-03-03/robot_id=ROBOT-0002"]
    files = [pq.ParquetFile(io.BytesIO(stack.s3.get_object(Bucket=processed, Key=k)["Body"].read())) for k in keys]
    assert [f.metadata.num_rows for f in files] == [2, 1]
    assert {f.metadata.row_group(0).column(0).compression for f in files} == {"ZSTD"}
    parts = stack.glue.get_partitions(DatabaseName=stack.names.glue_database, TableName="procedure_telemetry")
    spec = LAKE_GLUE_TABLES["procedure_telemetry"]
    assert sorted((p["Values"], p["StorageDescriptor"]["Location"]) for p in parts["Partitions"]) == [
        (["2025-03-03", f"ROBOT-000{n}"], spec.partition_location(processed, ("2025-03-03", f"ROBOT-000{n}")))
        for n in (1, 2)]


@pytest.mark.parametrize(("handler", "folder"), [
    ("lambdas.redshift_sql.handler", "sql/redshift"), ("lambdas.athena_sql.handler", "sql/athena"),
    ("lambdas.migrate.handler", "sql/rds"),
])
def test_deploy_time_handlers_import_from_their_asset_and_find_their_sql_there(
        dev, lambda_python: str, sdk: Path, handler: str, folder: str) -> None:
    # GIVEN a deploy-time function's staged bundle
    _, asset = _python_functions(dev)[f"{handler}.handler"]
    # WHEN its handler module is imported under CPython 3.12 from the bundle alone
    script = (f"import json, {handler} as h, boto3\n"
              "sql_dir = getattr(h, 'SQL_DIR', None) or h.DEFAULT_SQL_DIR\n"
              "json.dump({'module': h.__file__, 'boto3': boto3.__file__, 'sql_dir': str(sql_dir),"
              " 'files': len(list(sql_dir.glob('*.sql')))}, open(RESULT_FILE, 'w'))\n")
    got = run_in_runtime(lambda_python, asset, sdk, script, {})
    # THEN code, SDK and SQL come from the bundle, with every file of the folder
    assert got["module"].startswith(str(asset)) and got["boto3"].startswith(str(asset))
    assert got["sql_dir"] == str(asset / folder)
    assert got["files"] == len(list((Path(__file__).resolve().parents[2] / folder).glob("*.sql"))) > 0
