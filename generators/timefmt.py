"""ISO 8601 text for instants, in the style each facility sends (`Z`, an offset, or naive UTC)."""

from __future__ import annotations

import datetime as dt

from generators.catalog import Facility

UTC = dt.UTC


def offset_suffix(hours: int) -> str:
    """`+02:00` / `-05:00` for a whole-hour offset."""
    sign = "+" if hours >= 0 else "-"
    return f"{sign}{abs(hours):02d}:00"


def style_suffix(facility: Facility) -> tuple[int, str]:
    """(seconds to add to UTC before printing, text after the time) for a facility's style."""
    if facility.ts_style == "offset":
        return facility.utc_offset_hours * 3600, offset_suffix(facility.utc_offset_hours)
    if facility.ts_style == "naive":
        return 0, ""
    return 0, "Z"


def format_instant(epoch_s: int, facility: Facility) -> str:
    """An instant (whole UTC seconds since the epoch) as the facility writes it."""
    shift, suffix = style_suffix(facility)
    local = dt.datetime.fromtimestamp(epoch_s + shift, tz=UTC).replace(tzinfo=None)
    return local.isoformat(timespec="seconds") + suffix


def epoch_seconds(day: dt.date) -> int:
    """Midnight UTC of a day, as seconds since the epoch."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
