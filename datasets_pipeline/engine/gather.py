"""Row gathers in bounded memory: a permutation (or any index array) taken chunk by chunk.

``Table.take`` of a whole permutation materializes the full result at once. :func:`iter_take`
takes ``chunk_rows`` indices at a time and yields one record batch per chunk, and
:func:`write_take` streams those batches into an Arrow IPC file with
:func:`.ipc.write_batches`, so memory holds one chunk of rows (plus the index array).
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa

from datasets_pipeline.engine.ipc import WriteStats, write_batches

__all__ = ["as_indices", "iter_take", "write_take"]

DEFAULT_CHUNK_ROWS = 65_536


def as_indices(indices: Sequence[int] | np.ndarray | pa.Array | pa.ChunkedArray | range, n_rows: int) -> np.ndarray:
    """``indices`` as an int64 numpy array, checked to lie in ``[0, n_rows)``.

    Raises TypeError for non-integer indices, ValueError for nulls, IndexError when out of range.
    """
    if isinstance(indices, range):
        arr = np.arange(indices.start, indices.stop, indices.step, dtype=np.int64)
    elif isinstance(indices, (pa.Array, pa.ChunkedArray)):
        if indices.null_count:
            raise ValueError(f"row indices must not be null ({indices.null_count} nulls)")
        if not pa.types.is_integer(indices.type):
            raise TypeError(f"row indices must be integers, got {indices.type}")
        arr = np.asarray(indices.to_numpy(), dtype=np.int64) if len(indices) else np.empty(0, np.int64)
    else:
        arr = np.asarray(indices)
        if arr.size == 0:
            arr = np.empty(0, dtype=np.int64)
        elif arr.dtype.kind not in "iu":
            raise TypeError(f"row indices must be integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64, copy=False).reshape(-1)
    if len(arr):
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high >= n_rows:
            bad = low if low < 0 else high
            raise IndexError(f"row index {bad} is out of range for a table of {n_rows} rows")
    return arr


def iter_take(
    table: pa.Table,
    indices: Sequence[int] | np.ndarray | pa.Array | range,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The rows ``table[indices]`` in order, one record batch per ``chunk_rows`` indices.

    The indices are checked before the first batch is produced (errors raise at the call).
    """
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    return _take_chunks(table, as_indices(indices, table.num_rows), chunk_rows)


def _take_chunks(table: pa.Table, idx: np.ndarray, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, len(idx), chunk_rows):
        part = table.take(idx[start : start + chunk_rows]).combine_chunks()
        yield from part.to_batches()


def write_take(
    path: str | os.PathLike,
    table: pa.Table,
    indices: Sequence[int] | np.ndarray | pa.Array | range,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> WriteStats:
    """Write ``table[indices]`` to an Arrow IPC file atomically, one chunk of rows in memory at a time."""
    return write_batches(path, iter_take(table, indices, chunk_rows), schema=table.schema)
