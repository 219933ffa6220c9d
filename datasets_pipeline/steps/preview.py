"""Human-readable summaries of a table for materialization metadata: schema text and a Markdown preview."""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa

MAX_CELL = 80
NEWLINE = "⏎"  # shown for a line break inside a cell
# Every ASCII punctuation character Markdown (CommonMark + GFM tables) may interpret; each is
# backslash-escaped, which CommonMark renders as the character itself.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&$=:\"'^;/?@%,])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n|\u2028|\u2029")


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that renders exactly as ``text`` in one table cell (line breaks as ``⏎``)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAK.sub(NEWLINE, text))


def _cell(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=lambda v: f"<{len(v)} bytes>" if isinstance(v, bytes) else str(v))
    else:
        text = "" if value is None else str(value)
    text = _LINE_BREAK.sub(NEWLINE, text).replace("\t", " ")
    if len(text) > MAX_CELL:  # cut before escaping, so an escape is never cut in half
        text = text[: MAX_CELL - 1] + "…"
    return escape_markdown(text)


def markdown_preview(table: pa.Table, rows: int = 5) -> str:
    """The first ``rows`` rows as a Markdown table, long cells cut to 80 characters.

    Cell text is escaped so that it shows as it is (``3*3=<<3*3=9>>9`` stays that, not emphasis or
    HTML); line breaks show as ``⏎``.
    """
    head = table.slice(0, rows).to_pylist()
    names = table.column_names
    lines = ["| " + " | ".join(_cell(n) for n in names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(_cell(row[n]) for n in names) + " |" for row in head]
    if not head:
        lines.append("| " + " | ".join("" for _ in names) + " |")
    return "\n".join(lines)


def schema_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    """``(name, type)`` pairs of a schema, types in Arrow's text form."""
    return [(f.name, str(f.type)) for f in schema]
