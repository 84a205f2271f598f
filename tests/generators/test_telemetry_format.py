"""The vectorized text builders agree with the standard library on every value."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np

from generators.telemetry import iso_strings, uuid4_strings


def test_iso_strings_match_datetime_for_any_instant_and_suffix() -> None:
    # GIVEN random instants from 1970 to 2100 (leap years, month ends) and three suffix styles
    rng = np.random.default_rng(1)
    ms = np.sort(rng.integers(0, 4_102_444_800_000, 5_000))
    ms[:3] = [0, 951_782_400_000, 4_102_444_799_999]  # epoch, 2000-02-29, 2099-12-31T23:59:59.999
    styles = [b"Z", b"", b"+02:00"]
    suffix = np.zeros((len(ms), 6), dtype=np.uint8)
    length = np.zeros(len(ms), dtype=np.int64)
    for i in range(len(ms)):
        text = styles[i % 3]
        suffix[i, : len(text)] = np.frombuffer(text, dtype=np.uint8)
        length[i] = len(text)
    # WHEN formatting them vectorized
    got = iso_strings(ms, suffix, length).to_pylist()
    # THEN each equals datetime's ISO text with that suffix
    base = dt.datetime(1970, 1, 1)
    expected = [
        (base + dt.timedelta(milliseconds=int(v))).isoformat(timespec="milliseconds") + styles[i % 3].decode()
        for i, v in enumerate(ms)
    ]
    assert got == expected
    assert got[1].startswith("2000-02-29T00:00:00.000")


def test_uuid4_strings_are_canonical_version_4() -> None:
    # WHEN generating UUIDs vectorized
    values = uuid4_strings(np.random.default_rng(2), 2_000).to_pylist()
    # THEN they parse, print back identically, are version 4 / RFC 4122 variant and unique
    parsed = [uuid.UUID(v) for v in values]
    assert [str(u) for u in parsed] == values
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(values)) == len(values)


def test_ndjson_lines_match_polars_write_ndjson() -> None:
    # GIVEN a real telemetry chunk (tiny fleet, every facility style, some error codes)
    import io

    from generators.options import resolve
    from generators.telemetry import chunk_frame, ndjson_lines
    from generators.transactional import build_world

    plan = build_world(resolve("tiny")).telemetry
    frame = chunk_frame(plan, np.arange(len(plan.start_ms)), 40, np.random.default_rng(3)).drop("_t")
    # WHEN assembling the lines with concat_str
    data, offsets = ndjson_lines(frame)
    # THEN the bytes equal polars' own NDJSON writer, and offsets mark every line
    expected = io.BytesIO()
    frame.write_ndjson(expected)
    assert data[offsets[0] : offsets[-1]].tobytes() == expected.getvalue()
    assert len(offsets) == frame.height + 1
    assert data[offsets[1] - 1] == ord("\n") and frame["error_code"].null_count() < frame.height
