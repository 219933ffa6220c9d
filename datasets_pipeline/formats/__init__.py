"""Bytes -> Arrow record batches: Parquet, JSON Lines, JSON, CSV / TSV, plain or gzip / zstd / bz2 compressed.

Every reader streams: memory stays at a few batches (Parquet) or about one text block
(JSON Lines, CSV), except JSON documents (a top-level list), which are decoded whole.
All batches of one file share one schema. A file with columns but no rows yields one empty
batch carrying its schema; an empty file yields nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from ..errors import FormatError
from .csv import read_csv
from .detect import FORMATS, detect_format, split_compression
from .json_document import read_json
from .jsonl import read_jsonl
from .parquet import read_parquet

__all__ = ["FORMATS", "detect_format", "read_batches", "split_compression"]


def read_batches(
    path: str | os.PathLike, *, name: str | None = None, batch_rows: int = 65536
) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``batch_rows`` rows from one data file.

    ``name`` (the file's path in its repo, e.g. ``"data/test-00000-of-00001.parquet"``) picks the
    format and is the file named in errors; it defaults to ``path``. Malformed content raises
    :class:`~datasets_pipeline.errors.FormatError` naming the file (and the 1-based line for
    JSON Lines / CSV).
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    label = name if name is not None else str(path)
    fmt = detect_format(label)
    _, codec = split_compression(label)
    if fmt == "parquet":
        if codec is not None:
            raise FormatError(
                f"compressed Parquet ({codec}) is not supported; Parquet compresses its own pages", file=label
            )
        return read_parquet(Path(path), name=label, batch_rows=batch_rows)
    if fmt == "jsonl":
        return read_jsonl(path, name=label, codec=codec, batch_rows=batch_rows)
    if fmt == "json":
        return read_json(path, name=label, codec=codec, batch_rows=batch_rows)
    return read_csv(path, name=label, codec=codec, batch_rows=batch_rows, delimiter="\t" if fmt == "tsv" else ",")
