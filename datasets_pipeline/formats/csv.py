"""CSV / TSV -> Arrow record batches with ``pyarrow.csv.open_csv`` (streamed, optionally compressed).

pyarrow infers column types from the first block only. So that every batch has one schema,
a file longer than one block is read twice: the first pass only checks that every block
converts, widening a column whose later values do not fit (null -> int64/float64/string,
int -> float64 when the value is a decimal number, anything else -> string) and starting over
with that column's type fixed; the second pass yields the batches. A one-block file is read
once. Empty fields of string columns read as null, as pandas (and so ``datasets``) reads them.

A row with the wrong number of fields fails with :class:`FormatError` naming the file and its
1-based physical line (records spanning lines inside quotes are counted by their first line).
"""

from __future__ import annotations

import csv as stdlib_csv
import io
import os
import re
from typing import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import FormatError
from .blocks import DEFAULT_BLOCK_BYTES
from .compression import open_input

_CONVERSION = re.compile(
    r"In CSV column #(?P<index>\d+): CSV conversion error to (?P<type>[^:]+): invalid value '(?P<value>.*)'", re.S
)
_MAX_WIDENINGS = 64


class _Widen(Exception):
    def __init__(self, column: str, dtype: pa.DataType) -> None:
        self.column, self.dtype = column, dtype


def _is_int(text: str) -> bool:
    return re.fullmatch(r"\s*[+-]?\d+\s*", text) is not None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _widened(current: pa.DataType, value: str) -> pa.DataType:
    if pa.types.is_null(current):
        return pa.int64() if _is_int(value) else pa.float64() if _is_float(value) else pa.string()
    if pa.types.is_integer(current) and _is_float(value):
        return pa.float64()
    return pa.string()


def find_bad_row(
    path: str | os.PathLike, codec: str | None, *, name: str, delimiter: str, expected: int | None
) -> tuple[int, int, int] | None:
    """Re-scan with the stdlib reader: ``(line, expected, actual)`` of the first record with a wrong field count."""
    with open_input(path, codec, name=name) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        reader = stdlib_csv.reader(text, delimiter=delimiter)
        start = 1
        for record in reader:
            if record:
                if expected is None:
                    expected = len(record)
                elif len(record) != expected:
                    return start, expected, len(record)
            start = reader.line_num + 1
    return None


def _open(
    stream: pa.NativeFile,
    delimiter: str,
    block_size: int,
    column_types: dict[str, pa.DataType],
    seen: list[pacsv.InvalidRow],
) -> pacsv.CSVStreamingReader:
    def on_invalid(row: pacsv.InvalidRow) -> str:
        seen.append(row)
        return "error"

    return pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(block_size=block_size, use_threads=True),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True),
    )


def _iter_checked(
    path: str | os.PathLike,
    codec: str | None,
    *,
    name: str,
    delimiter: str,
    block_size: int,
    column_types: dict[str, pa.DataType],
    found: dict[str, pa.Schema],
) -> Iterator[pa.RecordBatch]:
    """Non-empty batches of the file; the schema goes to ``found["schema"]``.

    Conversion drift raises :class:`_Widen`, bad rows raise :class:`FormatError`.
    """
    invalid: list[pacsv.InvalidRow] = []
    with open_input(path, codec, name=name) as stream:
        try:
            reader = _open(stream, delimiter, block_size, column_types, invalid)
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            _raise_parse_error(exc, path, codec, name, delimiter, invalid)
        schema = found["schema"] = reader.schema
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                match = _CONVERSION.search(str(exc))
                if match and not invalid:
                    field = schema.field(int(match.group("index")))
                    if pa.types.is_string(field.type) or pa.types.is_binary(field.type):
                        raise FormatError(
                            f"column {field.name!r} cannot be read: {exc}", file=name, column=field.name
                        ) from None
                    raise _Widen(field.name, _widened(field.type, match.group("value"))) from None
                _raise_parse_error(exc, path, codec, name, delimiter, invalid)
            if batch.num_rows:
                yield batch


def _raise_parse_error(
    exc: Exception,
    path: str | os.PathLike,
    codec: str | None,
    name: str,
    delimiter: str,
    invalid: list[pacsv.InvalidRow],
) -> None:
    """Raise a :class:`FormatError` for a CSV parse failure, with the exact line when it can be found."""
    expected = invalid[0].expected_columns if invalid else None
    bad = find_bad_row(path, codec, name=name, delimiter=delimiter, expected=expected)
    if bad is not None:
        line, want, got = bad
        raise FormatError(f"malformed CSV row at line {line}: expected {want} fields, got {got}", file=name) from None
    raise FormatError(f"malformed CSV data: {exc}", file=name) from None


def read_csv(
    path: str | os.PathLike,
    *,
    name: str,
    codec: str | None = None,
    batch_rows: int = 65536,
    delimiter: str = ",",
    block_size: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[pa.RecordBatch]:
    """Stream a CSV (``delimiter=","``) or TSV (``"\\t"``) file as record batches of at most ``batch_rows`` rows."""
    column_types: dict[str, pa.DataType] = {}
    found: dict[str, pa.Schema] = {}
    kw = dict(name=name, delimiter=delimiter, block_size=block_size, found=found)
    for _ in range(_MAX_WIDENINGS):
        kept: list[pa.RecordBatch] | None = []
        try:
            for batch in _iter_checked(path, codec, column_types=column_types, **kw):
                if kept is not None:
                    kept.append(batch)
                    if len(kept) > 1:  # more than one block: a second pass is needed
                        kept = None
            break
        except _Widen as widen:
            column_types[widen.column] = widen.dtype
    else:
        raise FormatError("column types keep changing through the file; give the columns explicit types", file=name)
    if kept is not None:
        batches = kept
    else:
        batches = _iter_checked(path, codec, column_types=column_types, **kw)
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        for offset in range(0, batch.num_rows, batch_rows):
            yield batch.slice(offset, batch_rows)
    schema = found.get("schema")
    if rows == 0 and schema is not None and schema.names:
        yield pa.RecordBatch.from_pylist([], schema=schema)  # a header-only file: no rows, but its columns
