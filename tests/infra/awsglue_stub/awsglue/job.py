"""`Job` (see the package docstring for how it differs from Glue's)."""

from __future__ import annotations

from typing import Any


class Job:
    def __init__(self, glue_context: Any) -> None:
        self.glue_context = glue_context
        self.calls: list[str] = []

    def init(self, name: str, args: dict[str, str]) -> None:
        self.calls.append(f"init {name}")

    def commit(self) -> None:
        self.calls.append("commit")
        print("awsglue stub: job committed")
