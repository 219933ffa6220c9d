"""Row gathers in bounded memory: a permutation (or any index array) taken chunk by chunk.

``Table.take`` of a whole permutation materializes the full result at once, and on a chunked
string or nested column concatenates the column first (overflowing past 2 GiB). Rows are gathered
here by :class:`.chunked_take.ChunkedTake`, in place. :func:`iter_take`
takes ``chunk_rows`` indices at a time and yields one record batch per chunk, and
:func:`write_take` streams those batches into an Arrow IPC file with
:func:`.ipc.write_batches`. Chunks are gathered by ``workers`` threads (Arrow's ``take`` releases the
GIL) while the consumer writes the previous ones, in order; memory holds ``workers + 1`` chunks of
rows (plus the index array).
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa

from datasets_pipeline.engine.chunked_take import ChunkedTake
from datasets_pipeline.engine.ipc import WriteStats, write_batches
from datasets_pipeline.engine.prefetch import ordered_map

__all__ = ["as_indices", "gather", "iter_take", "take_table", "write_take"]

DEFAULT_CHUNK_ROWS = 65_536
DEFAULT_CHUNK_BYTES = 8 << 20  # without an explicit chunk_rows, about this much data per output chunk (cache-friendly)


def default_chunk_rows(table: pa.Table) -> int:
    """Rows per gathered chunk: about ``DEFAULT_CHUNK_BYTES`` of the table's mean row, 1,024..65,536."""
    row_bytes = max(1, table.nbytes // max(1, table.num_rows))
    return int(min(DEFAULT_CHUNK_ROWS, max(1_024, DEFAULT_CHUNK_BYTES // row_bytes)))


def default_workers() -> int:
    """Gather threads: Arrow's CPU thread count (the cores this process may use)."""
    return max(1, pa.cpu_count())


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
    chunk_rows: int | None = None,
    workers: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """The rows ``table[indices]`` in order, one record batch per ``chunk_rows`` indices.

    ``chunk_rows`` defaults to about 8 MB of rows; ``workers`` (default :func:`default_workers`)
    threads gather chunks ahead of the consumer. The indices are checked before the first batch is
    produced (errors raise at the call).
    """
    chunk_rows = default_chunk_rows(table) if chunk_rows is None else chunk_rows
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return _take_chunks(table, as_indices(indices, table.num_rows), chunk_rows, workers)


def gather(table: pa.Table, indices: np.ndarray) -> pa.Table:
    """``table.take(indices)`` without concatenating the table's chunks (see :mod:`.chunked_take`).

    The result is one record batch, or more where a single one would overflow 32-bit offsets.
    """
    return pa.Table.from_batches(ChunkedTake(table)(np.asarray(indices, dtype=np.int64)), schema=table.schema)


def take_table(
    table: pa.Table,
    indices: Sequence[int] | np.ndarray | pa.Array | range,
    workers: int | None = None,
) -> pa.Table:
    """``table.take(indices)`` in memory, for tables of any size: checked indices, gathered in
    ~8 MB record batches by ``workers`` threads (never one column concatenated, never a 32-bit
    offset overflow)."""
    idx = as_indices(indices, table.num_rows)
    if len(idx) == 0:
        return table.schema.empty_table()
    workers = default_workers() if workers is None else workers
    return pa.Table.from_batches(list(_take_chunks(table, idx, default_chunk_rows(table), workers)), schema=table.schema)


def _take_chunks(table: pa.Table, idx: np.ndarray, chunk_rows: int, workers: int) -> Iterator[pa.RecordBatch]:
    take = ChunkedTake(table)
    starts = range(0, len(idx), chunk_rows)
    for batches in ordered_map(lambda start: take(idx[start : start + chunk_rows]), starts, min(workers, max(1, len(starts)))):
        yield from batches


def write_take(
    path: str | os.PathLike,
    table: pa.Table,
    indices: Sequence[int] | np.ndarray | pa.Array | range,
    chunk_rows: int | None = None,
    workers: int | None = None,
    durable: bool = True,
) -> WriteStats:
    """Write ``table[indices]`` to an Arrow IPC file atomically, ``workers + 1`` chunks of rows in
    memory at a time (``durable``: fsynced, see :func:`.ipc.write_batches`)."""
    return write_batches(path, iter_take(table, indices, chunk_rows, workers), schema=table.schema, durable=durable)
