"""Terminal output of local mode: timed stages and progress bars (tqdm, only on a TTY)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm


class Stages:
    """Prints each stage's start and duration; keeps the timings for the summary/report."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.timings: list[tuple[str, float]] = []
        self._t0 = time.monotonic()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.say(f"==> {name}")
        start = time.monotonic()
        yield
        elapsed = time.monotonic() - start
        self.timings.append((name, elapsed))
        self.say(f"    {name}: {elapsed:.1f} s")

    @property
    def total(self) -> float:
        return time.monotonic() - self._t0

    def table(self) -> str:
        width = max((len(n) for n, _ in self.timings), default=5)
        lines = [f"  {name:<{width}}  {secs:7.1f} s" for name, secs in self.timings]
        lines.append(f"  {'total':<{width}}  {self.total:7.1f} s")
        return "\n".join(lines)


def progress(total: int | None, desc: str, unit: str = "it") -> Any:
    """A progress bar on stderr; silent when stderr is not a terminal (CI, pipes)."""
    return tqdm(
        total=total,
        desc=f"    {desc}",
        unit=unit,
        file=sys.stderr,
        disable=None,
        leave=False,
        dynamic_ncols=True,
    )
