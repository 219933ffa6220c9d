"""``.json`` files: JSON Lines, a top-level list of rows, or an object wrapping one list of rows.

A ``.json`` file whose first line is a complete JSON object followed by more content is JSON
Lines (as the ``datasets`` library reads it) and streams block by block. Otherwise the file is
one JSON document, decoded whole (memory ~ the document): a top-level list gives one row per
element (a list of scalars gives a ``text`` column, as in ``datasets``); an object whose only
list-valued field holds objects (``{"version": 1, "data": [{...}, ...]}``) gives one row per
item of that list; any other object is a single row. Column types are inferred over all rows.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from typing import Any, Iterator

import pyarrow as pa

from ..errors import FormatError
from .compression import open_input, read_all
from .jsonl import json_kind, read_jsonl

_SNIFF_BYTES = 1 << 16


_NON_SPACE = re.compile(rb"\S")


def _first_line_and_more(path: str | os.PathLike, codec: str | None, name: str) -> tuple[bytes, bool]:
    """The first non-blank line, and whether any non-blank content follows it."""
    with open_input(path, codec, name=name) as stream:
        head = bytearray()
        begin: int | None = None
        end = -1
        while end < 0:
            scanned = len(head)
            chunk = stream.read(_SNIFF_BYTES)
            if not chunk:
                break
            head += chunk
            if begin is None:
                found = _NON_SPACE.search(head, scanned)
                begin = found.start() if found else None
            if begin is not None:
                end = head.find(b"\n", max(begin, scanned))
        if begin is None:
            return b"", False
        if end < 0:
            return bytes(head[begin:]), False
        line, rest = bytes(head[begin:end]), head[end + 1 :]
        while not rest.strip():
            rest = stream.read(_SNIFF_BYTES)
            if not rest:
                return line, False
        return line, True


def is_json_lines(path: str | os.PathLike, codec: str | None, *, name: str) -> bool:
    """True when a ``.json`` file holds one JSON object per line (more than one line)."""
    line, more = _first_line_and_more(path, codec, name)
    if line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8) :]
    if not more or not line.lstrip().startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def rows_of(document: Any, *, name: str) -> list[Any]:
    """The list of rows a decoded JSON document holds (see the module docstring)."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        lists = [key for key, value in document.items() if isinstance(value, list)]
        if len(lists) == 1:
            items = document[lists[0]]
            if all(isinstance(item, dict) for item in items):
                return items
        return [document]
    raise FormatError(f"a JSON document must be a list or an object, got a JSON {json_kind(document)}", file=name)


def table_of(rows: list[Any], *, name: str) -> pa.Table:
    """Rows (all objects, or all scalars -> a ``text`` column) as a table, types inferred over every row."""
    if rows and all(not isinstance(row, (dict, list)) for row in rows):
        rows = [{"text": row} for row in rows]
    bad = next((i for i, row in enumerate(rows) if not isinstance(row, dict)), None)
    if bad is not None:
        raise FormatError(
            f"element {bad} of the JSON list is a JSON {json_kind(rows[bad])}; rows must all be objects", file=name
        )
    if not rows:
        return pa.table({})
    try:
        return pa.Table.from_struct_array(pa.array(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) as exc:
        raise FormatError(f"JSON rows do not share column types: {exc}", file=name) from None


def read_json(
    path: str | os.PathLike, *, name: str, codec: str | None = None, batch_rows: int = 65536
) -> Iterator[pa.RecordBatch]:
    """Stream a ``.json`` file (optionally compressed) as record batches."""
    if is_json_lines(path, codec, name=name):
        yield from read_jsonl(path, name=name, codec=codec, batch_rows=batch_rows)
        return
    data = read_all(path, codec, name=name)
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FormatError(f"invalid UTF-8 in JSON document at line {line}", file=name) from None
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"invalid JSON document at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=name
        ) from None
    del data
    table = table_of(rows_of(document, name=name), name=name)
    del document
    if table.num_rows == 0:
        if table.num_columns:
            yield pa.RecordBatch.from_pylist([], schema=table.schema)
        return
    yield from table.to_batches(max_chunksize=batch_rows)
