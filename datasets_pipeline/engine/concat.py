"""Concatenation of tables, with the column alignment of ``datasets.concatenate_datasets``.

``axis=0`` stacks rows. Tables with no rows are dropped first (their types are never
checked). The result has every column of the inputs in first-seen order; a column missing
from a table is null there. A column's types must be equal in every table, except that a
null-typed column (or a list of nulls, or a struct field of null type) takes the other type.
Struct fields may come in any order and are unified by name the same way. Any other
difference (``int64`` vs ``int32``, ``string`` vs ``large_string``) is a SchemaError naming the
column and both types. Chunks are kept (no copy) where a table needs no cast.

``axis=1`` puts the columns side by side: every table must have the same number of rows and
no column name may repeat.

Differences from datasets:

- ``axis=1`` keeps 0-row tables: their row count must match like any other (``datasets``
  silently drops their columns when another table has rows).
- When every table has 0 rows, the result is an empty table with the aligned columns of all
  of them (``datasets`` returns the first table as is).
- Struct columns whose fields differ are unified field by field (missing fields null).
- Type conflicts raise ``SchemaError`` (not ``ValueError``) naming the column and both types.
"""

from __future__ import annotations

from typing import Sequence

import pyarrow as pa

from datasets_pipeline.errors import SchemaError

__all__ = ["align_schemas", "concatenate", "conform", "unify_types"]


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _same_list_kind(a: pa.DataType, b: pa.DataType) -> bool:
    if pa.types.is_fixed_size_list(a) and pa.types.is_fixed_size_list(b):
        return a.list_size == b.list_size
    return (pa.types.is_list(a) and pa.types.is_list(b)) or (pa.types.is_large_list(a) and pa.types.is_large_list(b))


_CAST_HINT = "Cast one of them first (only null-typed columns are promoted)"


def _conflict(path: str, a: pa.DataType, b: pa.DataType, tables: tuple[int, int] | None = None) -> SchemaError:
    where = f"table {tables[0]} has {a}, table {tables[1]} has {b}" if tables else f"{a} vs {b}"
    return SchemaError(f"cannot align column {path!r}: {where}", column=path, hint=_CAST_HINT)


def _unify_fields(fields_a: Sequence[pa.Field], fields_b: Sequence[pa.Field], prefix: str) -> list[pa.Field]:
    by_name_b = {f.name: f for f in fields_b}
    names_a = {f.name for f in fields_a}
    out: list[pa.Field] = []
    for fa in fields_a:
        fb = by_name_b.get(fa.name)
        if fb is None:
            out.append(fa.with_nullable(True))
            continue
        unified = unify_types(fa.type, fb.type, f"{prefix}{fa.name}")
        out.append(pa.field(fa.name, unified, fa.nullable or fb.nullable, fa.metadata))
    out.extend(fb.with_nullable(True) for fb in fields_b if fb.name not in names_a)
    return out


def unify_types(a: pa.DataType, b: pa.DataType, path: str = "") -> pa.DataType:
    """The type both ``a`` and ``b`` align to, or a SchemaError naming ``path``.

    Equal types align; a null type takes the other type; lists and structs align element- and
    field-wise. Nothing else is promoted.
    """
    if a.equals(b):
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        fields = _unify_fields(list(a), list(b), f"{path}.")
        return pa.struct(fields)
    if _is_list(a) and _is_list(b) and _same_list_kind(a, b):
        item = unify_types(a.value_type, b.value_type, f"{path}.item" if path else "item")
        field = a.value_field.with_type(item).with_nullable(a.value_field.nullable or b.value_field.nullable)
        if pa.types.is_fixed_size_list(a):
            return pa.list_(field, a.list_size)
        return pa.large_list(field) if pa.types.is_large_list(a) else pa.list_(field)
    raise _conflict(path, a, b)


def align_schemas(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """The aligned schema of ``schemas``: all columns in first-seen order, null types promoted.

    Schema metadata is kept when every schema carries the same metadata.
    """
    if not schemas:
        raise ValueError("cannot align an empty list of schemas")
    fields: dict[str, pa.Field] = {}
    seen_in = {}
    for index, schema in enumerate(schemas):
        names = schema.names
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise SchemaError(f"table {index} has duplicate columns {dup}", column=dup[0])
        for field in schema:
            current = fields.get(field.name)
            if current is None:
                fields[field.name] = field
                seen_in[field.name] = index
                continue
            try:
                unified = unify_types(current.type, field.type, field.name)
            except SchemaError as exc:
                outer = (seen_in[field.name], index)
                if exc.column == field.name:
                    raise _conflict(field.name, current.type, field.type, outer) from None
                raise SchemaError(
                    f"{exc.reason} in column {field.name!r} (table {outer[0]} has {current.type}, "
                    f"table {outer[1]} has {field.type})",
                    column=exc.column,
                    hint=_CAST_HINT,
                ) from None
            fields[field.name] = pa.field(field.name, unified, current.nullable or field.nullable, current.metadata)
    counts = {name: sum(name in s.names for s in schemas) for name in fields}
    out = [f if counts[f.name] == len(schemas) else f.with_nullable(True) for f in fields.values()]
    metadata = schemas[0].metadata
    if any(s.metadata != metadata for s in schemas[1:]):
        metadata = None
    return pa.schema(out, metadata=metadata)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly the columns of ``schema`` (missing ones null, types cast to it)."""
    if table.schema.equals(schema, check_metadata=True):
        return table
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            if not column.type.equals(field.type):
                column = column.cast(field.type)
            columns.append(column)
        else:
            columns.append(pa.chunked_array([pa.nulls(table.num_rows, field.type)], field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _as_table(item: pa.Table | pa.RecordBatch, index: int) -> pa.Table:
    if isinstance(item, pa.Table):
        return item
    if isinstance(item, pa.RecordBatch):
        return pa.Table.from_batches([item])
    raise TypeError(f"item {index} is a {type(item).__name__}, expected a pyarrow Table or RecordBatch")


def concatenate(tables: Sequence[pa.Table | pa.RecordBatch], axis: int = 0) -> pa.Table:
    """Concatenate ``tables`` over rows (``axis=0``) or columns (``axis=1``), like ``concatenate_datasets``."""
    tables = [_as_table(t, i) for i, t in enumerate(tables)]
    if not tables:
        raise ValueError("concatenate needs at least one table")
    if axis == 0:
        return _concat_rows(tables)
    if axis == 1:
        return _concat_columns(tables)
    raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")


def _concat_rows(tables: list[pa.Table]) -> pa.Table:
    with_rows = [t for t in tables if t.num_rows > 0]
    if not with_rows:
        schema = align_schemas([t.schema for t in tables])
        return schema.empty_table()
    if len(with_rows) == 1:
        return with_rows[0]
    schema = align_schemas([t.schema for t in with_rows])
    return pa.concat_tables([conform(t, schema) for t in with_rows])


def _concat_columns(tables: list[pa.Table]) -> pa.Table:
    rows = [t.num_rows for t in tables]
    if any(r != rows[0] for r in rows):
        raise ValueError(f"Number of rows must match for all tables to concatenate columns; got {rows}")
    names = [n for t in tables for n in t.column_names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaError(f"Column names must be unique to concatenate columns; duplicated: {duplicates}", column=duplicates[0])
    if len(tables) == 1:
        return tables[0]
    metadata = tables[0].schema.metadata
    if any(t.schema.metadata != metadata for t in tables[1:]):
        metadata = None
    fields = [f for t in tables for f in t.schema]
    columns = [c for t in tables for c in t.columns]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=metadata))
