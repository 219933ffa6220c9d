"""Materialization metadata: row counts, column schema, bytes, lineage and a Markdown preview."""

from __future__ import annotations

from typing import Any, Mapping

import dagster as dg
import pyarrow as pa

from ..engine.ipc import WriteStats
from ..steps.presentation import column_docs, human_bytes
from ..steps.preview import markdown_preview, schema_columns


def column_schema(schema: pa.Schema, docs: Mapping[str, str] | None = None) -> dg.TableSchema:
    """A Dagster ``TableSchema`` for the UI's column view (``docs``: a description per column)."""
    docs = docs or {}
    return dg.TableSchema(
        columns=[dg.TableColumn(name, type_, description=docs.get(name)) for name, type_ in schema_columns(schema)]
    )


def metadata_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return dg.MetadataValue.text(str(value))
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(value)
    return dg.MetadataValue.text(str(value))


def table_metadata(
    table: pa.Table, stats: WriteStats, extra: dict[str, Any], *, partitioned: bool, family: str | None = None
) -> dict[str, Any]:
    """Metadata for one written table (a partition, or a whole asset)."""
    meta: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
        "dagster/column_schema": column_schema(table.schema, column_docs(family) if family else None),
        "bytes": dg.MetadataValue.int(stats.bytes),
        "size": dg.MetadataValue.text(human_bytes(stats.bytes)),
        "record_batches": dg.MetadataValue.int(stats.batches),
        "preview": dg.MetadataValue.md(markdown_preview(table)),
    }
    if partitioned:
        meta["dagster/partition_row_count"] = dg.MetadataValue.int(table.num_rows)
    for key, value in extra.items():
        meta[key] = metadata_value(value)
    return meta
