"""The alert path on real PostgreSQL and moto: de-duplication, outbox, bus, SNS filter policies."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from glue_jobs.telemetry_rollup import write_pending
from lake.alerts import ANOMALY_EPISODE, FAILURE_PRECURSOR, Candidate, alert_id
from lambdas.alerts import episodes, handler, router
from lambdas.alerts.errors import AlertsError, PublishError
from lambdas.alerts.publisher import publish_outbox, publish_pending
from lambdas.alerts.windows import Exported, export_windows
from tests.lambdas.alerts.conftest import BUCKET, BUS, LINEAGE, AlertLake, insert

T = dt.datetime(2024, 3, 5, 10, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 3, 5, 13, 16, 2, tzinfo=dt.UTC)
R1, R2 = "ROBOT-0001", "ROBOT-0002"


def h(n: float) -> dt.datetime:
    return T + dt.timedelta(hours=n)


C1 = Candidate(ANOMALY_EPISODE, R1, "motor_temp_c_avg", h(0), h(2), 3, 4.5)
C2 = Candidate(ANOMALY_EPISODE, R2, "latency_ms_p95", h(0), h(0), 1, -3.2)


def _episodes(lake: AlertLake) -> list[tuple]:
    return lake.rows("SELECT kind, robot_id, facility_id, metric, first_hour, last_hour, anomalous_hours, peak_z"
                     " FROM alert_episodes ORDER BY kind, robot_id, first_hour")


def test_reruns_and_overlapping_recomputes_never_record_an_episode_twice(alert_lake: AlertLake) -> None:
    with psycopg.connect(alert_lake.db_url, autocommit=True) as conn:
        # GIVEN a first run's two episodes WHEN recorded THEN both are new, with their facility
        first = episodes.record(conn, [C1, C2], NOW)
        assert first.new == (alert_id(*_key(C1)), alert_id(*_key(C2))) and first.merged == 0
        # WHEN the same run is recorded again (a re-run) THEN nothing is new
        assert episodes.record(conn, [C1, C2], NOW) == episodes.Recorded((), 2)
        # WHEN a recompute of later dates sees the episode truncated and a bit longer (11:00-13:00),
        # then the next run sees it go on (with its context: from 12:00 to 08:00 the next day)
        truncated = Candidate(ANOMALY_EPISODE, R1, "motor_temp_c_avg", h(1), h(3), 3, -5.0)
        later = Candidate(ANOMALY_EPISODE, R1, "motor_temp_c_avg", h(2), h(22), 4, 3.1)
        assert episodes.record(conn, [truncated, later], NOW) == episodes.Recorded((), 2)
        # AND an episode the job kept apart (it starts after the stored one ended), and a
        # precursor, and an unknown robot's episode are new
        apart = Candidate(ANOMALY_EPISODE, R1, "motor_temp_c_avg", h(23), h(23), 1, 3.0)
        precursor = Candidate(FAILURE_PRECURSOR, R1, "failure_precursor", h(0), h(1), 2, 2.4)
        orphan = Candidate(ANOMALY_EPISODE, "ROBOT-0099", "error_count", h(0), h(0), 1, 6.0)
        assert len(episodes.record(conn, [apart, precursor, orphan], NOW).new) == 3
    # THEN the stored episodes: R1's first widened to 10:00-08:00 next day, peak -5.0 (largest
    # |z|), hours the most any run saw
    assert _episodes(alert_lake) == [
        (ANOMALY_EPISODE, R1, "FAC-001", "motor_temp_c_avg", h(0), h(22), 4, -5.0),
        (ANOMALY_EPISODE, R1, "FAC-001", "motor_temp_c_avg", h(23), h(23), 1, 3.0),
        (ANOMALY_EPISODE, R2, "FAC-002", "latency_ms_p95", h(0), h(0), 1, -3.2),
        (ANOMALY_EPISODE, "ROBOT-0099", None, "error_count", h(0), h(0), 1, 6.0),  # unknown robot
        (FAILURE_PRECURSOR, R1, "FAC-001", "failure_precursor", h(0), h(1), 2, 2.4),
    ]


def _key(c: Candidate) -> tuple[str, str, str, dt.datetime]:
    return c.kind, c.robot_id, c.metric, c.first_hour


def _detail(c: Candidate, facility: str) -> dict[str, Any]:
    return {"schema_version": 1, "alert_id": alert_id(*_key(c)), "kind": c.kind, "robot_id": c.robot_id,
            "facility_id": facility, "metric": c.metric, "first_hour": c.first_hour.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "last_hour": c.last_hour.strftime("%Y-%m-%dT%H:%M:%SZ"), "anomalous_hours": c.anomalous_hours,
            "peak_z": c.peak_z, "detected_at": "2024-03-05T13:16:02Z"}


def test_each_new_episode_goes_on_the_bus_once(alert_lake: AlertLake) -> None:
    # GIVEN a rollup run's pending file
    write_pending(alert_lake.s3, BUCKET, "jr_1", [C1, C2])
    with psycopg.connect(alert_lake.db_url, autocommit=True) as conn:
        # WHEN the alerts function runs THEN two events reach the bus rule, with the documented shape
        result = publish_pending(conn, alert_lake.s3, alert_lake.events, BUCKET, BUS, NOW)
        assert (result.files, result.candidates, result.new, result.merged) == (1, 2, 2, 0)
        delivered = alert_lake.delivered()
        assert sorted(e["detail"]["robot_id"] for e in delivered) == [R1, R2]
        by_robot = {e["detail"]["robot_id"]: e for e in delivered}
        assert by_robot[R1]["detail"] == _detail(C1, "FAC-001")
        assert (by_robot[R1]["source"], by_robot[R1]["detail-type"]) == (
            "surgical-lake.analytics", "Telemetry anomaly episode")
        assert "patient" not in json.dumps(delivered)
        # AND the pending file is gone, both rows are published
        assert alert_lake.s3.list_objects_v2(Bucket=BUCKET, Prefix="_alerts/").get("KeyCount") == 0
        assert alert_lake.rows("SELECT count(*) FROM alert_episodes WHERE published_at = "
                               "'2024-03-05T13:16:02Z'") == [(2,)]
        # WHEN a re-run hands over the same episodes THEN nothing more is published
        write_pending(alert_lake.s3, BUCKET, "jr_2", [C1, C2])
        again = publish_pending(conn, alert_lake.s3, alert_lake.events, BUCKET, BUS, NOW)
        assert (again.new, again.merged, again.published) == (0, 2, ())
        assert alert_lake.delivered() == []
        # WHEN a pending file is not JSON THEN it is set aside, not retried forever
        alert_lake.s3.put_object(Bucket=BUCKET, Key="_alerts/pending/broken.json", Body=b"{")
        assert publish_pending(conn, alert_lake.s3, alert_lake.events, BUCKET, BUS, NOW).files == 0
    keys = [o["Key"] for o in alert_lake.s3.list_objects_v2(Bucket=BUCKET, Prefix="_alerts/")["Contents"]]
    assert keys == ["_alerts/rejected/broken.json"]


class RefusingEvents:
    """EventBridge refusing every entry whose robot is `refuse` (as PutEvents reports it)."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3 spelling)
        return {"Entries": [{"ErrorCode": "InternalException"} if self.refuse in e["Detail"] else {"EventId": "1"}
                            for e in Entries]}


def test_refused_events_stay_in_the_outbox_until_published(alert_lake: AlertLake) -> None:
    with psycopg.connect(alert_lake.db_url, autocommit=True) as conn:
        episodes.record(conn, [C1, C2], NOW)
        # WHEN EventBridge refuses R1's event THEN the call fails and only R2 is marked published
        with pytest.raises(PublishError, match="refused 1"):
            publish_outbox(conn, RefusingEvents(R1), BUS, NOW)
        assert alert_lake.rows("SELECT robot_id FROM alert_episodes WHERE published_at IS NULL") == [(R1,)]
        # WHEN the next run finds the bus healthy THEN R1's alert goes out, R2's is not repeated
        assert [d["robot_id"] for d in publish_outbox(conn, alert_lake.events, BUS, NOW)] == [R1]
    assert [e["detail"]["robot_id"] for e in alert_lake.delivered()] == [R1]


def test_router_sets_the_facility_attribute_hospitals_filter_on(alert_lake: AlertLake) -> None:
    # GIVEN the alert topic and one SQS subscription per hospital with a filter policy
    sns, sqs = alert_lake.sns, alert_lake.sqs
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    inbox = {}
    for facility in ("FAC-001", "FAC-002"):
        url = sqs.create_queue(QueueName=f"hospital-{facility}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"FilterPolicy": json.dumps({"facility_id": [facility]})})
        inbox[facility] = url
    with psycopg.connect(alert_lake.db_url, autocommit=True) as conn:
        write_pending(alert_lake.s3, BUCKET, "jr_1", [C1, C2])
        publish_pending(conn, alert_lake.s3, alert_lake.events, BUCKET, BUS, NOW)
    # WHEN the router receives what the bus delivered
    for event in alert_lake.delivered():
        router.route(event, sns, topic)
    # THEN each hospital gets only its own robot's alert, body = the event detail
    for facility, robot_id, candidate in (("FAC-001", R1, C1), ("FAC-002", R2, C2)):
        (message,) = sqs.receive_message(QueueUrl=inbox[facility], MaxNumberOfMessages=10)["Messages"]
        envelope = json.loads(message["Body"])
        assert json.loads(envelope["Message"]) == _detail(candidate, facility)
        assert envelope["MessageAttributes"]["facility_id"] == {"Type": "String", "Value": facility}
        assert envelope["MessageAttributes"]["robot_id"]["Value"] == robot_id
    with pytest.raises(ValueError, match="not a surgical-lake alert"):
        router.message({"source": "aws.glue", "detail": {}})


def _procedure(pid: int, robot_id: str, start: dt.datetime, hours: float, status: str = "completed") -> dict:
    return {"procedure_id": f"PROC-{pid:06d}", "robot_id": robot_id, "facility_id": "FAC-001",
            "surgeon_id": "SURG-0001", "patient_key": "a" * 64, "patient_age_at_procedure": 64,
            "patient_age_90_plus": False, "patient_zip3": "100", "procedure_type": "t", "procedure_category": "c",
            "complexity": "low", "is_emergency": False, "scheduled_start": start, "actual_start": start,
            "actual_end": start + dt.timedelta(hours=hours), "status": status, **LINEAGE}


def _windows(lake: AlertLake) -> dict[str, list[tuple]]:
    out = {}
    for o in lake.s3.list_objects_v2(Bucket=BUCKET, Prefix="_reference/")["Contents"]:
        table = pq.read_table(io.BytesIO(lake.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()))
        out[o["Key"]] = [(r["procedure_id"], r["actual_start"].hour, r["actual_end"].hour) for r in table.to_pylist()]
    return out


def test_procedure_windows_export(alert_lake: AlertLake) -> None:
    # GIVEN a procedure on March 5th, one across midnight into the 6th and a cancelled one
    with psycopg.connect(alert_lake.db_url, autocommit=True) as conn:
        insert(conn, "surgical_procedures", [_procedure(1, R1, h(0), 2), _procedure(2, R2, h(13), 3),
                                             _procedure(3, R1, h(4), 1, status="cancelled")])
        # WHEN exported THEN one file per UTC date overlapped, no cancelled procedure, no PHI
        assert export_windows(conn, alert_lake.s3, BUCKET).written == 2
        prefix = "_reference/procedure_windows/date="
        assert _windows(alert_lake) == {
            f"{prefix}2024-03-05/windows.parquet": [("PROC-000001", 10, 12), ("PROC-000002", 23, 2)],
            f"{prefix}2024-03-06/windows.parquet": [("PROC-000002", 23, 2)],
        }
        # WHEN nothing changed THEN nothing is rewritten (the rollup sees the same files)
        assert export_windows(conn, alert_lake.s3, BUCKET).written == 0
        # WHEN the midnight procedure is cancelled THEN the 5th is rewritten and the 6th removed
        conn.execute("UPDATE surgical_procedures SET status = 'cancelled' WHERE procedure_id = 'PROC-000002'")
        assert export_windows(conn, alert_lake.s3, BUCKET) == Exported(dates=1, written=1, deleted=1)
    assert list(_windows(alert_lake)) == [f"{prefix}2024-03-05/windows.parquet"]


class FakeContext:
    function_name = "alerts"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:alerts"
    aws_request_id = "req-1"


def test_handler_dispatches_on_the_event(alert_lake: AlertLake, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"PROCESSED_BUCKET": BUCKET, "EVENT_BUS_NAME": BUS, "DATABASE_URL": alert_lake.db_url}.items():
        monkeypatch.setenv(name, value)
    handler._state.clear()
    try:
        assert handler.handler({"action": "export_windows"}, FakeContext()) == {"dates": 0, "written": 0, "deleted": 0}
        # a Glue state change: two episodes of one robot and metric the job kept apart
        write_pending(alert_lake.s3, BUCKET, "jr_1", [C1, Candidate(ANOMALY_EPISODE, R1, C1.metric, h(4), h(4), 1, 3.3)])
        summary = handler.handler({"source": "aws.glue", "detail-type": "Glue Job State Change",
                                   "detail": {"state": "SUCCEEDED"}}, FakeContext())
        assert (summary["new"], len(summary["published"])) == (2, 2)
        with pytest.raises(AlertsError, match="expected"):
            handler.handler({"hello": 1}, FakeContext())
    finally:
        handler._state.clear()
