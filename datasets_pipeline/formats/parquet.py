"""Parquet -> Arrow record batches, streamed one batch at a time.

``pre_buffer=False`` and a buffered column-chunk stream keep memory at a few batches (plus one
page per column) even for files with very large row groups. Schema metadata (the ``huggingface``
features key) is kept on every batch.
"""

from __future__ import annotations

import os
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import FormatError

# Read buffer per column chunk: pages are read through it instead of whole column chunks.
_BUFFER_BYTES = 1 << 18


def read_parquet(path: str | os.PathLike, *, name: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
    """Stream a Parquet file as record batches of at most ``batch_rows`` rows."""
    try:
        parquet = pq.ParquetFile(os.fspath(path), pre_buffer=False, buffer_size=_BUFFER_BYTES)
    except FileNotFoundError:
        raise FormatError("data file not found", file=name, hint=f"expected at {os.fspath(path)}") from None
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"not a readable Parquet file: {exc}", file=name) from None
    rows = 0
    try:
        schema = parquet.schema_arrow
        batches = parquet.iter_batches(batch_size=batch_rows, use_threads=True)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError) as exc:
                raise FormatError(f"corrupt Parquet data after row {rows}: {exc}", file=name) from None
            rows += batch.num_rows
            yield batch
        if rows == 0:
            yield pa.RecordBatch.from_pylist([], schema=schema)
    finally:
        parquet.close()
