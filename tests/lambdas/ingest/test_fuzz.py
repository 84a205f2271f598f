"""Fuzz: corrupted valid files through the real handler never fail, and their counts add up.

Content errors are deterministic, so whatever the bytes, an object must end loaded, partial or
rejected (never an exception that SQS would retry into the DLQ) with
`rows_in = rows_loaded + rows_parked + rows_rejected`. Hypothesis corrupts small valid files of
every entity and shape: bit flips, truncation, inserted bytes, extreme numbers and timestamps,
every line ending, other encodings, deep nesting, and damaged gzip. Derandomized (the same
examples on every run, so CI is deterministic) and bounded: FUZZ_EXAMPLES examples (default
120, ~15 s here); set it higher for a longer local hunt.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
OUTCOMES = [dict(zip(OUTCOME_HEADER.split(","), outcome(i, i).split(","), strict=True)) for i in range(1, 4)]
SEEDS: list[tuple[str, str, str]] = [  # (entity, extension, valid content)
    ("surgical_robots", "csv", csv_file(ROBOT_HEADER, [robot(i) for i in range(1, 5)])),
    ("surgical_procedures", "csv", csv_file(PROC_HEADER, [procedure(i, robot_n=i % 2 + 1) for i in range(1, 4)])),
    ("robot_maintenance_logs", "csv", csv_file(MAINT_HEADER, [maintenance(i) for i in range(1, 4)])),
    ("procedure_outcomes", "json", json.dumps(OUTCOMES, indent=2)),
    ("procedure_outcomes", "json", "".join(json.dumps(o) for o in OUTCOMES)),
    ("procedure_telemetry", "ndjson", ndjson([telemetry(i, robot_n=1 + i % 2) for i in range(6)])),
]
EXTREME_VALUES = [b"18446744073709551615", b"-9223372036854775809", b"1e400", b"-1e400", b"NaN", b"Infinity",
                  b"9999-12-31T23:59:59-05:00", b"0000-01-01", b"0001-01-01T00:00:00+14:00", b"2105-03-04",
                  b"99999999999999999999999999999999999999", b"\x00", b'"', b""]
VALUE = re.compile(rb"[0-9][0-9.:TZ+-]*")


def _flip(data: bytes, draw: st.DrawFn) -> bytes:
    if not data:
        return data
    pos = draw(st.integers(0, len(data) - 1))
    return data[:pos] + bytes([data[pos] ^ (1 << draw(st.integers(0, 7)))]) + data[pos + 1:]


def _truncate(data: bytes, draw: st.DrawFn) -> bytes:
    return data[:draw(st.integers(0, len(data)))]


def _insert(data: bytes, draw: st.DrawFn) -> bytes:
    pos = draw(st.integers(0, len(data)))
    junk = draw(st.one_of(st.binary(min_size=1, max_size=6), st.sampled_from(
        [b"[" * 3000 + b"]" * 3000, b"{" * 3000, b"\r", b"\n\n", b"\xef\xbb\xbf", b'","', b"}{", b"]"])))
    return data[:pos] + junk + data[pos:]


def _extreme(data: bytes, draw: st.DrawFn) -> bytes:
    spans = [m.span() for m in VALUE.finditer(data)]
    if not spans:
        return data
    start, end = draw(st.sampled_from(spans))
    return data[:start] + draw(st.sampled_from(EXTREME_VALUES)) + data[end:]


def _deep(data: bytes, draw: st.DrawFn) -> bytes:
    """A JSON value nested thousands of levels deep (Python's json raises RecursionError on it);
    in a CSV, a field of brackets."""
    spots = [m.end() for m in re.finditer(rb'": ?' if data.lstrip()[:1] in (b"{", b"[") else rb",", data)]
    if not spots:
        return data
    pos = draw(st.sampled_from(spots))
    depth = draw(st.sampled_from([1500, 5000]))
    nested = draw(st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth]))
    return data[:pos] + nested + data[pos:]


def _line_endings(data: bytes, draw: st.DrawFn) -> bytes:
    return data.replace(b"\n", draw(st.sampled_from([b"\r\n", b"\r", b"\n\r", b"\r\r\n"])))


def _encoding(data: bytes, draw: st.DrawFn) -> bytes:
    text = data.decode("utf-8", errors="replace").replace("Hospital", "Hôpital").replace("Jane", "Zoë")
    return text.encode(draw(st.sampled_from(["utf-16", "utf-16-le", "latin-1", "cp1252", "utf-32"])),
                       errors="replace")


TEXT_DAMAGE = [_flip, _truncate, _insert, _extreme, _deep, _deep, _line_endings, _encoding]


def _gzip_damage(data: bytes, draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["none", "flip", "truncate", "zeros", "garbage", "members", "header"]))
    if kind == "flip":
        return _flip(data, draw)
    if kind == "truncate":
        return _truncate(data, draw)
    if kind == "zeros":
        return data + b"\0" * draw(st.integers(1, 600))
    if kind == "garbage":
        return data + draw(st.binary(min_size=1, max_size=8))
    if kind == "members":
        return data + gzip.compress(data[: draw(st.integers(0, len(data)))], mtime=0)
    if kind == "header":
        return data[: draw(st.integers(0, 12))]
    return data


@st.composite
def corrupted_objects(draw: st.DrawFn) -> tuple[str, bytes]:
    """(key suffix with extension, bytes): a valid seed with one to three kinds of damage."""
    entity, ext, text = draw(st.sampled_from(SEEDS))
    data = text.encode()
    for damage in draw(st.lists(st.sampled_from(TEXT_DAMAGE), min_size=1, max_size=3)):
        data = damage(data, draw)
    if draw(st.booleans()):
        data = _gzip_damage(gzip.compress(data, mtime=0), draw)
        ext += ".gz"
    return f"{entity}/fuzz.{ext}", data


def test_corrupted_files_never_fail_and_their_counts_add_up(lake):
    numbers = itertools.count()
    seen: list[tuple[str, str]] = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(corrupted_objects())
    def never_failed(obj: tuple[str, bytes]) -> None:
        # GIVEN a corrupted object under a fresh key
        entity_key, body = obj
        entity, name = entity_key.split("/")
        key = f"{entity}/{next(numbers):04d}-{name}"
        # WHEN its notification is handled
        response = lake.ingest(key, body)
        # THEN the message succeeds, the object finished, once, and its counts add up
        assert response == {"batchItemFailures": []}, key
        [row] = [r for r in lake.ledger() if r["object_key"] == key]
        assert row["status"] in ("loaded", "partial", "rejected"), (key, row["status"], row["error"])
        assert row["attempts"] == 1
        assert row["rows_in"] == row["rows_loaded"] + row["rows_parked"] + row["rows_rejected"]
        seen.append((row["status"], row["error"] or ""))

    never_failed()
    # AND the damage reached every outcome (the fuzz exercised more than one path)
    statuses = {s for s, _ in seen}
    assert {"loaded", "partial", "rejected"} <= statuses, statuses
    assert "unreadable" not in {e for _, e in seen}, "an error no rule names: give it a reason"
