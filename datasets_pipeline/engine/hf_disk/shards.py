"""Shard and write-chunk arithmetic of ``save_to_disk``: sizes, shard counts and bounds, chunk rows."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

DEFAULT_MAX_SHARD_SIZE = "500MB"
MAX_CHUNK_BYTES = 100_000_000  # datasets.config.MAX_ROW_GROUP_SIZE
MAX_CHUNK_ROWS = 1000  # datasets.config.DEFAULT_MAX_BATCH_SIZE


def parse_size(size: int | str) -> int:
    """Bytes in ``"500MB"`` (10**6), ``"1MiB"`` (2**20), ``"8Mb"`` (bits), or an int; as ``datasets``."""
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    if not isinstance(size, str):
        raise ValueError(f"`size={size!r}` is not in a valid format. Use an integer followed by the unit, e.g., '5GB'.")
    upper = size.upper()
    for unit, factor in (("PIB", 2**50), ("TIB", 2**40), ("GIB", 2**30), ("MIB", 2**20), ("KIB", 2**10)):
        if upper.endswith(unit):
            return int(size[:-3]) * factor
    for unit, factor in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if upper.endswith(unit):
            value = int(size[:-2]) * factor
            return value // 8 if size.endswith("b") else value
    raise ValueError(f"`size={size}` is not in a valid format. Use an integer followed by the unit, e.g., '5GB'.")


def shard_count(num_rows: int, nbytes: int, max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE) -> int:
    """``min(rows, max(int(nbytes / max_shard_size) + 1, 1))``, but at least one shard (0-row splits)."""
    n = max(int(nbytes / parse_size(max_shard_size)) + 1, 1)
    return max(min(num_rows, n), 1)


def shard_bounds(num_rows: int, num_shards: int) -> np.ndarray:
    """Row offsets ``[0, …, num_rows]`` of ``num_shards`` contiguous shards (first ``n % N`` longer)."""
    div, mod = divmod(num_rows, num_shards)
    i = np.arange(num_shards + 1, dtype=np.int64)
    return div * i + np.minimum(i, mod)


def chunk_rows(num_rows: int, nbytes: int) -> int:
    """Rows per write chunk: ``min(1000, max(1, rows * 100MB // nbytes))`` (1000 for 0 bytes)."""
    if nbytes <= 0:
        return MAX_CHUNK_ROWS
    return min(MAX_CHUNK_ROWS, max(1, num_rows * MAX_CHUNK_BYTES // nbytes))


def iter_chunks(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    """Sub-tables of ``rows`` rows, cut as ``datasets.table.table_iter`` cuts them.

    The pieces of a sub-table keep the library's boundaries (record batches of the input split at
    ``rows``), so that combining them yields the very buffers the library writes.
    """
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in table.to_reader(max_chunksize=rows):
        n = batch.num_rows
        if n == 0:
            continue
        if size + n < rows:
            pending.append(batch)
            size += n
        elif size + n == rows:
            pending.append(batch)
            yield pa.Table.from_batches(pending)
            pending, size = [], 0
        else:
            cut = rows - size
            pending.append(batch.slice(0, cut))
            yield pa.Table.from_batches(pending)
            pending, size = [batch.slice(cut, n - cut)], n - cut
    if pending:
        yield pa.Table.from_batches(pending)
