"""The prefetching reader keeps order, bounds how far it runs ahead and surfaces errors."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator

import pytest

from lambdas.ingest.prefetch import prefetch


def test_yields_every_item_in_order() -> None:
    assert list(prefetch(iter(range(1000)))) == list(range(1000))


def test_producer_error_reaches_the_consumer_after_the_good_items() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("not_utf8")

    got: list[int] = []
    with pytest.raises(ValueError, match="not_utf8"):
        for item in prefetch(items()):
            got.append(item)
    assert got == [1, 2]


def test_runs_at_most_depth_items_ahead_and_stops_when_the_consumer_stops() -> None:
    # GIVEN a producer that records how far it got
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    # WHEN the consumer takes one item, waits, then stops early
    stream = prefetch(items(), depth=1)
    assert isinstance(stream, Generator)
    assert next(stream) == 0
    threading.Event().wait(0.3)
    ahead = len(produced)
    stream.close()
    # THEN the producer ran at most depth (queued) + 1 (blocked in put) items ahead, then stopped
    assert ahead <= 3
    assert len(produced) <= ahead + 1
