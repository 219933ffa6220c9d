"""JSON Lines -> Arrow record batches, block by block with pyarrow.json.

Type drift across blocks: the schema is inferred over the **whole file** before the first
batch is yielded, so every batch has the same schema. A file that fits in one block is parsed
once; a longer file is read twice: a first pass parses each block and unifies the block schemas
(``pa.unify_schemas(promote_options="permissive")``: null -> any type, int -> double, struct
fields and list item types merged; a timestamp column that later holds other strings becomes
string), a second pass parses each block again with that schema as ``explicit_schema``.
Memory stays at about one block (8 MiB of text by default) plus its parsed table.

Column types follow pyarrow's JSON inference, as the ``datasets`` library's JSON builder does
(integers -> int64, ISO-8601 strings -> timestamp[s], objects -> struct, arrays -> list).
Values of incompatible kinds in one column (a number in one row, a string in another) fail with
:class:`FormatError` naming the column and the first line where the new kind appears.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.json as paj

from ..errors import FormatError
from .blocks import DEFAULT_BLOCK_BYTES, iter_line_blocks
from .compression import open_input

# pyarrow's own parallel sub-block size inside one of our blocks.
_INNER_BLOCK_BYTES = 1 << 20

_CHANGED = re.compile(r"Column\((?P<path>[^)]*)\) changed from (?P<old>\w+) to (?P<new>\w+)")
_INCOMPATIBLE = re.compile(r"Field (?P<field>.+?) has incompatible types: (?P<old>.+) vs (?P<new>.+)$")


# --- locating a bad line exactly (error path only) -------------------------------------------------


def json_kind(value: Any) -> str:
    """pyarrow's name for the JSON kind of a decoded value (as used in its parse errors)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _arrow_kind(dtype: pa.DataType) -> str:
    if pa.types.is_null(dtype):
        return "null"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "number"
    if pa.types.is_struct(dtype):
        return "object"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        return "array"
    return "string"


def _values_at(obj: Any, segments: list[str]) -> Iterator[Any]:
    """Values found at a pyarrow column path such as ``/messages/[]/content``."""
    if not segments:
        yield obj
        return
    head, rest = segments[0], segments[1:]
    if head == "[]":
        if isinstance(obj, list):
            for item in obj:
                yield from _values_at(item, rest)
    elif isinstance(obj, dict) and head in obj:
        yield from _values_at(obj[head], rest)


def _decode_lines(block: bytes) -> Iterator[tuple[int, Any | Exception]]:
    """``(line_offset, value or the decoding error)`` for each non-blank line of a block."""
    for offset, raw in enumerate(block.split(b"\n")):
        if not raw.strip():
            continue
        try:
            yield offset, json.loads(raw)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            yield offset, exc


def _short(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start} of the line"
    return str(exc)


def locate_error(block: bytes, message: str) -> tuple[int | None, str]:
    """Find the 0-based line offset in ``block`` that pyarrow's ``message`` is about, with a short reason."""
    changed = _CHANGED.search(message)
    segments = [s for s in changed.group("path").split("/") if s] if changed else []
    seen_old = False
    for offset, value in _decode_lines(block):
        if isinstance(value, Exception):
            return offset, _short(value)
        if not isinstance(value, dict):
            return offset, f"expected a JSON object, got a JSON {json_kind(value)}"
        if changed:
            kinds = {json_kind(v) for v in _values_at(value, segments)}
            if seen_old and changed.group("new") in kinds:
                column = "/".join(segments).replace("/[]", "[]")
                return offset, (
                    f"column {column!r} changes from {changed.group('old')} to {changed.group('new')} values; "
                    "a column must hold one JSON kind (or null)"
                )
            seen_old = seen_old or changed.group("old") in kinds
    return None, message


# --- parsing -------------------------------------------------------------------------------------


def parse_block(
    block: bytes, first_line: int, *, name: str, schema: pa.Schema | None = None
) -> pa.Table:
    """Parse one newline-aligned block; errors name the file and the exact 1-based line.

    The table is fully validated (UTF-8 of every string included).
    """
    inner = min(max(len(block), 1), _INNER_BLOCK_BYTES)
    parse_options = paj.ParseOptions(explicit_schema=schema) if schema is not None else paj.ParseOptions()
    while True:
        try:
            table = paj.read_json(
                pa.BufferReader(block),
                read_options=paj.ReadOptions(block_size=inner, use_threads=True),
                parse_options=parse_options,
            )
            table.validate(full=True)  # pyarrow's JSON parser lets invalid UTF-8 into string columns
            return table.select(schema.names) if schema is not None else table
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            text = str(exc)
            if "straddl" in text and inner < len(block):
                inner = len(block) + 1  # one line is longer than the sub-block: parse the block whole
                continue
            offset, reason = locate_error(block, text)
            if offset is None:
                last = first_line + max(block.count(b"\n") - 1, 0)
                raise FormatError(
                    f"invalid JSON Lines data in lines {first_line}-{last}: {reason}", file=name
                ) from None
            raise FormatError(f"invalid JSON Lines record at line {first_line + offset}: {reason}", file=name) from None


def _widen_temporal_to_string(old: pa.Schema, new: pa.Schema) -> tuple[pa.Schema, pa.Schema]:
    """Where one side has a timestamp/date column and the other a string, make both string."""

    def is_temporal(t: pa.DataType) -> bool:
        return pa.types.is_timestamp(t) or pa.types.is_date(t)

    def fix(schema: pa.Schema, other: pa.Schema) -> pa.Schema:
        for i, field in enumerate(schema):
            j = other.get_field_index(field.name)
            if j < 0:
                continue
            a, b = field.type, other.field(j).type
            if (is_temporal(a) and (pa.types.is_string(b) or is_temporal(b)) and a != b) or (
                pa.types.is_string(a) and is_temporal(b)
            ):
                schema = schema.set(i, field.with_type(pa.string()))
        return schema

    return fix(old, new), fix(new, old)


def merge_schemas(old: pa.Schema, new: pa.Schema, block: bytes, first_line: int, *, name: str) -> pa.Schema:
    """Unify the schema so far with one block's schema (see the module docstring), or fail naming the line."""
    if old.equals(new):
        return old
    try:
        return pa.unify_schemas([old, new], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    old2, new2 = _widen_temporal_to_string(old, new)
    try:
        return pa.unify_schemas([old2, new2], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        match = _INCOMPATIBLE.search(str(exc))
        field = match.group("field") if match else None
        if field is not None and field in old.names:
            old_kind = _arrow_kind(old.field(field).type)
            for offset, value in _decode_lines(block):
                if isinstance(value, dict) and value.get(field) is not None and json_kind(value[field]) != old_kind:
                    raise FormatError(
                        f"column {field!r} changes from {old.field(field).type} to "
                        f"{json_kind(value[field])} values at line {first_line + offset}; "
                        "a column must hold one JSON kind (or null)",
                        file=name,
                        column=field,
                    ) from None
        raise FormatError(f"incompatible column types from line {first_line} on: {exc}", file=name) from None


def _batches(table: pa.Table, batch_rows: int) -> Iterator[pa.RecordBatch]:
    for batch in table.to_batches(max_chunksize=batch_rows):
        if batch.num_rows:
            yield batch


def read_jsonl(
    path: str | os.PathLike,
    *,
    name: str,
    codec: str | None = None,
    batch_rows: int = 65536,
    block_size: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[pa.RecordBatch]:
    """Stream a JSON Lines file (optionally compressed) as record batches of at most ``batch_rows`` rows."""
    schema: pa.Schema | None = None
    first_table: pa.Table | None = None
    blocks = 0
    with open_input(path, codec, name=name) as stream:
        for first_line, block in iter_line_blocks(stream, name=name, block_size=block_size):
            if not block.strip():
                continue
            table = parse_block(block, first_line, name=name)
            blocks += 1
            if schema is None:
                schema = table.schema
            else:
                schema = merge_schemas(schema, table.schema, block, first_line, name=name)
            first_table = table if blocks == 1 else None
    if schema is None:
        return
    if first_table is not None:  # the whole file was one block: no second pass
        yield from _batches(first_table, batch_rows)
        if first_table.num_rows == 0:
            yield pa.RecordBatch.from_pylist([], schema=schema)
        return
    with open_input(path, codec, name=name) as stream:
        for first_line, block in iter_line_blocks(stream, name=name, block_size=block_size):
            if block.strip():
                yield from _batches(parse_block(block, first_line, name=name, schema=schema), batch_rows)
