"""Opaque pagination cursors: what the next page starts after, bound to the query's filters.

A cursor is base64url JSON. Resource lists page by keyset (the last row's values of a unique
sort key: stable while rows are added), views by offset. The cursor also carries a
fingerprint of the endpoint and filters, so a cursor from another query is refused rather
than silently applied. Its values only ever reach SQL as bound parameters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_OFFSET = 10_000_000


class CursorError(ValueError):
    """The cursor is malformed or belongs to another query."""


@dataclass(frozen=True)
class Cursor:
    after: tuple[Any, ...] | None = None  # keyset: the last row's sort-key values
    offset: int | None = None  # views: rows already returned


def fingerprint(endpoint: str, filters: Mapping[str, Any]) -> str:
    text = json.dumps([endpoint, sorted((k, str(v)) for k, v in filters.items() if v not in (None, [], ()))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(cursor: Cursor, fp: str) -> str:
    body: dict[str, Any] = {"f": fp}
    if cursor.after is not None:
        body["k"] = list(cursor.after)
    else:
        body["o"] = cursor.offset
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str, fp: str) -> Cursor:
    """The cursor `token` for a query with fingerprint `fp`. Raises CursorError."""
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("the cursor is not one this API issued") from exc
    if not isinstance(body, dict) or body.get("f") != fp:
        raise CursorError("the cursor belongs to another query (endpoint or filters changed)")
    if "k" not in body:
        offset = body.get("o")
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
            raise CursorError("the cursor is not one this API issued")
        return Cursor(offset=offset)
    after = body.get("k")
    if (not isinstance(after, list) or not after
            or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in after)):
        raise CursorError("the cursor is not one this API issued")
    return Cursor(after=tuple(after))
