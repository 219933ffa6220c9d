"""Arrow IPC files on disk: atomic batch-by-batch writes and zero-copy memory-mapped reads."""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import fsspec
import pyarrow as pa

from datasets_pipeline.engine.writeback import Writeback

TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class WriteStats:
    """What one atomic write produced."""

    path: str
    rows: int
    bytes: int
    batches: int
    schema: pa.Schema


def _is_local(path: str | os.PathLike) -> bool:
    text = str(path)
    return "://" not in text or text.startswith("file://")


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a directory entry (a rename into it) to disk; a no-op where unsupported."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_local_file(path: str | os.PathLike, durable: bool = True) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; on success fsync and rename it into place.

    On any error the temporary file is removed and ``path`` keeps its previous content.
    A process killed mid-write leaves only a ``.tmp-*`` file, which readers never open.
    ``durable=False`` skips the fsyncs: readers still never see a partial file, but after a power
    loss the file may be empty (scratch outputs, and the ``datasets`` library's own behaviour).
    """
    target = Path(str(path).removeprefix("file://"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f"{TMP_PREFIX}{target.name}.{uuid.uuid4().hex}"
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
        if durable:
            fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write(
    sink: pa.NativeFile | object,
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema | None,
    writeback: Writeback | None = None,
) -> tuple[int, int, pa.Schema]:
    it = iter(batches)
    first: pa.RecordBatch | None = None
    if schema is None:
        first = next(it, None)
        if first is None:
            raise ValueError("cannot write an Arrow file without a schema and with no record batches")
        schema = first.schema
    rows = count = 0
    with pa.ipc.new_file(sink, schema) as writer:
        for batch in _chain(first, it):
            if not batch.schema.equals(schema):
                batch = _conform(batch, schema)
            writer.write_batch(batch)
            rows += batch.num_rows
            count += 1
            if writeback is not None:
                writeback.advance(sink.tell())
    return rows, count, schema


def _chain(first: pa.RecordBatch | None, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    if first is not None:
        yield first
    yield from rest


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Accept a batch whose schema differs only in metadata; anything else is an error."""
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    raise pa.ArrowInvalid(f"record batch schema {batch.schema} does not match the file schema {schema}")


def write_batches(
    path: str | os.PathLike,
    batches: Iterable[pa.RecordBatch | pa.Table],
    schema: pa.Schema | None = None,
    durable: bool = True,
) -> WriteStats:
    """Write record batches to an Arrow IPC file atomically, one batch at a time.

    Memory stays bounded by one batch. ``path`` may be local or an fsspec URL; a local write is
    temp file + fsync + rename (its pages are sent to disk as it grows, see
    :mod:`.writeback`), a remote one writes a temporary object and moves it into place.
    ``durable=False`` leaves out the fsync (see :func:`atomic_local_file`).
    """
    flat = _flatten_tables(batches)
    if _is_local(path):
        with atomic_local_file(path, durable) as tmp:
            with pa.OSFile(str(tmp), "wb") as sink:
                rows, count, schema = _write(sink, flat, schema, Writeback(sink.fileno()) if durable else None)
            size = tmp.stat().st_size
        return WriteStats(str(path), rows, size, count, schema)
    fs, fs_path = fsspec.core.url_to_fs(str(path))
    parent = fs_path.rsplit("/", 1)[0]
    tmp = f"{parent}/{TMP_PREFIX}{fs_path.rsplit('/', 1)[-1]}.{uuid.uuid4().hex}"
    fs.makedirs(parent, exist_ok=True)
    try:
        with fs.open(tmp, "wb") as fh:
            sink = pa.PythonFile(fh, mode="w")
            rows, count, schema = _write(sink, flat, schema)
        size = fs.size(tmp)
        fs.mv(tmp, fs_path)
    finally:
        with contextlib.suppress(FileNotFoundError, OSError):
            if fs.exists(tmp):
                fs.rm(tmp)
    return WriteStats(str(path), rows, int(size), count, schema)


def _flatten_tables(items: Iterable[pa.RecordBatch | pa.Table]) -> Iterator[pa.RecordBatch]:
    for item in items:
        if isinstance(item, pa.Table):
            yield from item.to_batches()
        else:
            yield item


def write_table(path: str | os.PathLike, table: pa.Table, max_chunksize: int | None = 65_536) -> WriteStats:
    """Write a whole table atomically (in record batches of at most ``max_chunksize`` rows)."""
    return write_batches(path, table.to_batches(max_chunksize=max_chunksize), schema=table.schema)


def read_table(path: str | os.PathLike) -> pa.Table:
    """Read an Arrow IPC file: memory-mapped (zero copy) when local, through fsspec otherwise."""
    if _is_local(path):
        source = pa.memory_map(str(path).removeprefix("file://"), "r")
        return pa.ipc.open_file(source).read_all()
    with fsspec.open(str(path), "rb") as fh:
        return pa.ipc.open_file(pa.py_buffer(fh.read())).read_all()


def iter_batches(path: str | os.PathLike) -> Iterator[pa.RecordBatch]:
    """Stream the record batches of an Arrow IPC file (memory-mapped when local)."""
    if _is_local(path):
        reader = pa.ipc.open_file(pa.memory_map(str(path).removeprefix("file://"), "r"))
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)
        return
    with fsspec.open(str(path), "rb") as fh:
        reader = pa.ipc.open_file(pa.PythonFile(fh, mode="r"))
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


def read_schema(path: str | os.PathLike) -> pa.Schema:
    """The schema of an Arrow IPC file without reading its batches."""
    if _is_local(path):
        return pa.ipc.open_file(pa.memory_map(str(path).removeprefix("file://"), "r")).schema
    with fsspec.open(str(path), "rb") as fh:
        return pa.ipc.open_file(pa.PythonFile(fh, mode="r")).schema
