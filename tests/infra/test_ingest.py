"""Ingest path: queue + DLQ, the raw bucket notification and the ingest Lambda."""

from __future__ import annotations

from aws_cdk.assertions import Match

from infra.config import INGEST_ENV_VARS


def _queues(synth) -> dict[str, dict]:
    return {q["Properties"]["QueueName"]: q["Properties"] for q in synth.resources("AWS::SQS::Queue").values()}


def _ingest_function(synth) -> dict:
    fns = [f["Properties"] for f in synth.resources("AWS::Lambda::Function").values()
           if f["Properties"].get("FunctionName") == f"{synth.config.prefix}-ingest"]
    assert len(fns) == 1
    return fns[0]


def test_queue_and_dlq_are_kms_encrypted_with_redrive(synth) -> None:
    cfg = synth.config
    queues = _queues(synth)
    # GIVEN the two queues THEN both use the data key
    for name in (cfg.ingest_queue_name, cfg.ingest_dlq_name):
        assert queues[name]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    # AND the ingest queue redrives to the DLQ after maxReceiveCount receives
    redrive = queues[cfg.ingest_queue_name]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == cfg.ingest_max_receive_count == 5
    assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0].startswith("IngestDlq")


def test_visibility_timeout_is_at_least_six_times_the_function_timeout(synth) -> None:
    queue = _queues(synth)[synth.config.ingest_queue_name]
    fn = _ingest_function(synth)
    assert queue["VisibilityTimeout"] >= 6 * fn["Timeout"]
    assert fn["Timeout"] == synth.config.ingest_lambda_timeout_seconds


def test_queues_deny_non_tls_and_only_the_raw_bucket_may_send(synth) -> None:
    policies = {k: p for k, p in synth.resources("AWS::SQS::QueuePolicy").items()
                if all(q["Ref"].startswith("Ingest") for q in p["Properties"]["Queues"])}
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)
        for s in statements:
            if s["Effect"] == "Allow":
                # THEN the only allow is S3, from this account's raw bucket, SendMessage only
                assert s["Principal"] == {"Service": "s3.amazonaws.com"}
                assert s["Action"] == "sqs:SendMessage"
                source = s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Join"][1]
                assert f":s3:::{synth.config.prefix}-raw-" in source
                assert s["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_raw_bucket_notifies_the_queue_on_object_created(synth) -> None:
    raw = [(k, b) for k, b in synth.resources("AWS::S3::Bucket").items() if k.startswith("StorageRaw")]
    (_, bucket), = raw
    config = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    # THEN exactly one notification: every ObjectCreated event goes to the ingest queue
    assert len(config) == 1
    assert config[0]["Event"] == "s3:ObjectCreated:*"
    assert config[0]["Queue"]["Fn::GetAtt"][0].startswith("IngestQueue")
    # AND the bucket is created after the queue policy that lets S3 send (CloudFormation validates it)
    assert any(d.startswith("IngestQueuePolicy") for d in bucket.get("DependsOn", []))
    # AND no CDK notification custom resource (an extra unsecured Lambda) is needed
    assert not synth.resources("Custom::S3BucketNotifications")


def test_ingest_function_runtime_vpc_concurrency_no_layer(synth) -> None:
    fn = _ingest_function(synth)
    assert fn["Runtime"] == "python3.12"
    assert fn["Handler"] == "lambdas.ingest.handler.handler"
    assert fn["ReservedConcurrentExecutions"] == synth.config.ingest_reserved_concurrency
    assert fn["MemorySize"] == synth.config.ingest_lambda_memory_mb
    # /tmp holds one object's Parquet files (~42 B a row) until they are uploaded
    assert fn["EphemeralStorage"] == {"Size": synth.config.ingest_lambda_ephemeral_mb}
    assert len(fn["VpcConfig"]["SubnetIds"]) == 2
    assert all(s["Ref"].startswith("NetworkVpcisolatedSubnet") for s in fn["VpcConfig"]["SubnetIds"])
    assert fn["KmsKeyArn"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    assert fn["LoggingConfig"]["LogGroup"]["Ref"].startswith("IngestLogs")
    # THEN no layer: pyarrow and numpy come with the function at the tested versions (ADR 0006)
    assert "Layers" not in fn


def test_ingest_environment_matches_the_interface(synth) -> None:
    env = _ingest_function(synth)["Environment"]["Variables"]
    # THEN every variable of docs/interfaces.md is set, except the local-only DATABASE_URL
    assert set(INGEST_ENV_VARS) - {"DATABASE_URL"} <= set(env)
    assert "DATABASE_URL" not in env
    assert env["GLUE_DATABASE"] == synth.config.glue_database
    assert env["DB_HOST"]["Fn::GetAtt"][1] == "Endpoint"  # the RDS Proxy, not the instance
    assert env["DB_HOST"]["Fn::GetAtt"][0].startswith("DatabaseInstanceProxy")
    assert env["POWERTOOLS_SERVICE_NAME"] == "ingest"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "SurgicalLake"
    # AND the size limits are cdk.json's, in bytes (what lambdas/ingest/config.py reads)
    cfg = synth.config
    assert (env["INGEST_MAX_OBJECT_BYTES"], env["INGEST_MAX_LINE_BYTES"], env["INGEST_MAX_QUARANTINE_BYTES"]) == (
        str(cfg.ingest_max_object_mb * 1024 * 1024), str(cfg.ingest_max_line_kb * 1024),
        str(cfg.ingest_quarantine_spool_mb * 1024 * 1024))


def test_sqs_event_source_reports_partial_failures_with_bounded_window(synth) -> None:
    mapping = synth.one("AWS::Lambda::EventSourceMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == synth.config.ingest_batch_size
    assert 0 < mapping["MaximumBatchingWindowInSeconds"] <= 300
    assert mapping["MaximumBatchingWindowInSeconds"] == synth.config.ingest_max_batching_window_seconds


def test_hmac_secret_has_its_own_key(synth) -> None:
    # (tests/infra/test_phi_secret.py: who may use that key, retention, the read alarm)
    synth.template.has_resource_properties("AWS::SecretsManager::Secret", {
        "Name": synth.config.hmac_secret_name,
        "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("IngestPhiHmacGuardKey"), "Arn"]},
        "GenerateSecretString": Match.object_like({"PasswordLength": 64}),
    })
