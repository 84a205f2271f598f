"""Run an iterator one step ahead in a background thread.

Arrow's JSON/CSV parsers, compute kernels and Parquet writer release the GIL, so parsing the
next block while the current one is validated and written keeps two cores busy (the telemetry
generator uses it the same way: NumPy and polars release the GIL too). The queue is
bounded (`depth` items), so memory stays bounded; an exception in the producer is re-raised
in the consumer, and a consumer that stops early stops the producer.

Example:
    >>> for batch in prefetch(reader.read(chunks, entity, fmt)):
    ...     validate(batch)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield `items` in order while a thread produces up to `depth` items ahead."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # re-raised in the consumer, whatever it is
            put(exc)

    thread = threading.Thread(target=produce, name="ingest-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
