"""Duplicate rows: count them, or drop all but the first occurrence.

Rows are duplicates when their keys are equal. The key is, by default, the ``uid`` column (the
normalized content hash of :mod:`.uid`), or, when the table has none, the uid computed over
all columns. ``columns`` may name one key column to use as is, or several columns to hash
with :func:`.uid.compute_uids`. Grouping is one hash aggregation in Arrow (no Python loop
per row); the kept rows stay in their original order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datasets_pipeline.engine.gather import take_table
from datasets_pipeline.engine.uid import compute_uids
from datasets_pipeline.errors import SchemaError

__all__ = ["dedup", "dedup_keys", "duplicate_counts", "first_occurrences"]

UID_COLUMN = "uid"


def _as_array(values: pa.Array | pa.ChunkedArray | Sequence[object] | np.ndarray) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    return pa.array(values)


def duplicate_counts(uids: pa.Array | pa.ChunkedArray | Sequence[object] | np.ndarray) -> int:
    """How many values repeat an earlier one (``len - distinct``; nulls count as one value)."""
    arr = _as_array(uids)
    if len(arr) == 0:
        return 0
    return len(arr) - pc.count_distinct(arr, mode="all").as_py()


def first_occurrences(keys: pa.Array | pa.ChunkedArray | Sequence[object] | np.ndarray) -> np.ndarray:
    """Sorted int64 positions of the first occurrence of each distinct key (nulls are one key)."""
    arr = _as_array(keys)
    if len(arr) == 0:
        return np.empty(0, dtype=np.int64)
    grouped = pa.table({"key": arr, "row": pa.array(np.arange(len(arr), dtype=np.int64))})
    firsts = grouped.group_by("key", use_threads=False).aggregate([("row", "min")])
    return np.sort(firsts.column("row_min").to_numpy())


def dedup_keys(table: pa.Table, columns: str | Sequence[str] | None = None) -> pa.Array | pa.ChunkedArray:
    """The key of each row: the named column, the uid of ``columns``, or the ``uid`` column (else the uid of all)."""
    if isinstance(columns, str):
        if columns not in table.column_names:
            raise SchemaError(f"key column {columns!r} is not in the table (columns: {table.column_names})", column=columns)
        return table.column(columns)
    if columns is None:
        if UID_COLUMN in table.column_names:
            return table.column(UID_COLUMN)
        columns = table.column_names
    columns = list(columns)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise SchemaError(f"columns {missing} are not in the table (columns: {table.column_names})", column=missing[0])
    return compute_uids(table, columns)


def dedup(table: pa.Table, columns: str | Sequence[str] | None = None) -> tuple[pa.Table, int]:
    """``(table without repeated rows, number of rows dropped)``; the first occurrence is kept.

    ``columns``: None uses the ``uid`` column (or hashes all columns when there is none); a
    string names a key column compared as is; a list of names hashes those columns.
    """
    if table.num_rows == 0:
        return table, 0
    keep = first_occurrences(dedup_keys(table, columns))
    dropped = table.num_rows - len(keep)
    if dropped == 0:
        return table, 0
    return take_table(table, keep), dropped
