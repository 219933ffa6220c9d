"""Helpers shared by the family converters: column checks and conforming to a family schema."""

from __future__ import annotations

import pyarrow as pa

from ..errors import ConversionError, SchemaError
from ..families import FAMILIES
from .context import ConvertContext


def require_columns(table: pa.Table, columns: tuple[str, ...] | list[str], ctx: ConvertContext) -> None:
    """Raise :class:`SchemaError` naming the first missing column (and those present)."""
    for column in columns:
        if column not in table.column_names:
            raise SchemaError(
                f"column {column!r} is missing; the source has {', '.join(table.column_names) or 'no columns'}",
                **ctx.where,
                column=column,
            )


def conform(table: pa.Table, family: str, ctx: ConvertContext) -> pa.Table:
    """Select and cast ``table`` to the family schema (column order and types exactly)."""
    schema = FAMILIES[family].schema
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            raise ConversionError(
                f"converter produced no column {field.name!r} for family {family!r}",
                **ctx.where, column=field.name,
            )
        column = table.column(field.name)
        if not column.type.equals(field.type):
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ConversionError(
                    f"cannot cast column {field.name!r} from {column.type} to {field.type}: {exc}",
                    **ctx.where, column=field.name,
                ) from exc
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)
