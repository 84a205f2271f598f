"""A JSON document that is not one-record-per-line -> blocks of one record per line, bounded memory.

Handles what exporters write besides NDJSON: one array of records (`[{...}, {...}]`, pretty
printed or on one line), and records concatenated without separators (`{...}{...}`, what
Kinesis Data Firehose writes to S3 by default), pretty printed or not. The stream is cut into
blocks of about `block_bytes`; each block is scanned with numpy (no per-byte Python) for the
structural characters outside strings, so records are found at any nesting without parsing
them: a record ends where the brace/bracket depth returns to the top level (concatenated) or
at a top-level comma / the closing bracket (array). Each record becomes one line of an
NDJSON block, which the reader parses with Arrow as it parses NDJSON.

Memory is one block plus the unfinished record carried to the next (at most `max_record`
bytes): a record longer than that is skipped unread (a `malformed_row` at the line where it
starts) while the scan keeps its place. A string cannot hold a raw line break in JSON, so
string state restarts at every line break: a stray quote corrupts one line, not the rest of
the file. Why this is not a library: ADR 0009.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_OTHER, _QUOTE, _BACKSLASH, _OPEN, _CLOSE, _COMMA, _LF, _CR = range(8)
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[ord('"')] = _QUOTE
_CLASS[ord("\\")] = _BACKSLASH
_CLASS[[ord("{"), ord("[")]] = _OPEN
_CLASS[[ord("}"), ord("]")]] = _CLOSE
_CLASS[ord(",")] = _COMMA
_CLASS[10] = _LF
_CLASS[13] = _CR
_LINE_BREAKS_TO_SPACES = bytes.maketrans(b"\r\n", b"  ")
_WHITESPACE = b" \t\r\n"


@dataclass
class RecordBlock:
    """Complete records, one per line (`\\n`-separated, line breaks inside became spaces)."""

    data: bytes
    lines: np.ndarray  # int64, the 1-based line where each record starts in the source
    too_long: list[int]  # lines where a record longer than the limit starts (skipped unread)


@dataclass
class _State:
    """Where the scan stands at the end of the bytes scanned so far."""

    depth: int = 0
    in_string: bool = False
    escaped: bool = False  # the last byte was an unescaped backslash inside a string


@dataclass
class _Scan:
    ends: np.ndarray  # exclusive end of each record before a cut
    starts: np.ndarray  # where the next record starts after each cut
    depth_after: np.ndarray  # depth after each cut
    breaks: np.ndarray  # positions of line breaks (LF, or CR not followed by LF)
    end_state: _State


def _scan(data: bytes, state: _State, array: bool, final: bool) -> _Scan:
    """Find the record cuts of `data`, scanned from `state`."""
    arr = np.frombuffer(data, dtype=np.uint8)
    pos = np.flatnonzero(_CLASS[arr])
    cls = _CLASS[arr[pos]]
    quote = cls == _QUOTE
    if state.escaped or (cls == _BACKSLASH).any():
        quote &= ~_escaped(pos, cls, state.escaped)
    is_lf, is_cr = cls == _LF, cls == _CR
    if is_cr.any():  # CR LF is one break: the LF counts
        nxt = np.minimum(pos + 1, len(arr) - 1)
        is_cr &= ~((arr[nxt] == 10) & (pos + 1 < len(arr)))
        if not final and len(pos) and cls[-1] == _CR and pos[-1] == len(arr) - 1:
            is_cr[-1] = False  # its LF may be in the next block; the caller re-scans it
    brk = is_lf | is_cr
    # Quotes since the last line break (or since the start, continuing the carried state).
    count = np.cumsum(quote, dtype=np.int64) + int(state.in_string)
    at_break = np.maximum.accumulate(np.where(brk, count, 0)) if brk.any() else np.zeros_like(count)
    in_string = ((count - at_break) & 1).astype(bool)
    structural = ~in_string & ((cls == _OPEN) | (cls == _CLOSE) | (cls == _COMMA))
    s_pos, s_cls = pos[structural], cls[structural]
    delta = np.where(s_cls == _OPEN, 1, np.where(s_cls == _CLOSE, -1, 0)).astype(np.int64)
    running = state.depth + np.cumsum(delta)
    depth = running - np.minimum(np.minimum.accumulate(running), 0) if len(running) else running
    before = np.concatenate(([state.depth], depth[:-1])) if len(depth) else depth
    if array:
        cut = (((s_cls == _COMMA) & (depth == 1)) | ((s_cls == _CLOSE) & (depth == 0))
               | ((s_cls == _OPEN) & (depth == 1) & (before == 0)))
        ends = s_pos[cut]
    else:
        cut = (s_cls == _CLOSE) & (depth == 0)
        ends = s_pos[cut] + 1
    end_state = _State(
        depth=int(depth[-1]) if len(depth) else state.depth,
        in_string=bool(in_string[-1]) if len(in_string) else state.in_string,
        escaped=_trailing_escape(arr, in_string[-1] if len(in_string) else state.in_string, state.escaped),
    )
    return _Scan(ends, s_pos[cut] + 1, depth[cut], pos[brk], end_state)


def _escaped(pos: np.ndarray, cls: np.ndarray, carried: bool) -> np.ndarray:
    """Per interesting position: preceded by an odd run of backslashes (counting a carried one)."""
    bs = cls == _BACKSLASH
    idx = np.arange(len(pos))
    # A run of backslashes is consecutive both as bytes and among the interesting positions.
    starts_run = bs & ~np.concatenate(([False], bs[:-1] & (pos[1:] == pos[:-1] + 1)))
    run_start = np.maximum.accumulate(np.where(starts_run, idx, -1))
    prev = idx - 1
    ok = (prev >= 0) & np.concatenate(([False], bs[:-1])) & (pos - 1 == np.concatenate(([-2], pos[:-1])))
    run_len = np.where(ok, prev - run_start[np.maximum(prev, 0)] + 1, 0)
    touches_start = ok & (pos[np.maximum(run_start[np.maximum(prev, 0)], 0)] == 0)
    run_len = run_len + (touches_start & carried)
    first = (pos == 0) & carried & ~ok
    return ((run_len & 1) == 1) | first


def _trailing_escape(arr: np.ndarray, in_string: bool, carried: bool) -> bool:
    """Whether the byte after `arr` is escaped: an odd run of backslashes ends it, in a string."""
    if not in_string:
        return False
    n = len(arr)
    run = 0
    while run < n and arr[n - 1 - run] == 92:
        run += 1
    if run == n:
        run += int(carried)
    return run % 2 == 1


class _Splitter:
    def __init__(self, array: bool, max_record: int) -> None:
        self.array = array
        self.max_record = max_record
        self.state = _State()
        self.line = 1  # source line at the start of the pending bytes
        self.skipping_from: int | None = None  # line where an over-long record started

    def split(self, data: bytes, final: bool) -> tuple[RecordBlock, bytes]:
        """Records of `data` (pending bytes first) and the unfinished rest to carry."""
        scan = _scan(data, self.state, self.array, final)
        flat = data.translate(_LINE_BREAKS_TO_SPACES)
        spans: list[bytes] = []
        firsts: list[int] = []  # offset of each record's first byte
        long_firsts: list[int] = []
        too_long: list[int] = []
        start = 0
        for end, next_start in zip(scan.ends.tolist(), scan.starts.tolist(), strict=True):
            if self.skipping_from is not None:  # the over-long record ends here
                too_long.append(self.skipping_from)
                self.skipping_from = None
            else:
                self._take(flat, start, end, spans, firsts, long_firsts)
            start = next_start
        rest = b""
        if final:
            if self.skipping_from is not None:
                too_long.append(self.skipping_from)
            else:
                self._take(flat, start, len(data), spans, firsts, long_firsts)
        elif self.skipping_from is None and len(data) - start <= self.max_record:
            rest = data[start:]
            if len(scan.ends):
                self.state = _State(depth=int(scan.depth_after[-1]))
        else:  # skip the record unread; the scan keeps its place (the state at the end of `data`)
            if self.skipping_from is None:
                tail = flat[start:]
                first = start + len(tail) - len(tail.lstrip(_WHITESPACE))
                self.skipping_from = int(self._lines(scan.breaks, [first])[0])
            self.state = scan.end_state
            start = len(data)
        lines = self._lines(scan.breaks, firsts)
        too_long.extend(self._lines(scan.breaks, long_firsts).tolist())
        self.line += int(np.searchsorted(scan.breaks, start))
        block = RecordBlock(b"\n".join(spans) + b"\n" if spans else b"", lines, sorted(too_long))
        return block, rest

    def _lines(self, breaks: np.ndarray, offsets: list[int]) -> np.ndarray:
        """Source line of each offset: the breaks before it, counted from the pending bytes' line."""
        return self.line + np.searchsorted(breaks, np.asarray(offsets, dtype=np.int64)).astype(np.int64)

    def _take(self, flat: bytes, start: int, end: int, spans: list[bytes], firsts: list[int],
              long_firsts: list[int]) -> None:
        raw = flat[start:end]
        stripped = raw.lstrip(_WHITESPACE)
        if not stripped:
            return
        first = start + len(raw) - len(stripped)
        record = stripped.rstrip(_WHITESPACE)
        if len(record) > self.max_record:
            long_firsts.append(first)
        else:
            spans.append(record)
            firsts.append(first)


def record_blocks(chunks: Iterator[bytes], array: bool, block_bytes: int,
                  max_record: int) -> Iterator[RecordBlock]:
    """Blocks of whole records from a JSON array (`array`) or a stream of concatenated values.

    `chunks` must start at the document (byte-order mark removed). Lines count LF, CRLF and
    CR alone. Never raises on malformed JSON: what does not split into records ends up in a
    record that the parser then reports as malformed.
    """
    splitter = _Splitter(array, max_record)
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size < block_bytes:
            continue
        block, rest = splitter.split(b"".join(pending), final=False)
        pending, size = [rest], len(rest)
        if block.data or block.too_long:
            yield block
    block, _ = splitter.split(b"".join(pending), final=True)
    if block.data or block.too_long:
        yield block
