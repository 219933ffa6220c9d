"""Lazy streaming datasets over Arrow record batches.

A :class:`StreamingDataset` is a re-iterable recipe: a factory of record batches plus lazy
operations (``map``, ``filter``, ``take``, ``skip``, ``batch``, ``shuffle``, ``select_columns``).
Nothing is read until it is iterated, every iteration replays the same rows, and memory is
bounded by a few record batches (plus the shuffle buffer).

:func:`interleave_streams` gives the same rows in the same order as
``datasets.interleave_datasets`` over ``IterableDataset`` sources, and
:meth:`StreamingDataset.shuffle` the same order as ``IterableDataset.shuffle`` of
``datasets`` >= 5.1 (fill the buffer, permute it, yield all but ``buffer_size // 2`` rows,
keep the rest). Both work on whole record batches: source ids are decided a block of 1000
draws at a time with numpy and rows are gathered from each source's current batch with
slices and one ``take``, never row by row.

Interleave semantics (those of ``datasets``' iterable interleave):

- ``probabilities=None`` cycles through the sources in order; the seed is ignored.
- Otherwise the source of each draw comes from :func:`~datasets_pipeline.engine.sampling.source_id_blocks`
  (``default_rng(seed).choice(n, 1000, p=probabilities)`` per block).
- A source counts as exhausted right after its last row is drawn (an empty source when it is
  first drawn; that draw yields nothing). ``first_exhausted`` stops there. ``all_exhausted``
  restarts the source by iterating it again and stops once every source has been exhausted
  at least once. ``all_exhausted_without_replacement`` skips the draws of exhausted sources
  (the draw is still consumed) and stops when every source is exhausted.
- Round-robin therefore stops right after the exhausting row, not at the end of the round as
  the map-style interleave does (``[A(5), B(10)]`` ``first_exhausted``: 9 rows, not 10).
- Columns are aligned as in ``concatenate``: all columns in first-seen order, a column missing
  from a source is null there, null-typed columns take the other type, other type differences
  are a SchemaError.
- ``seed=None`` draws OS entropy once per call: re-iterating the result replays the same order.

Differences from datasets
-------------------------

- ``all_exhausted`` or ``all_exhausted_without_replacement`` with a probability of 0 for any
  source raises ValueError when the interleave is created: ``datasets`` yields forever
  (``all_exhausted``) or hangs silently once the reachable sources drain (without replacement),
  because the unreachable source is never exhausted.
- Probabilities are checked when the interleave is created (length, sign, sum to 1 within
  numpy's tolerance); ``datasets`` checks them only when iteration draws the first block.
- Sources must be StreamingDatasets; columns that cannot be aligned raise SchemaError
  (``datasets`` raises ValueError) when the interleave is first read.
- Empty sources behave as in the iterable interleave (their draws yield nothing; under
  round-robin ``all_exhausted`` this works, where the map-style interleave raises IndexError).
- ``shuffle`` keeps one buffer over the whole stream. ``datasets`` also shuffles the order of
  a dataset's shards (files) before buffering; a stream has no shards, so a stream built from
  several files reads them in the given order. With one shard the orders are identical.
- ``set_epoch``, ``split_dataset_by_node``, DataLoader workers and state dicts are not
  modelled: a stream is iterated by one consumer; reseed explicitly for a new epoch.
- ``map`` passes whole ``pyarrow.RecordBatch`` objects (not dicts of lists) to batched
  functions; ``batch(n)`` yields record batches of ``n`` rows rather than rows of lists.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Sequence

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datasets_pipeline.engine import ipc
from datasets_pipeline.engine.concat import align_schemas, conform
from datasets_pipeline.engine.sampling import BLOCK_SIZE, check_probabilities, source_id_blocks
from datasets_pipeline.errors import SchemaError

__all__ = ["StreamingDataset", "concatenate_streams", "interleave_streams", "STOPPING_STRATEGIES"]

BatchFactory = Callable[[], Iterable[pa.RecordBatch | pa.Table]]
Predicate = pc.Expression | Callable[[pa.RecordBatch], Any]
StoppingStrategy = Literal["first_exhausted", "all_exhausted", "all_exhausted_without_replacement"]
STOPPING_STRATEGIES = ("first_exhausted", "all_exhausted", "all_exhausted_without_replacement")

DEFAULT_BATCH_ROWS = 1000
DEFAULT_PARQUET_BATCH_ROWS = 65_536


# ---------------------------------------------------------------- record batch utilities


def _as_batches(items: Iterable[pa.RecordBatch | pa.Table]) -> Iterator[pa.RecordBatch]:
    for item in items:
        if isinstance(item, pa.Table):
            yield from item.to_batches()
        elif isinstance(item, pa.RecordBatch):
            yield item
        else:
            raise TypeError(f"a stream must yield pyarrow RecordBatch or Table objects, got {type(item).__name__}")


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.concat_batches(batches)


def _to_batch(value: Any, schema: pa.Schema | None = None) -> pa.RecordBatch:
    """A map function's result as one record batch (optionally conformed to ``schema``)."""
    if isinstance(value, pa.RecordBatch):
        batch = value
    elif isinstance(value, pa.Table):
        batch = _concat(value.to_batches()) if value.num_rows else _empty_batch(value.schema)
    elif isinstance(value, Mapping):
        batch = pa.RecordBatch.from_pydict(dict(value), schema=schema)
    else:
        raise TypeError(f"a map function must return a RecordBatch, Table or dict of columns, got {type(value).__name__}")
    if schema is not None and not batch.schema.equals(schema):
        batch = _conform_batch(batch, schema)
    return batch


def _conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly the columns of ``schema`` (missing ones null, types cast)."""
    if batch.schema.equals(schema, check_metadata=True):
        return batch
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    if batch.num_rows == 0:
        return _empty_batch(schema)
    table = conform(pa.Table.from_batches([batch]), schema)
    return _concat(table.combine_chunks().to_batches())


def _mask(predicate: Callable[[pa.RecordBatch], Any], batch: pa.RecordBatch) -> pa.Array:
    mask = predicate(batch)
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    if not isinstance(mask, pa.Array):
        mask = pa.array(np.asarray(mask, dtype=bool))
    if len(mask) != batch.num_rows:
        raise ValueError(f"a filter function returned {len(mask)} values for a batch of {batch.num_rows} rows")
    return mask


def _rebatch(batches: Iterable[pa.RecordBatch], rows: int, drop_last: bool) -> Iterator[pa.RecordBatch]:
    """Re-cut ``batches`` into batches of exactly ``rows`` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        offset = 0
        while offset < batch.num_rows:
            n = min(rows - count, batch.num_rows - offset)
            pending.append(batch.slice(offset, n))
            count += n
            offset += n
            if count == rows:
                yield _concat(pending)
                pending, count = [], 0
    if count and not drop_last:
        yield _concat(pending)


def _check_count(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _fresh_seed(seed: int | None) -> int:
    """``seed``, or fresh OS entropy drawn once (so that re-iterating replays the same order)."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    return seed


# ---------------------------------------------------------------- the stream


class StreamingDataset:
    """A lazy, re-iterable stream of Arrow record batches.

    Build one with :meth:`from_batches`, :meth:`from_table`, :meth:`from_arrow_file` or
    :meth:`from_parquet`; chain lazy operations; consume it with :meth:`iter_batches`,
    :meth:`iter_rows`, :meth:`to_table` or :meth:`write`. Every iteration starts again from
    the source.
    """

    def __init__(
        self,
        factory: BatchFactory,
        schema: pa.Schema | Callable[[], pa.Schema] | None = None,
    ) -> None:
        self._factory = factory
        self._schema_source = schema
        self._schema: pa.Schema | None = schema if isinstance(schema, pa.Schema) else None

    # ------------------------------------------------------------ constructors

    @classmethod
    def from_batches(cls, factory: BatchFactory, schema: pa.Schema | None = None) -> "StreamingDataset":
        """A stream over ``factory()``, called afresh for every iteration (so it must be re-callable).

        ``schema`` is optional: without it, :attr:`schema` peeks at the first batch.
        """
        if not callable(factory):
            raise TypeError("from_batches needs a callable that returns an iterable of record batches")
        return cls(factory, schema)

    @classmethod
    def from_table(cls, table: pa.Table, batch_rows: int = DEFAULT_BATCH_ROWS) -> "StreamingDataset":
        """A stream over ``table`` in record batches of at most ``batch_rows`` rows (zero copy)."""
        batch_rows = _check_count("batch_rows", batch_rows, 1)
        return cls(lambda: table.to_batches(max_chunksize=batch_rows), table.schema)

    @classmethod
    def from_arrow_file(cls, path: str | os.PathLike) -> "StreamingDataset":
        """A stream over the record batches of an Arrow IPC file (memory-mapped when local)."""
        return cls(lambda: ipc.iter_batches(path), lambda: ipc.read_schema(path))

    @classmethod
    def from_parquet(
        cls,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        batch_rows: int = DEFAULT_PARQUET_BATCH_ROWS,
        columns: Sequence[str] | None = None,
    ) -> "StreamingDataset":
        """A stream over Parquet files, read in order, ``batch_rows`` rows at a time.

        Row groups are read one at a time (``pre_buffer=False``), so memory stays bounded by a
        row group. Every file must have the schema of the first one (metadata may differ).
        ``paths`` may be fsspec URLs.
        """
        batch_rows = _check_count("batch_rows", batch_rows, 1)
        files = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not files:
            raise ValueError("from_parquet needs at least one file")
        cols = list(columns) if columns is not None else None

        def schema() -> pa.Schema:
            with _open_parquet(files[0]) as pf:
                full = pf.schema_arrow
            return pa.schema([full.field(c) for c in cols], metadata=full.metadata) if cols else full

        def batches() -> Iterator[pa.RecordBatch]:
            expected = schema()
            for file in files:
                with _open_parquet(file) as pf:
                    for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
                        if not batch.schema.equals(expected, check_metadata=False):
                            raise SchemaError(
                                f"Parquet file schema {batch.schema} differs from the first file's {expected}",
                                file=str(file),
                            )
                        yield batch

        return cls(batches, schema)

    # ------------------------------------------------------------ consumers

    @property
    def schema(self) -> pa.Schema:
        """The stream's schema: known up front, or peeked from the first batch (then cached)."""
        if self._schema is None:
            source = self._schema_source
            if callable(source):
                self._schema = source()
            else:
                self._schema = self._peek_schema()
        return self._schema

    def _peek_schema(self) -> pa.Schema:
        first = next(_as_batches(self._factory()), None)
        return first.schema if first is not None else pa.schema([])

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """The record batches of one fresh pass over the stream."""
        return _as_batches(self._factory())

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        """The rows of one fresh pass, as dicts (converted a batch at a time)."""
        for batch in self.iter_batches():
            yield from batch.to_pylist()

    __iter__ = iter_rows

    def to_table(self) -> pa.Table:
        """Read the whole stream into one table."""
        batches = list(self.iter_batches())
        if not batches:
            return self.schema.empty_table()
        schema = batches[0].schema
        return pa.Table.from_batches([_conform_batch(b, schema) for b in batches], schema=schema)

    def write(self, path: str | os.PathLike) -> ipc.WriteStats:
        """Write the stream to an Arrow IPC file atomically, one batch at a time."""
        it = self.iter_batches()
        first = next(it, None)
        if first is None:
            return ipc.write_batches(path, [], schema=self.schema)
        return ipc.write_batches(path, itertools.chain([first], it), schema=first.schema)

    def __repr__(self) -> str:
        known = self._schema.names if self._schema is not None else "not read yet"
        return f"StreamingDataset(columns={known})"

    # ------------------------------------------------------------ lazy operations

    def _derive(self, batches: Callable[[], Iterable[pa.RecordBatch]], schema: pa.Schema | Callable[[], pa.Schema] | None) -> "StreamingDataset":
        return StreamingDataset(batches, schema)

    def _same_schema(self) -> Callable[[], pa.Schema]:
        return lambda: self.schema

    def map(
        self,
        fn: Callable[..., Any],
        batched: bool = True,
        batch_size: int | None = None,
        schema: pa.Schema | None = None,
    ) -> "StreamingDataset":
        """Apply ``fn`` lazily.

        ``batched=True``: ``fn(batch: pa.RecordBatch)`` returns a RecordBatch, a Table or a dict
        of columns (any number of rows). ``batched=False``: ``fn(row: dict) -> dict`` per row.
        ``batch_size`` re-cuts the input into batches of that many rows first (default: the
        stream's own batches). ``schema``, when given, is the output schema (results are cast
        to it and :attr:`schema` is known without running ``fn``).
        """
        if batch_size is not None:
            batch_size = _check_count("batch_size", batch_size, 1)

        def apply(batch: pa.RecordBatch) -> pa.RecordBatch:
            if batched:
                return _to_batch(fn(batch), schema)
            rows = [fn(row) for row in batch.to_pylist()]
            if schema is not None:
                return pa.RecordBatch.from_pylist(rows, schema=schema)
            return pa.RecordBatch.from_pylist(rows)

        def batches() -> Iterator[pa.RecordBatch]:
            source = self.iter_batches()
            if batch_size is not None:
                source = _rebatch(source, batch_size, drop_last=False)
            for batch in source:
                out = apply(batch)
                if out.num_rows:
                    yield out

        def peek() -> pa.Schema:
            first = next(batches(), None)
            if first is not None:
                return first.schema
            if batched:
                return apply(_empty_batch(self.schema)).schema
            return pa.schema([])

        return self._derive(batches, schema if schema is not None else peek)

    def filter(self, predicate: Predicate) -> "StreamingDataset":
        """Keep the rows where ``predicate`` holds: a ``pyarrow.compute`` Expression, or a
        vectorized function of a RecordBatch returning one boolean per row (nulls drop the row)."""

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in self.iter_batches():
                if isinstance(predicate, pc.Expression):
                    out = batch.filter(predicate)
                else:
                    out = batch.filter(_mask(predicate, batch))
                if out.num_rows:
                    yield out

        if not isinstance(predicate, pc.Expression) and not callable(predicate):
            raise TypeError("filter needs a pyarrow.compute Expression or a function of a RecordBatch")
        return self._derive(batches, self._same_schema())

    def take(self, n: int) -> "StreamingDataset":
        """The first ``n`` rows (stops reading the source right after them)."""
        n = _check_count("n", n)

        def batches() -> Iterator[pa.RecordBatch]:
            left = n
            if left == 0:
                return
            for batch in self.iter_batches():
                if batch.num_rows >= left:
                    yield batch.slice(0, left)
                    return
                yield batch
                left -= batch.num_rows

        return self._derive(batches, self._same_schema())

    def skip(self, n: int) -> "StreamingDataset":
        """All rows but the first ``n``."""
        n = _check_count("n", n)

        def batches() -> Iterator[pa.RecordBatch]:
            left = n
            for batch in self.iter_batches():
                if left >= batch.num_rows:
                    left -= batch.num_rows
                    continue
                yield batch.slice(left) if left else batch
                left = 0

        return self._derive(batches, self._same_schema())

    def batch(self, batch_size: int, drop_last_batch: bool = False) -> "StreamingDataset":
        """Re-cut the stream into record batches of exactly ``batch_size`` rows (the last one
        shorter unless ``drop_last_batch``)."""
        batch_size = _check_count("batch_size", batch_size, 1)
        return self._derive(lambda: _rebatch(self.iter_batches(), batch_size, drop_last_batch), self._same_schema())

    def shuffle(self, seed: int | None = None, buffer_size: int = 1000) -> "StreamingDataset":
        """Buffer-shuffle as ``IterableDataset.shuffle`` does in ``datasets`` >= 5.1.

        With ``rng = default_rng(seed)``: fill a buffer of ``buffer_size`` rows, permute it with
        ``rng.permutation(buffer_size)``, yield all but the last ``buffer_size // 2`` rows of the
        permuted buffer, keep those and refill; at the end permute and yield what is left.
        The result does not depend on batch boundaries. ``seed=None`` draws OS entropy once.
        """
        buffer_size = _check_count("buffer_size", buffer_size, 1)
        seed = _fresh_seed(seed)
        return self._derive(lambda: _buffer_shuffle(self.iter_batches(), seed, buffer_size), self._same_schema())

    def select_columns(self, columns: str | Sequence[str]) -> "StreamingDataset":
        """Only ``columns``, in the given order."""
        names = [columns] if isinstance(columns, str) else list(columns)

        def check(schema: pa.Schema) -> None:
            missing = [c for c in names if c not in schema.names]
            if missing:
                raise SchemaError(f"columns {missing} are not in the stream (it has {schema.names})", column=missing[0])

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in self.iter_batches():
                check(batch.schema)
                yield batch.select(names)

        def schema() -> pa.Schema:
            full = self.schema
            check(full)
            return pa.schema([full.field(c) for c in names], metadata=full.metadata)

        return self._derive(batches, schema)


def _open_parquet(path: str | os.PathLike) -> Any:
    """A context manager holding an open ``pq.ParquetFile`` (no pre-buffering)."""
    text = str(path)
    if "://" in text and not text.startswith("file://"):
        return _RemoteParquet(text)
    return pq.ParquetFile(text.removeprefix("file://"), pre_buffer=False)


class _RemoteParquet:
    def __init__(self, url: str) -> None:
        self._url = url

    def __enter__(self) -> pq.ParquetFile:
        self._fh = fsspec.open(self._url, "rb").open()
        return pq.ParquetFile(self._fh, pre_buffer=False)

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


# ---------------------------------------------------------------- shuffle


def _buffer_shuffle(batches: Iterable[pa.RecordBatch], seed: int, buffer_size: int) -> Iterator[pa.RecordBatch]:
    """The ``datasets`` >= 5.1 buffer shuffle, worked out on row indices one input batch at a time.

    The buffer is a vector of row indices into ``window`` (kept buffer rows + the new batch):
    each refill is one ``rng.permutation``; the rows to yield are gathered with one ``take``.
    """
    rng = np.random.default_rng(seed)
    keep = buffer_size // 2
    emit = buffer_size - keep
    buffer: pa.RecordBatch | None = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        window = batch if buffer is None else _concat([buffer, _conform_batch(batch, buffer.schema)])
        held = 0 if buffer is None else buffer.num_rows
        ids = np.arange(held, dtype=np.int64)
        nxt, total = held, window.num_rows
        out: list[np.ndarray] = []
        while total - nxt >= buffer_size - len(ids):
            need = buffer_size - len(ids)
            ids = np.concatenate([ids, np.arange(nxt, nxt + need, dtype=np.int64)])[rng.permutation(buffer_size)]
            nxt += need
            out.append(ids[:emit])
            ids = ids[emit:]
        ids = np.concatenate([ids, np.arange(nxt, total, dtype=np.int64)])
        if out:
            yield window.take(pa.array(np.concatenate(out)))
        buffer = window.take(pa.array(ids))
    if buffer is not None and buffer.num_rows:
        yield buffer.take(pa.array(rng.permutation(buffer.num_rows)))


# ---------------------------------------------------------------- concatenate


def _aligned_schema(streams: Sequence[StreamingDataset]) -> pa.Schema:
    schemas = [s.schema for s in streams]
    return align_schemas([s for s in schemas if len(s)] or schemas)


def concatenate_streams(streams: Sequence[StreamingDataset]) -> StreamingDataset:
    """The rows of ``streams`` one after the other, columns aligned as in ``concatenate``."""
    streams = list(streams)
    if not streams:
        raise ValueError("concatenate_streams needs at least one stream")

    def batches() -> Iterator[pa.RecordBatch]:
        schema = _aligned_schema(streams)
        for stream in streams:
            for batch in stream.iter_batches():
                if batch.num_rows:
                    yield _conform_batch(batch, schema)

    return StreamingDataset(batches, lambda: _aligned_schema(streams))


# ---------------------------------------------------------------- interleave


class _Cursor:
    """One interleave source: its current non-empty record batch and the next row in it."""

    def __init__(self, stream: StreamingDataset, schema: pa.Schema) -> None:
        self._stream, self._schema = stream, schema
        self.restart()

    def restart(self) -> None:
        """Begin a fresh pass over the source."""
        self._it = (b for b in self._stream.iter_batches() if b.num_rows)
        self.pos = 0
        self.batch = self._next()

    def _next(self) -> pa.RecordBatch | None:
        batch = next(self._it, None)
        return None if batch is None else _conform_batch(batch, self._schema)

    @property
    def remaining(self) -> int:
        return self.batch.num_rows - self.pos if self.batch is not None else 0

    def advance(self) -> bool:
        """Move to the next batch once the current one is used up; False at the end of the pass."""
        self.batch, self.pos = self._next(), 0
        return self.batch is not None


def _round_robin_blocks(n_sources: int) -> Iterator[np.ndarray]:
    start = 0
    while True:
        yield np.arange(start, start + BLOCK_SIZE, dtype=np.int64) % n_sources
        start = (start + BLOCK_SIZE) % n_sources


def interleave_streams(
    streams: Sequence[StreamingDataset],
    probabilities: Sequence[float] | None = None,
    seed: int | None = None,
    stopping_strategy: StoppingStrategy = "first_exhausted",
) -> StreamingDataset:
    """Interleave ``streams`` lazily, row for row as ``datasets.interleave_datasets`` does for
    ``IterableDataset`` sources (see the module docstring for the rules and the differences).

    Memory is bounded by one record batch per source plus one output block; sources are
    never materialized. Arguments are checked here; sources are read only when iterated.
    """
    streams = list(streams)
    if not streams:
        raise ValueError("Unable to interleave an empty list of streams.")
    for i, stream in enumerate(streams):
        if not isinstance(stream, StreamingDataset):
            raise ValueError(f"interleave_streams expects StreamingDataset objects; item {i} is a {type(stream).__name__}")
    if stopping_strategy not in STOPPING_STRATEGIES:
        raise ValueError(f"stopping_strategy must be one of {list(STOPPING_STRATEGIES)}, got {stopping_strategy!r}")
    n = len(streams)
    p: np.ndarray | None = None
    if probabilities is not None:
        p = check_probabilities(probabilities, n)
        if stopping_strategy != "first_exhausted" and np.any(p == 0):
            zero = [int(i) for i in np.flatnonzero(p == 0)]
            raise ValueError(
                f"stopping_strategy={stopping_strategy!r} never ends when a source has probability 0 "
                f"(sources {zero} are never drawn, so never exhausted); drop those sources or use 'first_exhausted'"
            )
    seed = _fresh_seed(seed) if p is not None else None

    def blocks() -> Iterator[np.ndarray]:
        if p is None:
            return _round_robin_blocks(n)
        return source_id_blocks(n, p, seed)

    return StreamingDataset(
        lambda: _interleave(streams, blocks(), stopping_strategy),
        lambda: _aligned_schema(streams),
    )


def _interleave(streams: list[StreamingDataset], blocks: Iterator[np.ndarray], strategy: str) -> Iterator[pa.RecordBatch]:
    """Walk the source-id blocks, one output batch per block.

    Within a block, the draws up to the next *event* (a source's current batch running out, or
    the first draw of an empty source) are plain: each takes the next row of its source. They
    are gathered as one slice per source plus an index vector. The event itself is resolved in
    Python (next batch, exhaustion, restart or stop), so Python work is per batch, not per row.
    """
    schema = _aligned_schema(streams)
    n = len(streams)
    cursors = [_Cursor(s, schema) for s in streams]
    exhausted = np.zeros(n, dtype=bool)
    dead = np.zeros(n, dtype=bool)  # draws of these sources yield nothing and cause no event
    restart = strategy == "all_exhausted"
    without_replacement = strategy == "all_exhausted_without_replacement"
    for block in blocks:
        m = len(block)
        positions = [np.flatnonzero(block == s) for s in range(n)]
        used = np.zeros(n, dtype=np.int64)  # draws of each source handled so far in this block
        pieces: list[pa.RecordBatch] = []
        order: list[np.ndarray] = []
        gathered = 0
        start = 0
        stop = False
        while start < m:
            event, source = m, -1
            for s in range(n):
                if dead[s]:
                    continue
                k = used[s] + max(cursors[s].remaining, 1) - 1
                if k < len(positions[s]) and positions[s][k] < event:
                    event, source = int(positions[s][k]), s
            end = event + 1 if source >= 0 else m
            draws = block[start:end]
            yields = np.array([not dead[s] and cursors[s].batch is not None for s in range(n)])
            drawn = draws[yields[draws]]
            if len(drawn):
                counts = np.bincount(drawn, minlength=n)
                for s in np.flatnonzero(counts):
                    c = int(counts[s])
                    pieces.append(cursors[s].batch.slice(cursors[s].pos, c))
                    cursors[s].pos += c
                idx = np.empty(len(drawn), dtype=np.int64)
                idx[np.argsort(drawn, kind="stable")] = np.arange(gathered, gathered + len(drawn))
                order.append(idx)
                gathered += len(drawn)
            for s in range(n):
                used[s] = np.searchsorted(positions[s], end, side="left")
            start = end
            if source < 0:
                break
            cursor = cursors[source]
            if cursor.batch is not None and cursor.advance():
                continue
            # ``source`` is exhausted: its last row (or, when empty, nothing) was just drawn.
            exhausted[source] = True
            if strategy == "first_exhausted" or exhausted.all():
                stop = True
                break
            if without_replacement:
                dead[source] = True
            elif restart:
                cursor.restart()
                dead[source] = cursor.batch is None
        if pieces:
            yield _concat(pieces).take(pa.array(np.concatenate(order)))
        if stop:
            return
