"""Chunked telemetry: days come out complete, once, in order; the prefetch thread keeps order and errors."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from generators.options import resolve
from generators.telemetry import DAY_MS, day_chunks
from generators.transactional import build_world
from lambdas.ingest.prefetch import prefetch


@pytest.mark.parametrize("chunk_rows", [300, 2_000, 1_000_000])
def test_days_are_complete_unique_and_ordered_for_any_chunk_size(chunk_rows: int) -> None:
    # GIVEN the tiny fleet's telemetry plan, cut into chunks of very different sizes
    plan = build_world(resolve("tiny")).telemetry
    days: list[int] = []
    rows = 0
    # WHEN iterating the chunks
    for frame, spans in day_chunks(plan, 20, seed=1, chunk_rows=chunk_rows):
        t = frame["_t"].to_numpy()
        assert (np.diff(t) >= 0).all()
        for day, lo, hi in spans:
            # THEN each span holds exactly that UTC day's samples
            assert hi > lo and set((t[lo:hi] // DAY_MS).tolist()) == {day}
            days.append(day)
            rows += hi - lo
    # AND every day appears once, in order, and no sample is lost or repeated across chunks
    assert days == sorted(set(days))
    assert rows == len(plan.start_ms) * 20


def test_prefetch_keeps_order_and_reraises_producer_errors() -> None:
    # GIVEN a producer that yields three items and then fails
    def produce() -> Iterator[int]:
        yield from (1, 2, 3)
        raise RuntimeError("disk full")

    seen: list[int] = []
    # WHEN consuming it through the prefetch thread
    with pytest.raises(RuntimeError, match="disk full"):
        for item in prefetch(produce()):
            seen.append(item)
    # THEN every item arrived in order before the error surfaced in the consumer
    assert seen == [1, 2, 3]


def test_prefetch_stops_cleanly_when_the_consumer_stops_early() -> None:
    # GIVEN an endless producer
    def endless() -> Iterator[int]:
        n = 0
        while True:
            n += 1
            yield n

    # WHEN the consumer takes two items and leaves
    taken = []
    for item in prefetch(endless()):
        taken.append(item)
        if len(taken) == 2:
            break
    # THEN it got them in order and the producer thread did not hang the test
    assert taken == [1, 2]
