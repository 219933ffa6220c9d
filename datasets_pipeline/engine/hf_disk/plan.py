"""One split to write, planned: its rows as a table (streams spooled to a memory-mapped file), its
features and target schema, shard bounds and chunk sizes."""

from __future__ import annotations

import os
import posixpath
import tempfile
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Union

import numpy as np
import pyarrow as pa

from datasets_pipeline.engine.chunked_take import ChunkedTake
from datasets_pipeline.engine.hf_disk.folder import Folder, read_ipc
from datasets_pipeline.engine.hf_disk.media import estimate_nbytes
from datasets_pipeline.engine.hf_disk.shards import chunk_rows, shard_bounds, shard_count
from datasets_pipeline.engine.hf_features import (
    Features,
    batch_rows,
    features_from_schema,
    features_schema,
    has_media,
    normalize_features,
)
from datasets_pipeline.errors import SchemaError

StreamLike = Union[pa.RecordBatchReader, Iterable[pa.RecordBatch], str, os.PathLike]
"""A split given as a stream: record batches (spooled to a memory-mapped temporary file) or the
path of an Arrow IPC file (file or stream format, memory-mapped)."""
Rows = Union[pa.Table, tuple[pa.Table, np.ndarray], StreamLike]
"""A split: a table, ``(table, indices)`` (its rows in ``indices`` order, gathered chunk by chunk,
like a ``datasets`` indices mapping after ``shuffle``/``select``), or a :data:`StreamLike`."""


def as_table(source: Any, folder: Folder, features: Mapping[str, Any] | None) -> tuple[pa.Table, str | None]:
    """The split as a table; streams are spooled to a memory-mapped file (unlinked once saved)."""
    if isinstance(source, pa.Table):
        return source, None
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source]), None
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        return Folder(posixpath.dirname(text) if "://" in text else os.path.dirname(text) or ".").read_arrow(
            posixpath.basename(text) if "://" in text else os.path.basename(text)
        ), None
    reader = source if isinstance(source, pa.RecordBatchReader) else iter(source)
    first = None if isinstance(reader, pa.RecordBatchReader) else next(reader, None)
    if isinstance(reader, pa.RecordBatchReader):
        schema = reader.schema
    elif first is not None:
        schema = first.schema
    elif features is not None:
        return features_schema(normalize_features(features)).empty_table(), None
    else:
        raise SchemaError("an empty stream of record batches needs `features` to be saved")
    spool_dir = tempfile.gettempdir() if folder.remote else folder.root
    fd, spool = tempfile.mkstemp(prefix=".spool-", suffix=".arrow", dir=spool_dir)
    os.close(fd)
    try:
        with pa.OSFile(spool, "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            if first is not None:
                writer.write_batch(first)
            for batch in reader:
                writer.write_batch(batch)
        return read_ipc(pa.memory_map(spool, "r")), spool
    except BaseException:
        os.unlink(spool)
        raise


@dataclass
class SplitPlan:
    """One split to write: its table cast plan, shard bounds and chunking."""

    folder: Folder
    table: pa.Table
    indices: np.ndarray | None
    spool: str | None
    features: Features
    schema: pa.Schema
    bounds: np.ndarray
    chunk_rows: int
    batch_rows: int
    needs_cast: bool
    media: bool
    split: str | None
    extra_info: dict[str, Any]
    fingerprint: str | None = None  # given by the caller: shards are not hashed
    durable: bool = False  # local shards written past the page cache (engine.direct_io) and fsynced
    take: ChunkedTake | None = None  # the gatherer of an indices split, shared by its shards

    @property
    def files(self) -> list[str]:
        n = len(self.bounds) - 1
        return [f"data-{i:05d}-of-{n:05d}.arrow" for i in range(n)]


def plan_split(
    source: Rows,
    folder: Folder,
    max_shard_size: int | str,
    num_shards: int | None,
    features: Mapping[str, Any] | None,
    split: str | None,
    extra_info: dict[str, Any],
) -> SplitPlan:
    indices = None
    if isinstance(source, tuple):
        source, indices = source
        if not isinstance(source, pa.Table):
            raise TypeError("a (table, indices) split needs a pyarrow.Table")
        indices = check_indices(indices, source.num_rows)
    table, spool = as_table(source, folder, features)
    try:
        feats = normalize_features(features) if features is not None else features_from_schema(table.schema)
        schema = features_schema(feats)
        check_columns(table.schema, schema)
        if table.schema.names != schema.names:
            table = table.select(schema.names)
        num_rows = table.num_rows if indices is None else len(indices)
        nbytes = estimate_nbytes(table, feats, indices)
        if num_shards is None:
            n = shard_count(num_rows, nbytes, max_shard_size)
        else:
            n = int(num_shards)
            if n < 1 or n > max(num_rows, 1):
                raise ValueError(f"num_shards={n} must be between 1 and the number of rows ({num_rows})")
    except BaseException:
        if spool is not None:
            os.unlink(spool)
        raise
    return SplitPlan(
        folder=folder,
        table=table,
        indices=indices,
        spool=spool,
        features=feats,
        schema=schema,
        bounds=shard_bounds(num_rows, n),
        chunk_rows=chunk_rows(num_rows, nbytes),
        batch_rows=batch_rows(feats),
        needs_cast=not table.schema.equals(schema, check_metadata=False),
        media=has_media(feats),
        split=None if split is None else str(split),
        extra_info=extra_info,
        take=None if indices is None else ChunkedTake(table),
    )


def check_indices(indices: Any, num_rows: int) -> np.ndarray:
    out = np.asarray(indices)
    if out.ndim != 1 or (out.size and not np.issubdtype(out.dtype, np.integer)):
        raise TypeError("indices must be a one-dimensional array of integers")
    out = out.astype(np.int64, copy=False)
    if out.size and (out.min() < 0 or out.max() >= num_rows):
        raise IndexError(f"indices out of range for a table of {num_rows} rows")
    return out


def unspool(plans: list[SplitPlan]) -> None:
    for plan in plans:
        if plan.spool is not None:
            os.unlink(plan.spool)
            plan.spool = None


def check_columns(have: pa.Schema, want: pa.Schema) -> None:
    missing = [n for n in want.names if n not in have.names]
    extra = [n for n in have.names if n not in want.names]
    if missing or extra:
        raise SchemaError(f"features and table columns differ: missing {missing}, extra {extra}")
