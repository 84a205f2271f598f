"""`getResolvedOptions` (see the package docstring for how it differs from Glue's)."""

from __future__ import annotations


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str]:  # noqa: N802 (Glue's name)
    given = {args[i][2:]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
    missing = [name for name in options if name not in given]
    if missing:
        raise SystemExit(f"error: the following arguments are required: {', '.join('--' + m for m in missing)}")
    return {name: given[name] for name in options}
