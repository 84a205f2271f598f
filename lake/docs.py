"""Render the data contract as Markdown: `python -m lake.docs` prints the README's data-model tables,
`python -m lake.docs --reasons` the Ingest section's rejection reasons.

The README embeds this output verbatim (tests/lake/test_docs.py fails when they drift apart),
so the documentation can never disagree with `lake/contract.py`.
"""

from __future__ import annotations

import sys

from lake.contract import ENTITIES, OBJECT_REASONS, REASONS, Column, DType, Entity, Privacy, Pseudonym

_PSEUDONYM = {  # {stored}: the stored column names, from the contract
    Pseudonym.HMAC: "HMAC-SHA256 → {stored}",
    Pseudonym.DROP: "dropped",
    Pseudonym.AGE: "→ {stored} (no birth year)",
    Pseudonym.ZIP3: "→ {stored} (first 3 digits, `000` for the 17 restricted prefixes)",
}


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def rule(entity: Entity, col: Column) -> str:
    """The constraints on one column, in words a reader scans quickly."""
    parts: list[str] = []
    if col.name == entity.primary_key:
        parts.append("primary key")
    for fk in entity.foreign_keys:
        if fk.column == col.name:
            action = "parks until it arrives" if fk.parks else "orphans load"
            parts.append(f"→ `{fk.parent}.{fk.parent_column}` ({action})")
    if col.min is not None or col.max is not None:
        low = "" if col.min is None else _number(col.min)
        high = "" if col.max is None else _number(col.max)
        parts.append(f"{low} … {high}".strip())
    if col.enum:
        parts.append(" / ".join(f"`{v}`" for v in col.enum))
    if col.pattern:
        parts.append(f"`{col.pattern}`")
    for check in entity.row_checks:
        if check.left == col.name:
            parts.append(f">= `{check.right}`")
    if col.dtype is DType.TIMESTAMP:
        parts.append("ISO 8601, naive = UTC")
    return "; ".join(parts).replace("|", "\\|")


def privacy(entity: Entity, col: Column) -> str:
    """Privacy class and what ingest does with the column."""
    if col.privacy is Privacy.NONE:
        return ""
    text = col.privacy.value.replace("_", " ")
    if col.pseudonym is not None:
        stored = " + ".join(f"`{out.name}`" for out in entity.pseudonym_outputs(col))
        text += ", " + _PSEUDONYM[col.pseudonym].format(stored=stored)
    return text


def render_entity(entity: Entity) -> str:
    lines = [
        f"#### `{entity.name}`",
        "",
        f"{entity.description} Lands in {entity.landing.value.upper()}; primary key `{entity.primary_key}`.",
        "",
        "| column | description | type | nullable | rule | privacy |",
        "|---|---|---|---|---|---|",
    ]
    for col in entity.columns:
        nullable = "yes" if col.nullable else "no"
        cells = (f"`{col.name}`", col.description, col.dtype.value, nullable, rule(entity, col), privacy(entity, col))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render() -> str:
    """Every entity of the contract, in the contract's order."""
    return "\n\n".join(render_entity(entity) for entity in ENTITIES.values()) + "\n"


def render_reasons() -> str:
    """The row and whole-object rejection reasons, as two tables."""
    lines = ["| row reason (quarantine `reasons`) | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in REASONS.items()]
    lines += ["", "| whole-object reason (ledger `error`) | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in OBJECT_REASONS.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_reasons() if "--reasons" in sys.argv[1:] else render(), end="")
