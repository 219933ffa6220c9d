"""Parquet -> Arrow record batches, streamed one batch at a time.

``pre_buffer=False`` and a buffered column-chunk stream keep memory at a few batches (plus one
page per column) even for files with very large row groups. Schema metadata (the ``huggingface``
features key) is kept on every batch.

Decoding is the expensive part and Arrow decodes one column chunk on one core, so a file's row
groups are decoded by up to ``DECODERS`` background threads at once (the next row group while the
current one is consumed), each a few batches ahead at most: batches still come out in file order
and memory stays at ``DECODERS x (QUEUE_DEPTH + 1)`` batches, whatever the size of the file.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import FormatError

# Read buffer per column chunk: pages are read through it instead of whole column chunks.
_BUFFER_BYTES = 1 << 18
DECODERS = 2  # row groups decoded at once
QUEUE_DEPTH = 1  # decoded batches waiting per row group
_END = object()


def _open(path: str | os.PathLike) -> pq.ParquetFile:
    return pq.ParquetFile(os.fspath(path), pre_buffer=False, buffer_size=_BUFFER_BYTES)


class _GroupDecoder:
    """Decode one row group in a background thread into a bounded queue of record batches."""

    def __init__(self, path: str | os.PathLike, group: int, batch_rows: int) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(path, group, batch_rows), name=f"parquet-row-group-{group}", daemon=True
        )
        self.thread.start()

    def _run(self, path: str | os.PathLike, group: int, batch_rows: int) -> None:
        try:
            parquet = _open(path)
            try:
                for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[group], use_threads=True):
                    if not self._put(batch):
                        return
            finally:
                parquet.close()
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(exc)

    def _put(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            item = self.queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        while self.thread.is_alive():  # unblock a decoder waiting on a full queue
            try:
                self.queue.get_nowait()
            except queue.Empty:
                pass
            self.thread.join(timeout=0.05)


def _row_group_batches(path: str | os.PathLike, groups: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Every row group's batches in file order, ``DECODERS`` row groups decoded at a time."""
    active: deque[_GroupDecoder] = deque()
    started = 0
    try:
        while active or started < groups:
            while started < groups and len(active) < DECODERS:
                active.append(_GroupDecoder(path, started, batch_rows))
                started += 1
            decoder = active.popleft()
            try:
                yield from decoder
            finally:
                decoder.close()
    finally:
        for decoder in active:
            decoder.close()


def read_parquet(path: str | os.PathLike, *, name: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
    """Stream a Parquet file as record batches of at most ``batch_rows`` rows."""
    try:
        parquet = _open(path)
    except FileNotFoundError:
        raise FormatError("data file not found", file=name, hint=f"expected at {os.fspath(path)}") from None
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"not a readable Parquet file: {exc}", file=name) from None
    rows = 0
    batches: Iterator[pa.RecordBatch] | None = None
    try:
        schema = parquet.schema_arrow
        groups = parquet.metadata.num_row_groups
        if groups > 1:
            batches = _row_group_batches(path, groups, batch_rows)
        else:
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
        close = getattr(batches, "close", None)
        if close is not None:  # stops the row-group decoders of a stream closed early
            close()
        parquet.close()
