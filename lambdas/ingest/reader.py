"""Decompressed bytes -> record batches of the contract's columns, with source line numbers.

Memory stays bounded: the stream is cut into blocks of whole lines (BLOCK_BYTES) and each block
is parsed on its own. The fast path hands a block to Arrow's C++ readers; a block Arrow refuses
(a malformed line, a value of the wrong JSON type) is bisected so only the offending lines take
the per-line Python path. A malformed line is one rejected row (`malformed_row`), not a failed
file. Columns the contract does not know (possible PHI a hospital adds) are never kept: only
their names are reported (`RawBatch.unknown`).

Line breaks are LF, CRLF or CR alone (Excel for Mac); a line longer than `max_line` is one
`malformed_row`, skipped unread. JSON objects may be NDJSON, one array of records, or records
concatenated without separators (`json_records`); the shape is recognised from the first record.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from lake.contract import DType, Entity
from lambdas.ingest.errors import ObjectRejected
from lambdas.ingest.json_records import record_blocks
from lambdas.ingest.routing import Format

BLOCK_BYTES = 8 << 20
MAX_LINE_BYTES = 1 << 20
_SNIFF_BYTES = 1 << 20  # how far the first JSON record is looked for to tell NDJSON from a document
_SLOW_PATH_LINES = 64  # below this many lines a refused range is parsed line by line
_JSON_TYPES = {DType.FLOAT: pa.float64(), DType.INT: pa.int64(), DType.BOOL: pa.bool_()}
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 13, 32]] = True
_BOM = b"\xef\xbb\xbf"
_DECODER = json.JSONDecoder()


@dataclass
class RawBatch:
    """Rows as parsed: typed where Arrow's JSON reader typed them, strings otherwise."""

    table: pa.Table
    lines: np.ndarray  # int64, 1-based source line where each row starts
    malformed: list[int] = field(default_factory=list)  # lines that are no row at all
    unknown: set[str] = field(default_factory=set)  # names of columns/keys the contract lacks


class _LongLine:
    """Marker: one line longer than the limit was skipped unread."""


_LONG_LINE = _LongLine()


def _last_break(data: bytes) -> int:
    """Offset just after the last line break of `data` whose end is certain (0: none).

    A CR as the very last byte is not yet a break: the next chunk may start with its LF.
    """
    lf = data.rfind(b"\n")
    cr = data.rfind(b"\r", lf + 1)  # only a CR after the last LF can be the last break
    if cr == len(data) - 1:
        cr = data.rfind(b"\r", lf + 1, cr)
    return max(lf, cr) + 1


def _first_break(data: bytes) -> tuple[int, bool]:
    """(offset just after the first line break or -1, whether it is a CR ending `data`)."""
    found = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    if not found:
        return -1, False
    i = min(found)
    if data[i] == 13 and data[i + 1 : i + 2] == b"\n":
        return i + 2, False
    return i + 1, data[i] == 13 and i == len(data) - 1


def _lf_only(data: bytes, end: int) -> memoryview:
    """`data[:end]` with every CR that is not part of CR LF turned into LF (a copy only then)."""
    view = memoryview(data)[:end]
    if data.find(b"\r", 0, end) < 0:
        return view
    arr = np.frombuffer(view, dtype=np.uint8)
    lone = arr == 13
    lone[:-1] &= arr[1:] != 10
    if not lone.any():
        return view
    fixed = arr.copy()
    fixed[lone] = 10
    return memoryview(fixed.tobytes())


def line_blocks(chunks: Iterator[bytes], block_bytes: int = BLOCK_BYTES,
                max_line: int = MAX_LINE_BYTES) -> Iterator[memoryview | _LongLine]:
    """Blocks of whole lines, each ending in LF (CR-only breaks become LF, CR LF stays).

    A line that grows past `max_line` without a break is skipped up to its end and
    reported as `_LONG_LINE` in its place, so memory stays within about
    max(block_bytes, max_line) plus one chunk.
    """
    pending: list[bytes] = []
    size = 0
    skipping = drop_lf = False
    for i, chunk in enumerate(chunks):
        if i == 0:
            chunk = chunk.removeprefix(_BOM)
        if drop_lf and chunk:
            chunk = chunk.removeprefix(b"\n")
            drop_lf = False
        if skipping:
            cut, drop_lf = _first_break(chunk)
            if cut < 0:
                continue
            chunk, skipping = chunk[cut:], False
        pending.append(chunk)
        size += len(chunk)
        if size < block_bytes:
            continue
        data = b"".join(pending)
        cut = _last_break(data)
        if cut == 0:
            if len(data) > max_line:
                yield _LONG_LINE
                pending, size = [], 0
                if data.endswith(b"\r"):  # the long line ended right here (CR, maybe CR LF)
                    drop_lf = True
                else:
                    skipping = True
            else:
                pending = [data]
            continue
        rest = data[cut:]
        pending, size = [rest], len(rest)
        yield _checked_utf8(_lf_only(data, cut))
    if skipping:
        return
    data = b"".join(pending)
    if data:
        if not data.endswith((b"\n", b"\r")):
            data += b"\n"
        yield _checked_utf8(_lf_only(data, len(data)))


def _checked_utf8(block: memoryview) -> memoryview:
    """The block, once Arrow has validated it as UTF-8 (no decoded copy)."""
    offsets = pa.py_buffer(np.array([0, len(block)], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(block)]).validate(full=True)
    except pa.ArrowInvalid as exc:
        raise ObjectRejected("not_utf8") from exc
    return block


@dataclass
class _Lines:
    """Spans of the non-empty lines of a block (or of one stretch of it)."""

    starts: np.ndarray
    ends: np.ndarray  # exclusive, newline (and a CR before it) excluded
    numbers: np.ndarray
    physical: int  # lines in the block, blank ones included

    def without_first(self) -> _Lines:
        return _Lines(self.starts[1:], self.ends[1:], self.numbers[1:], self.physical)


def _lines(block: memoryview, first_line: int, blank_is_empty: bool,
           max_line: int = MAX_LINE_BYTES) -> tuple[list[_Lines], list[int], int]:
    """(stretches of consecutive usable lines, numbers of lines longer than `max_line`, lines
    in the block, blank ones included). A block without over-long lines is one stretch.
    """
    arr = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], newlines[:-1] + 1))
    ends = newlines.copy()
    has_cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
    ends[has_cr] -= 1
    keep = ends > starts
    if blank_is_empty:
        # A line is blank when it holds only whitespace; only lines starting with whitespace can be.
        suspects = np.flatnonzero(keep & _WHITESPACE[arr[np.minimum(starts, len(arr) - 1)]])
        for i in suspects:
            keep[i] = bool(bytes(block[starts[i]:ends[i]]).strip())
    numbers = np.arange(first_line, first_line + len(starts), dtype=np.int64)
    long = keep & (ends - starts > max_line)
    if not long.any():
        return [_Lines(starts[keep], ends[keep], numbers[keep], len(starts))], [], len(starts)
    stretch = np.cumsum(long)  # lines between two long ones share a stretch
    usable = keep & ~long
    parts = [_Lines(starts[m], ends[m], numbers[m], len(starts))
             for k in np.unique(stretch[usable]) for m in [usable & (stretch == k)]]
    return parts, numbers[long].tolist(), len(starts)


def _numbered(chunks: Iterator[bytes], block_bytes: int, max_line: int, blank_is_empty: bool
              ) -> Iterator[tuple[memoryview, list[_Lines], list[int]]]:
    """(block, stretches of usable lines, numbers of lines over `max_line`) for the whole stream;
    a line skipped unread while it grew past the limit comes as its own empty block."""
    first_line = 1
    for block in line_blocks(chunks, block_bytes, max_line):
        if isinstance(block, _LongLine):
            yield memoryview(b""), [], [first_line]
            first_line += 1
            continue
        stretches, long, physical = _lines(block, first_line, blank_is_empty, max_line)
        first_line += physical
        yield block, stretches, long


def _stream(view: memoryview) -> pa.BufferReader:
    """A zero-copy Arrow input stream over part of a block."""
    return pa.BufferReader(pa.py_buffer(view))


def _empty(entity: Entity, malformed: list[int]) -> RawBatch:
    return RawBatch(pa.table({n: pa.array([], pa.string()) for n in entity.column_names}),
                    np.zeros(0, dtype=np.int64), malformed)


# --- JSON ----------------------------------------------------------------------------------------

def json_schema(entity: Entity) -> pa.Schema:
    return pa.schema([(c.name, _JSON_TYPES.get(c.dtype, pa.string())) for c in entity.columns])


def _text(value: object) -> str | None:
    """A parsed JSON value as the text the validator coerces (exact for any integer)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isinf(value):  # 1e400: a number beyond double, not "inf"
        return "1e999" if value > 0 else "-1e999"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _records_of_line(raw: bytes) -> list[dict] | None:
    """The JSON objects on one line (usually one; Firehose-style `{..}{..}` gives several).

    Any failure, whatever the bytes (deep nesting, giant numbers), means the line is malformed.
    """
    try:
        text = raw.decode("utf-8")
        out: list[dict] = []
        i, n = 0, len(text)
        while True:
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i == n:
                return out or None
            obj, i = _DECODER.raw_decode(text, i)
            if not isinstance(obj, dict):
                return None
            out.append(obj)
    except Exception:  # noqa: BLE001 - a record's own bytes: any error makes it malformed, never the object
        return None


def _ndjson_slow(block: memoryview, lines: _Lines, lo: int, hi: int, names: tuple[str, ...]) -> RawBatch:
    rows: list[dict] = []
    good: list[int] = []
    bad: list[int] = []
    for i in range(lo, hi):
        records = _records_of_line(bytes(block[lines.starts[i]:lines.ends[i]]))
        if records is None:
            bad.append(int(lines.numbers[i]))
            continue
        rows.extend(records)
        good.extend([int(lines.numbers[i])] * len(records))
    known = set(names)
    unknown = {k for r in rows for k in r if k not in known}
    table = pa.table({n: pa.array([_text(r.get(n)) for r in rows], pa.string()) for n in names})
    return RawBatch(table, np.asarray(good, dtype=np.int64), bad, unknown)


def _parse_json(view: memoryview, attempts: tuple[pajson.ParseOptions, ...]) -> tuple[pa.Table | None, int]:
    """(table, index of the attempt that parsed it) or (None, -1)."""
    for i, options in enumerate(attempts):
        try:
            return pajson.read_json(_stream(view), parse_options=options), i
        except pa.ArrowInvalid:
            continue
    return None, -1


def _sampled_keys(block: memoryview, lines: _Lines, lo: int, hi: int, known: set[str]) -> set[str]:
    """Keys outside the contract in the first and last record of a range (Arrow skipped them)."""
    found: set[str] = set()
    for i in {lo, hi - 1}:
        for record in _records_of_line(bytes(block[lines.starts[i]:lines.ends[i]])) or []:
            found.update(k for k in record if k not in known)
    return found


def _ndjson_range(block: memoryview, lines: _Lines, lo: int, hi: int, entity: Entity,
                  attempts: tuple[pajson.ParseOptions, ...]) -> Iterator[RawBatch]:
    if hi <= lo:
        return
    if hi - lo > _SLOW_PATH_LINES:
        table, used = _parse_json(block[lines.starts[lo]:lines.ends[hi - 1] + 1], attempts)
        if table is not None and table.num_rows == hi - lo:
            unknown = _sampled_keys(block, lines, lo, hi, set(entity.column_names)) if used > 0 else set()
            yield RawBatch(table, lines.numbers[lo:hi], unknown=unknown)
            return
        mid = (lo + hi) // 2
        lenient = attempts[-1:]
        yield from _ndjson_range(block, lines, lo, mid, entity, lenient)
        yield from _ndjson_range(block, lines, mid, hi, entity, lenient)
        return
    yield _ndjson_slow(block, lines, lo, hi, entity.column_names)


def _json_attempts(entity: Entity) -> tuple[pajson.ParseOptions, ...]:
    # Arrow parses ~15 % faster when fields outside the schema are an error than when it has to
    # skip them, so a block is tried that way first; a block with extra fields (or any other
    # problem) is parsed again skipping them, which is what the contract asks. Never "infer":
    # inferring a deeply nested extra field crashes Arrow (segfault at ~100 k levels, measured).
    return tuple(pajson.ParseOptions(explicit_schema=json_schema(entity), unexpected_field_behavior=b)
                 for b in ("error", "ignore"))


def _read_ndjson(chunks: Iterator[bytes], entity: Entity, block_bytes: int,
                 max_line: int) -> Iterator[RawBatch]:
    attempts = _json_attempts(entity)
    for block, stretches, long in _numbered(chunks, block_bytes, max_line, blank_is_empty=True):
        for lines in stretches:
            yield from _ndjson_range(block, lines, 0, len(lines.starts), entity, attempts)
        if long:
            yield _empty(entity, long)


def _read_document(chunks: Iterator[bytes], entity: Entity, array: bool, block_bytes: int,
                   max_line: int) -> Iterator[RawBatch]:
    attempts = _json_attempts(entity)
    for records in record_blocks(chunks, array, block_bytes, max_line):
        if records.data:
            block = _checked_utf8(memoryview(records.data))
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            lines = _Lines(np.concatenate(([0], ends[:-1] + 1)), ends, records.lines, len(ends))
            yield from _ndjson_range(block, lines, 0, len(lines.starts), entity, attempts)
        if records.too_long:
            yield _empty(entity, records.too_long)


def json_shape(head: bytes) -> str:
    """"array", "document" (records spanning lines or sharing one) or "lines" (NDJSON).

    Decided from the first record only; when it cannot be parsed, "lines" keeps the damage to
    its line.
    """
    text = head[:_SNIFF_BYTES].decode("utf-8", errors="ignore").lstrip(" \t\r\n")
    if text.startswith("["):
        return "array"
    try:
        _, end = _DECODER.raw_decode(text)
    except Exception:  # noqa: BLE001 - undecidable: line by line contains the damage
        return "lines"
    spans_lines = "\n" in text[:end] or "\r" in text[:end]
    after = text[end:].lstrip(" \t")
    shares_line = bool(after) and after[0] not in "\r\n"
    return "document" if spans_lines or shares_line else "lines"


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    del first
    yield from rest


def read_json(chunks: Iterator[bytes], entity: Entity, block_bytes: int = BLOCK_BYTES,
              max_line: int = MAX_LINE_BYTES) -> Iterator[RawBatch]:
    """NDJSON, one JSON array of records or concatenated records, whichever the object holds."""
    stream = iter(chunks)
    head = b""
    for chunk in stream:
        head += chunk
        if len(head) >= _SNIFF_BYTES:
            break
    head = head.removeprefix(_BOM)
    shape = json_shape(head)
    rest = _prepend(head, stream)
    del head  # the first block is the reader's from now on: nothing here may keep 8 MB alive
    if shape == "lines":
        yield from _read_ndjson(rest, entity, block_bytes, max_line)
    else:
        yield from _read_document(rest, entity, shape == "array", block_bytes, max_line)


# --- CSV -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Header:
    """Each cell's contract column name (other cells get a placeholder) and the unknown names."""

    names: list[str]
    unknown: set[str]


def _header_cells(raw: bytes) -> list[str]:
    """Cells of the header line (Arrow's CSV parser has no field-size limit, unlike `csv`)."""
    try:
        return pacsv.read_csv(pa.BufferReader(raw + b"\n"),
                              read_options=pacsv.ReadOptions(use_threads=False, block_size=len(raw) + 2)
                              ).column_names
    except pa.ArrowInvalid:
        raise ObjectRejected("missing_columns", "the header line does not parse as CSV") from None


def header(raw: bytes, entity: Entity) -> Header:
    """Match header cells to contract columns, case-insensitively and ignoring surrounding spaces.

    Raises ObjectRejected: `duplicate_columns` when two cells name one column, `missing_columns`
    when a required column is absent. Empty cells (trailing commas) are neither.
    """
    cells = [c.strip() for c in _header_cells(raw)]
    normalized = [c.lower() for c in cells]
    counts = Counter(n for n in normalized if n)
    twice = sorted(n for n, k in counts.items() if k > 1)
    if twice:
        raise ObjectRejected("duplicate_columns", ", ".join(n[:64] for n in twice[:10]))
    known = set(entity.column_names)
    names = [n if n in known else f"_unknown_{i}" for i, n in enumerate(normalized)]
    missing = [c for c in entity.required_columns if c not in names]
    if missing:
        raise ObjectRejected("missing_columns", ", ".join(missing))
    return Header(names, {c for c, n in zip(cells, normalized, strict=True) if n and n not in known})


def _csv_slow(block: memoryview, lines: _Lines, names: list[str], columns: tuple[str, ...]) -> RawBatch:
    wanted = {n: names.index(n) for n in columns if n in names}
    cols: dict[str, list[str | None]] = {n: [] for n in columns}
    good: list[int] = []
    bad: list[int] = []
    for i in range(len(lines.starts)):
        text = str(block[lines.starts[i]:lines.ends[i]], "utf-8")
        try:
            fields = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration):
            fields = []
        if len(fields) != len(names):
            bad.append(int(lines.numbers[i]))
            continue
        good.append(int(lines.numbers[i]))
        for n in columns:
            cols[n].append(fields[wanted[n]] or None if n in wanted else None)
    table = pa.table({n: pa.array(v, pa.string()) for n, v in cols.items()})
    return RawBatch(table, np.asarray(good, dtype=np.int64), bad)


def _csv_block(block: memoryview, lines: _Lines, names: list[str], entity: Entity) -> RawBatch:
    if len(lines.starts) == 0:
        return _empty(entity, [])
    invalid: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row.number)
        return "skip"

    present = [n for n in entity.column_names if n in names]
    try:
        table = pacsv.read_csv(
            _stream(block[lines.starts[0]:lines.ends[-1] + 1]),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=len(block) + 1),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in present}, include_columns=present,
                strings_can_be_null=True, quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        return _csv_slow(block, lines, names, entity.column_names)
    if None in invalid or table.num_rows + len(invalid) != len(lines.starts):
        return _csv_slow(block, lines, names, entity.column_names)
    keep = np.ones(len(lines.starts), dtype=bool)
    keep[np.asarray(invalid, dtype=np.int64) - 1] = False
    for name in entity.column_names:
        if name not in present:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return RawBatch(table.select(list(entity.column_names)), lines.numbers[keep],
                    [int(n) for n in lines.numbers[~keep]])


def read_csv(chunks: Iterator[bytes], entity: Entity, block_bytes: int = BLOCK_BYTES,
             max_line: int = MAX_LINE_BYTES) -> Iterator[RawBatch]:
    head: Header | None = None
    for block, stretches, long in _numbered(chunks, block_bytes, max_line, blank_is_empty=False):
        if head is None:
            if 1 in long:
                raise ObjectRejected("too_large", f"the header line is longer than {max_line} bytes "
                                                  "(INGEST_MAX_LINE_BYTES)")
            first = stretches[0] if stretches else None
            if first is None or len(first.starts) == 0 or first.numbers[0] != 1:
                raise ObjectRejected("empty_object")
            head = header(bytes(block[first.starts[0]:first.ends[0]]), entity)
            batch = _csv_block(block, first.without_first(), head.names, entity)
            batch.unknown = set(head.unknown)  # reported with the first batch
            yield batch
            stretches = stretches[1:]
        for lines in stretches:
            yield _csv_block(block, lines, head.names, entity)
        if long:
            yield _empty(entity, long)
    if head is None:
        raise ObjectRejected("empty_object")


def read(chunks: Iterator[bytes], entity: Entity, fmt: Format, block_bytes: int = BLOCK_BYTES,
         max_line: int = MAX_LINE_BYTES) -> Iterator[RawBatch]:
    """Record batches of the object; raises ObjectRejected for whole-object problems."""
    if fmt is Format.CSV:
        return read_csv(chunks, entity, block_bytes, max_line)
    return read_json(chunks, entity, block_bytes, max_line)
