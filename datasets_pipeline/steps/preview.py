"""Human-readable summaries of a table for materialization metadata: schema text and a Markdown preview."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

MAX_CELL = 80


def _cell(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=lambda v: f"<{len(v)} bytes>" if isinstance(v, bytes) else str(v))
    else:
        text = "" if value is None else str(value)
    text = text.replace("\n", "⏎").replace("|", "\\|")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def markdown_preview(table: pa.Table, rows: int = 5) -> str:
    """The first ``rows`` rows as a Markdown table, long cells cut to 80 characters."""
    head = table.slice(0, rows).to_pylist()
    names = table.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(_cell(row[n]) for n in names) + " |" for row in head]
    if not head:
        lines.append("| " + " | ".join("" for _ in names) + " |")
    return "\n".join(lines)


def schema_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    """``(name, type)`` pairs of a schema, types in Arrow's text form."""
    return [(f.name, str(f.type)) for f in schema]
