"""cdk.json -> LakeConfig: producers per environment and the raw retention setting."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, Producer, load_config, parse_producers, read_context


def test_producers_are_read_per_environment() -> None:
    assert load_config("dev").producers == (
        Producer("demo-hospital-a", ("FAC-001",)), Producer("demo-hospital-group-b", ("FAC-002", "FAC-003")))
    assert load_config("prod").producers == ()
    assert parse_producers("x", {"h": {"facilities": ["FAC-010"], "assumed_by": ["arn:aws:iam::111122223333:root"]}}
                           ) == (Producer("h", ("FAC-010",), ("arn:aws:iam::111122223333:root",)),)


@pytest.mark.parametrize(("producers", "message"), [
    ({"Bad_Name": {"facilities": ["FAC-001"]}}, "producer name"),
    ({"a": {"facilities": []}}, "needs facilities"),
    ({"a": {"facilities": ["FAC-001"], "bucket": "x"}}, "unknown keys: ['bucket']"),
    ({"a": {"facilities": ["FAC-1"]}}, "not a facility id"),
    ({"a": {"facilities": ["FAC-001"]}, "b": {"facilities": ["FAC-001"]}}, "owned by both 'a' and 'b'"),
])
def test_bad_producers_are_refused_with_a_reason(producers: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_producers("dev", producers)


def test_raw_retention_must_archive_after_ia_and_expire_after_archiving() -> None:
    context = read_context()
    context["surgical-lake"]["environments"]["dev"]["raw_expire_after_days"] = 60
    with pytest.raises(ConfigError, match="30 < raw_archive_after_days < raw_expire_after_days"):
        load_config("dev", context)
