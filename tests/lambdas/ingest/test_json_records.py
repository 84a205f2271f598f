"""`json_records` against a reference: any JSON array or stream of concatenated objects, pretty or
not, any line endings, cut into any blocks, gives back each record once, at the line it starts."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.ingest.json_records import record_blocks

TRICKY = st.text(alphabet='ab"\\{}[],:\n\r\t é', max_size=12)
RECORDS = st.lists(st.dictionaries(st.sampled_from(["k", "a b", "{", '"q"']),
                                   st.one_of(TRICKY, st.integers(), st.lists(TRICKY, max_size=3)),
                                   min_size=1, max_size=3), min_size=1, max_size=8)
SPACE = st.text(alphabet=" \t\n", max_size=3)


def _line_of(text: str, offset: int) -> int:
    return 1 + len(re.findall(r"\r\n|\r|\n", text[:offset]))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(records=RECORDS, array=st.booleans(), indent=st.sampled_from([None, 1, 2]), ending=st.sampled_from(
    ["\n", "\r\n", "\r"]), seps=st.lists(SPACE, min_size=9, max_size=9), block=st.integers(8, 200),
       chunk=st.integers(1, 64))
def test_records_and_their_start_lines_survive_any_layout_and_blocking(records, array, indent, ending, seps,
                                                                       block, chunk):
    # GIVEN the records laid out as an array or concatenated, with whitespace between, then line endings swapped
    parts, starts, offset = ["[" + seps[0] if array else seps[0]], [], 0
    offset = len(parts[0])
    for i, record in enumerate(records):
        starts.append(offset)
        text = json.dumps(record, indent=indent, ensure_ascii=False)
        sep = seps[(i + 1) % len(seps)] + ("," if array and i < len(records) - 1 else "") + seps[i % len(seps)]
        parts.append(text + sep)
        offset += len(text) + len(sep)
    parts.append("]" if array else "")
    document = "".join(parts)
    swapped = document.replace("\n", ending)  # inside records too: JSON escapes newlines in strings
    shift = [len(document[:s].replace("\n", ending)) for s in starts]
    data = swapped.encode()
    # WHEN split in small blocks from small chunks
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    blocks = list(record_blocks(iter(chunks), array, block, max_record=1 << 20))
    # THEN every record comes back once, in order, at the line where it starts
    got = [json.loads(line) for b in blocks for line in b.data.decode().splitlines()]
    lines = [int(n) for b in blocks for n in b.lines]
    assert got == records
    assert lines == [_line_of(swapped, s) for s in shift]
    assert all(b.too_long == [] for b in blocks)
