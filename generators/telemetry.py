"""Vectorized telemetry: NumPy columns -> Arrow strings -> polars frames, one chunk at a time.

Each procedure with a window (completed or converted) gets `samples_per_procedure` samples
inside [actual_start, actual_end), cycling over the 4 arms. Before a robot's unscheduled or
emergency maintenance its samples drift: motor temperature and latency rise and controller
errors grow more frequent over the `DRIFT_DAYS` before the failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import polars as pl
import pyarrow as pa

from generators.catalog import BACKGROUND_ERRORS, DRIFT_ERRORS, FACILITIES
from generators.records import TelemetryPlan
from generators.timefmt import style_suffix
from lake.contract import ENTITIES, DType

DRIFT_DAYS = 7
DAY_MS = 86_400_000
EPOCH_DATE = dt.date(1970, 1, 1)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ROBOT_SHIFT = 42  # robot index above the epoch-ms bits in a combined search key
ENTITY = ENTITIES["procedure_telemetry"]
COLUMNS = list(ENTITY.column_names)
_ERROR_CODES = pl.Series([None, *BACKGROUND_ERRORS, *DRIFT_ERRORS], dtype=pl.String)  # index 0: no error


def _fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """An Arrow string array over an (n, width) uint8 ASCII matrix, without Python objects."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


def _ragged_strings(chars: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """An Arrow string array from the first `lengths[i]` bytes of each row of a uint8 matrix."""
    n, width = chars.shape
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    keep = np.arange(width)[None, :] < lengths[:, None]
    data = chars[keep]
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _table(width: int) -> np.ndarray:
    """(10**width, width) ASCII digits of 0 .. 10**width - 1, zero padded."""
    values = np.arange(10**width)
    return np.stack([(values // 10**k) % 10 + ord("0") for k in range(width - 1, -1, -1)], axis=1).astype(
        np.uint8
    )


_TWO, _THREE = _table(2), _table(3)
_HEX2 = np.array([[ord(c) for c in f"{b:02x}"] for b in range(256)], dtype=np.uint8)


def _prefixed_ids(prefix: bytes, numbers: np.ndarray, width: int) -> np.ndarray:
    """(n, len(prefix) + width) ASCII of e.g. PROC-000123 for small n (per procedure or robot)."""
    digits = np.array([[ord(c) for c in f"{int(v):0{width}d}"] for v in numbers], dtype=np.uint8)
    head = np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (len(numbers), len(prefix)))
    return np.hstack([head, digits.reshape(len(numbers), width)])


def _hex4_table() -> np.ndarray:
    """(65536, 4) ASCII hex of a little-endian uint16: the low byte's two digits first."""
    values = np.arange(65_536)
    low, high = values & 0xFF, values >> 8
    return np.concatenate([_HEX2[low], _HEX2[high]], axis=1)


_HEX4 = np.ascontiguousarray(_hex4_table()).view("<u4").ravel()  # uint16 -> its 4 hex digits as one word


def _clock_table() -> np.ndarray:
    """(86400, 8) ASCII `HH:MM:SS` for every second of a day."""
    secs = np.arange(86_400)
    out = np.empty((86_400, 8), dtype=np.uint8)
    out[:, 0:2], out[:, 3:5], out[:, 6:8] = _TWO[secs // 3600], _TWO[secs // 60 % 60], _TWO[secs % 60]
    out[:, [2, 5]] = ord(":")
    return out


_CLOCK = _clock_table()


def uuid4_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """n random version-4 UUIDs as canonical lowercase text."""
    raw = np.frombuffer(rng.bytes(n * 16), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = _HEX4[raw.view("<u2")].view(np.uint8).reshape(n, 32)
    out = np.empty((n, 36), dtype=np.uint8)
    out[:, [8, 13, 18, 23]] = ord("-")
    out[:, 0:8], out[:, 9:13], out[:, 14:18] = hexed[:, 0:8], hexed[:, 8:12], hexed[:, 12:16]
    out[:, 19:23], out[:, 24:36] = hexed[:, 16:20], hexed[:, 20:32]
    return _fixed_width_strings(out)


def iso_strings(local_ms: np.ndarray, suffix: np.ndarray, suffix_len: np.ndarray) -> pa.Array:
    """`YYYY-MM-DDTHH:MM:SS.mmm` + a per-row suffix (`Z`, `+02:00` or nothing), vectorized.

    `local_ms` is epoch milliseconds already shifted to the wall clock to print; `suffix` an
    (n, 6) uint8 matrix and `suffix_len` the used bytes of each row. Dates are formatted once per
    distinct day, times of day with lookup tables (every second of a day, every millisecond).
    """
    days, ms = np.divmod(local_ms, DAY_MS)
    first = int(days.min()) if len(days) else 0
    span = (int(days.max()) - first + 1) if len(days) else 0
    dates = np.array(
        [list((EPOCH_DATE + dt.timedelta(days=first + d)).isoformat().encode()) for d in range(span)],
        dtype=np.uint8,
    ).reshape(span, 10)
    secs, milli = np.divmod(ms.astype(np.int32), 1000)
    out = np.empty((len(local_ms), 29), dtype=np.uint8)
    out[:, 0:10] = dates[days - first]
    out[:, 10], out[:, 19] = ord("T"), ord(".")
    out[:, 11:19] = _CLOCK[secs]
    out[:, 20:23] = _THREE[milli]
    out[:, 23:29] = suffix
    return _ragged_strings(out, 23 + suffix_len)


def _drift_ramp(plan: TelemetryPlan, robot: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
    """0 far from a failure, rising to 1 at the failure of the same robot (within DRIFT_DAYS)."""
    ramp = np.zeros(len(t_ms))
    if len(plan.failure_ms) == 0:
        return ramp
    fkeys = np.sort((plan.failure_robot << _ROBOT_SHIFT) + plan.failure_ms)
    skeys = (robot << _ROBOT_SHIFT) + t_ms
    idx = np.searchsorted(fkeys, skeys, side="right")
    valid = idx < len(fkeys)
    nxt = fkeys[np.minimum(idx, len(fkeys) - 1)]
    valid &= (nxt >> _ROBOT_SHIFT) == robot
    gap = (nxt & ((1 << _ROBOT_SHIFT) - 1)) - t_ms
    window = DRIFT_DAYS * DAY_MS
    ramp[valid] = np.clip(1.0 - gap[valid] / window, 0.0, 1.0)
    return ramp


def _suffix_matrix() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per facility: (ms to add to UTC before printing, suffix bytes (k, 6), suffix lengths)."""
    shifts = np.array([style_suffix(f)[0] * 1000 for f in FACILITIES], dtype=np.int64)
    texts = [style_suffix(f)[1].encode() for f in FACILITIES]
    matrix = np.zeros((len(texts), 6), dtype=np.uint8)
    for i, text in enumerate(texts):
        matrix[i, : len(text)] = np.frombuffer(text, dtype=np.uint8)
    return shifts, matrix, np.array([len(t) for t in texts], dtype=np.int64)


def chunk_frame(plan: TelemetryPlan, procs: np.ndarray, spp: int, rng: np.random.Generator) -> pl.DataFrame:
    """Telemetry for the procedures at positions `procs` of the plan, sorted by time.

    Carries a helper column `_t` (epoch ms, UTC) for splitting into day files.
    """
    p = len(procs)
    n = p * spp
    which = np.repeat(np.arange(p), spp)
    j = np.tile(np.arange(spp), p)
    frac = (j + rng.random(n)) / spp
    start, end = plan.start_ms[procs][which], plan.end_ms[procs][which]
    t_ms = start + np.floor(frac * (end - start)).astype(np.int64)
    order = np.argsort(t_ms, kind="stable")  # sort once, then compute every column in time order
    which, j, frac, t_ms = which[order], j[order], frac[order], t_ms[order]
    proc_num = plan.procedure_num[procs]
    robot = plan.robot_idx[procs][which]
    arm = (j % 4 + 1).astype(np.int32)
    ramp = _drift_ramp(plan, robot, t_ms)

    temp = plan.robot_temp_base[robot] + (arm - 2.5) * 0.8 + 7.0 * frac + rng.normal(0, 1.0, n)
    temp += 22.0 * ramp**2
    latency = plan.robot_latency_base[robot] * rng.lognormal(0, 0.25, n) * (1.0 + 2.0 * ramp**2)
    force = rng.gamma(2.0, 3.5, n) + arm * 0.5
    torque = rng.normal(0, 6.0, n) + 0.25 * force
    phase = (proc_num[which] % 360) * (np.pi / 180)
    angle = 75.0 * np.sin(2 * np.pi * frac * 3 + phase + arm) + rng.normal(0, 4.0, n)

    error_p = 0.002 + 0.10 * ramp**2
    has_error = rng.random(n) < error_p
    drift_error = rng.random(n) < ramp
    background = 1 + rng.integers(0, len(BACKGROUND_ERRORS), n)
    drifted = 1 + len(BACKGROUND_ERRORS) + rng.integers(0, len(DRIFT_ERRORS), n)
    code_idx = np.where(has_error, np.where(drift_error, drifted, background), 0)

    fac = plan.robot_facility[robot]
    shifts, suffixes, suffix_len = _suffix_matrix()
    robot_ids = _prefixed_ids(b"ROBOT-", np.arange(1, len(plan.robot_temp_base) + 1), 4)
    return pl.DataFrame(
        {
            "telemetry_id": pl.from_arrow(uuid4_strings(rng, n)),
            "procedure_id": pl.from_arrow(_fixed_width_strings(_prefixed_ids(b"PROC-", proc_num, 6)[which])),
            "robot_id": pl.from_arrow(_fixed_width_strings(robot_ids[robot])),
            "timestamp": pl.from_arrow(iso_strings(t_ms + shifts[fac], suffixes[fac], suffix_len[fac])),
            "arm_id": arm,
            "joint_angle_deg": np.clip(angle, -179.99, 179.99).round(2),
            "force_newtons": np.clip(force, 0.0, 499.0).round(2),
            "torque_nm": np.clip(torque, -199.0, 199.0).round(3),
            "motor_temp_c": np.clip(temp, -20.0, 149.0).round(2),
            "latency_ms": np.clip(latency, 0.0, 9_999.0).round(3),
            "error_code": _ERROR_CODES.gather(code_idx),
            "_t": t_ms,
        }
    ).select([*COLUMNS, "_t"])


def ndjson_lines(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The frame as NDJSON text: (bytes as uint8, offsets of each line's start plus the end).

    Lines are assembled with one `concat_str` over the contract's columns (strings quoted,
    nullable columns as `null`), which is faster than `write_ndjson` and gives the line
    boundaries for free: `data[offsets[i]:offsets[i + 1]]` is row i with its newline.
    Telemetry strings (ids, ISO timestamps, error codes) never need JSON escaping.
    """
    parts: list[pl.Expr] = []
    for k, col in enumerate(ENTITY.columns):
        text_like = col.dtype in (DType.STRING, DType.TIMESTAMP)
        value = pl.col(col.name).cast(pl.String)
        if text_like:
            value = pl.concat_str(pl.lit('"'), value, pl.lit('"'))
        if col.nullable:
            value = pl.when(pl.col(col.name).is_null()).then(pl.lit("null")).otherwise(value)
        parts += [pl.lit(("{" if k == 0 else ",") + f'"{col.name}":'), value]
    parts.append(pl.lit("}\n"))
    lines = frame.select(pl.concat_str(parts).alias("line")).to_series().to_arrow()
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    lines = lines.cast(pa.large_string())
    _, offsets_buf, data_buf = lines.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return np.frombuffer(data_buf, dtype=np.uint8), offsets


def day_chunks(
    plan: TelemetryPlan, spp: int, seed: int, chunk_rows: int = 1_000_000
) -> Iterator[tuple[pl.DataFrame, list[tuple[int, int, int]]]]:
    """(frame in time order, [(UTC day number since the epoch, first row, end row)]) per chunk.

    Procedures are taken in start order in chunks of about `chunk_rows` samples, so memory stays
    bounded at any scale; samples of a procedure that runs past midnight are carried into the
    next chunk, whose first day they belong to. Every yielded day is complete.
    """
    if spp == 0 or len(plan.start_ms) == 0:
        return
    by_start = np.argsort(plan.start_ms, kind="stable")
    per_chunk = max(1, chunk_rows // spp)
    carry: pl.DataFrame | None = None
    for chunk_no, first in enumerate(range(0, len(by_start), per_chunk)):
        rng = np.random.default_rng([seed, 5, chunk_no])
        frame = chunk_frame(plan, by_start[first : first + per_chunk], spp, rng)
        if carry is not None:
            frame = pl.concat([carry, frame]).sort("_t", maintain_order=True)
        last_chunk = first + per_chunk >= len(by_start)
        days = frame["_t"].to_numpy() // DAY_MS
        # Days before the next chunk's first start are complete.
        complete_before = (
            days.max() + 1 if last_chunk else plan.start_ms[by_start[first + per_chunk]] // DAY_MS
        )
        bounds = np.searchsorted(days, np.arange(days.min(), complete_before + 1), side="left")
        spans = [
            (day, int(bounds[k]), int(bounds[k + 1]))
            for k, day in enumerate(range(int(days.min()), int(complete_before)))
            if bounds[k + 1] > bounds[k]
        ]
        cut = int(bounds[-1])
        yield frame.slice(0, cut), spans
        carry = frame.slice(cut) if cut < frame.height else None
