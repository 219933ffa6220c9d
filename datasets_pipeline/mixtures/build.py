"""Materialize a mixture: interleave its sources into Arrow IPC files, batch by batch.

:func:`build_mixture` gives the rows ``datasets.interleave_datasets(sources, probabilities, seed,
stopping_strategy)`` gives (map-style), in the same order, with the cookbook's
``InterleavedChatDatasetBuilder`` conventions: without weights the probabilities are the sources'
sizes over their total; with ``test_size`` the held-out rows are taken from the sources first
(:func:`.plan.holdout`) and the interleave runs on what is left. ``max_rows`` keeps the first
rows of the interleave.

Streaming: sources are opened by the caller (``open_source(asset, partition)``, a memory-mapped
``pyarrow.Table``; renames and the column selection are zero-copy). :class:`.plan.InterleavePlan`
decides the rows one chunk of about 8 MB of output at a time; worker threads gather each chunk
from the mapped sources (:class:`~datasets_pipeline.engine.chunked_take.ChunkedTake`) while the
previous ones are written (:func:`~datasets_pipeline.engine.ipc.write_batches`: temporary file,
then rename). Anonymous memory holds a few chunks, whatever the size of the sources; with
``test_size`` each source's shuffled row order (8 bytes per source row) is kept too.

Rows: the sources' columns, aligned as ``interleave_datasets`` needs them (all columns in
first-seen order, a column missing from a source is null there, null-typed columns take the
other sources' type, anything else is a SchemaError naming both sources and the column), plus
``source``: ``"<asset>@<config>/<split>"`` of the partition each row comes from. With
``columns`` only those are kept, plus ``uid`` and ``source_row`` where the sources have them.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa

from datasets_pipeline.engine.chunked_take import ChunkedTake
from datasets_pipeline.engine.concat import align_schemas, concatenate, conform
from datasets_pipeline.engine.gather import DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_ROWS, default_workers
from datasets_pipeline.engine.ipc import WriteStats, fsync_dir, temporary_name, write_batches
from datasets_pipeline.engine.prefetch import ordered_map
from datasets_pipeline.errors import DatasetsPipelineError, SchemaError
from datasets_pipeline.paths import is_remote
from datasets_pipeline.mixtures.config import SOURCE_COLUMN, Mixture, MixtureSource
from datasets_pipeline.mixtures.plan import InterleavePlan, chunk_blocks_for, holdout, probabilities
from datasets_pipeline.mixtures.stats import MixtureStats, SourceStats

__all__ = ["KEPT_COLUMNS", "MixtureBuildError", "OpenSource", "SourceTable", "build_mixture", "open_sources", "output_schema"]

OpenSource = Callable[[str, str], pa.Table]
"""``open_source(asset, partition)`` → the partition's rows (memory-mapped), e.g. ``("cookbook/gsm8k", "main/train")``."""

KEPT_COLUMNS = ("uid", "source_row")  # kept with a column selection, where present


class MixtureBuildError(DatasetsPipelineError, ValueError):
    """A mixture cannot be built from its sources as they are (sizes, weights, held-out rows)."""


@dataclass(frozen=True)
class SourceTable:
    """One source, opened: its partitions' rows (renamed, selected) and where each partition starts."""

    source: MixtureSource
    table: pa.Table
    part_starts: np.ndarray  # first row of each of source.partitions within table

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def _where(mixture: Mixture, source: MixtureSource | None = None) -> str:
    return f"mixture {mixture.name!r}" + (f", source {source.label}" if source is not None else "")


def _open(mixture: Mixture, source: MixtureSource, open_source: OpenSource) -> SourceTable:
    parts = [open_source(source.asset, p) for p in source.partitions]
    try:
        table = concatenate(parts) if len(parts) > 1 else parts[0]
    except SchemaError as exc:
        raise SchemaError(
            f"{_where(mixture, source)}: its partitions {list(source.partitions)} disagree: {exc.reason}", column=exc.column
        ) from None
    starts = np.cumsum([0] + [p.num_rows for p in parts[:-1]], dtype=np.int64)
    names = list(table.column_names)
    for old, new in source.rename:
        if old not in names:
            raise SchemaError(f"{_where(mixture, source)}: cannot rename column {old!r}: no such column (it has {names})", column=old)
        if new in names and new not in dict(source.rename):
            raise SchemaError(f"{_where(mixture, source)}: cannot rename {old!r} to {new!r}: the column exists", column=new)
    if source.rename:
        mapping = dict(source.rename)
        table = table.rename_columns([mapping.get(n, n) for n in names])
        names = list(table.column_names)
    if mixture.columns is not None:
        missing = [c for c in mixture.columns if c not in names]
        if missing:
            raise SchemaError(
                f"{_where(mixture, source)}: has no column {missing[0]!r} (it has {names}); rename one to it or change 'columns'",
                column=missing[0],
            )
        keep = list(mixture.columns) + [c for c in KEPT_COLUMNS if c in names and c not in mixture.columns]
        table = table.select(keep)
    if SOURCE_COLUMN in table.column_names:
        raise SchemaError(
            f"{_where(mixture, source)}: has a column {SOURCE_COLUMN!r}, which the mixture adds to every row; "
            "rename it ('rename:') or leave it out ('columns:')",
            column=SOURCE_COLUMN,
        )
    return SourceTable(source, table.replace_schema_metadata(None), starts)


def open_sources(mixture: Mixture, open_source: OpenSource) -> list[SourceTable]:
    """Open every source of ``mixture`` with its renames and column selection applied (zero copy)."""
    return [_open(mixture, s, open_source) for s in mixture.sources]


def output_schema(mixture: Mixture, sources: Sequence[SourceTable]) -> pa.Schema:
    """The aligned columns of the sources, then ``source``; a SchemaError names both sources."""
    schema = sources[0].table.schema
    for i, current in enumerate(sources[1:], start=1):
        try:
            schema = align_schemas([schema, current.table.schema])
        except SchemaError as exc:
            column = exc.column or ""
            top = column.split(".", 1)[0]
            other = next((s for s in sources[:i] if top in s.table.column_names), sources[0])
            theirs = other.table.schema.field(top).type if top in other.table.column_names else "?"
            mine = current.table.schema.field(top).type if top in current.table.column_names else "?"
            nested = f" (they differ at {column!r})" if column != top else ""
            raise SchemaError(
                f"{_where(mixture)}: cannot align column {top!r}: source {other.source.label} has {theirs}, "
                f"source {current.source.label} has {mine}{nested}",
                column=column or None,
                hint="Only missing and null-typed columns are filled in, as in datasets.interleave_datasets; "
                "rename or leave out the column ('rename:', 'columns:')",
            ) from None
    return schema.append(pa.field(SOURCE_COLUMN, pa.string(), nullable=False))


class _Gatherer:
    """Rows of the sources by (source index, row): one output record batch per request."""

    def __init__(self, sources: Sequence[SourceTable], schema: pa.Schema) -> None:
        self.out_schema = schema
        self.schema = pa.schema(list(schema)[:-1])
        lengths = np.array([s.num_rows for s in sources], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self.part_starts = np.concatenate([off + s.part_starts for off, s in zip(self.offsets, sources)])
        self.labels = pa.array([label for s in sources for label in s.source.partition_labels], pa.string())
        same = all(
            s.table.schema.names == self.schema.names
            and all(a.equals(b) for a, b in zip(s.table.schema.types, self.schema.types))
            for s in sources
        )
        self.one: ChunkedTake | None = None
        self.each: list[ChunkedTake] = []
        if same:  # one reader over all sources, zero copy: one gather per row
            tables = [pa.Table.from_arrays(s.table.columns, schema=self.schema) for s in sources]
            self.one = ChunkedTake(pa.concat_tables(tables))
        else:  # per source, then conformed (missing or null-typed columns) and put in order
            self.each = [ChunkedTake(s.table) for s in sources]

    def __call__(self, request: tuple[np.ndarray, np.ndarray]) -> list[pa.RecordBatch]:
        sources, rows = request
        index = self.offsets[sources] + rows
        part = np.searchsorted(self.part_starts, index, side="right") - 1
        part = np.ascontiguousarray(part, dtype=np.int64)  # wrapped, not converted (pa.array would import pandas)
        labels = self.labels.take(pa.Array.from_buffers(pa.int64(), len(part), [None, pa.py_buffer(part)]))
        batches = self.one(index) if self.one is not None else self._conformed(sources, rows)
        out, at = [], 0
        for batch in batches:
            columns = list(batch.columns) + [labels.slice(at, batch.num_rows)]
            out.append(pa.RecordBatch.from_arrays(columns, schema=self.out_schema))
            at += batch.num_rows
        return out

    def _conformed(self, sources: np.ndarray, rows: np.ndarray) -> list[pa.RecordBatch]:
        order = np.argsort(sources, kind="stable")
        counts = np.bincount(sources, minlength=len(self.each))
        pieces, at = [], 0
        for s in np.flatnonzero(counts):
            wanted = rows[order[at : at + counts[s]]]
            piece = pa.Table.from_batches(self.each[s](wanted), schema=self.each[s].schema)
            pieces.append(conform(piece, self.schema))
            at += int(counts[s])
        grouped = pa.concat_tables(pieces)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order), dtype=np.int64)
        return ChunkedTake(grouped)(inverse)


def _chunk_rows(sources: Sequence[SourceTable]) -> int:
    rows = sum(s.num_rows for s in sources)
    row_bytes = max(1, sum(s.table.nbytes for s in sources) // max(1, rows))
    return int(min(DEFAULT_CHUNK_ROWS, max(1_024, DEFAULT_CHUNK_BYTES // row_bytes)))


def _write(
    path: str | os.PathLike, gather: _Gatherer, requests: Iterator[tuple[np.ndarray, np.ndarray]], workers: int, durable: bool
) -> WriteStats:
    batches = (b for chunk in ordered_map(gather, requests, workers) for b in chunk)
    return write_batches(path, batches, schema=gather.out_schema, durable=durable)


@contextlib.contextmanager
def _staged(train: str | os.PathLike, test: str | os.PathLike | None, durable: bool) -> Iterator[tuple[str, str | None]]:
    """Hidden temporary names beside local ``train``/``test``, renamed into place together on success.

    So a failure while writing either file leaves both previous files as they were. Remote
    paths are written in place (each write is still atomic on its own).
    """
    targets = [str(t) for t in (train, test) if t is not None]
    if any(is_remote(t) for t in targets):
        yield str(train), (str(test) if test is not None else None)
        return
    targets = [t.removeprefix("file://") for t in targets]
    train, test = targets[0], (targets[1] if test is not None else None)
    staged = {t: str(Path(t).parent / temporary_name(Path(t).name)) for t in targets}
    try:
        yield staged[str(train)], (staged[str(test)] if test is not None else None)
        for target, tmp in staged.items():
            os.replace(tmp, target)
        if durable:
            for folder in {str(Path(t).parent) for t in staged}:
                fsync_dir(folder)
    finally:
        for tmp in staged.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


@dataclass(frozen=True)
class _Layout:
    """What the interleave runs on: the kept sources, their training rows, weights and the held-out rows."""

    kept: tuple[int, ...]  # indices of the sources in the interleave
    train_rows: tuple[np.ndarray, ...] | None  # per kept source, its rows left for training (None: all, in order)
    lengths: tuple[int, ...]  # per kept source
    weights: tuple[float, ...]  # per kept source
    held_out: tuple[int, ...]  # per source
    test: tuple[np.ndarray, np.ndarray] | None  # held-out rows as (source, row), in test order


def _layout(mixture: Mixture, opened: Sequence[SourceTable]) -> _Layout:
    lengths = [s.num_rows for s in opened]
    if not mixture.weighted and sum(lengths) == 0:
        raise MixtureBuildError(f"{_where(mixture)}: every source is empty, nothing to mix")
    weights = list(mixture.weights) if mixture.weighted else [float(x) for x in lengths]  # type: ignore[arg-type]
    if not mixture.test_size:
        return _Layout(tuple(range(len(opened))), None, tuple(lengths), tuple(weights), (0,) * len(opened), None)
    try:
        split = holdout(lengths, weights, mixture.test_size, mixture.seed, uniform_rows=not mixture.weighted)
    except ValueError as exc:
        raise MixtureBuildError(f"{_where(mixture)}: cannot hold out test_size={mixture.test_size} rows: {exc}") from None
    return _Layout(
        split.kept, split.train_rows, tuple(len(r) for r in split.train_rows), split.train_weights, split.held_out,
        (split.test_sources, split.test_rows),
    )


class _TrainRows:
    """The plan's chunks as gather requests (source, row) of at most ``chunk_rows`` rows, cut at
    ``max_rows``; counts the draws and rows of each kept source on the way."""

    def __init__(self, plan: InterleavePlan, layout: _Layout, max_rows: int | None, chunk_rows: int) -> None:
        self.plan, self.layout, self.max_rows, self.chunk_rows = plan, layout, max_rows, chunk_rows
        self.draws = np.zeros(plan.n_sources, dtype=np.int64)
        self.rows = np.zeros(plan.n_sources, dtype=np.int64)
        self.capped = False

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        plan, m = self.plan, self.plan.n_sources
        kept = np.asarray(self.layout.kept, dtype=np.int64)
        emitted = 0
        for draws, ranks in plan:
            stop = False
            if self.max_rows is not None:
                kept_draws = np.flatnonzero(ranks < plan.lengths[draws]) if plan.strategy == "all_exhausted_without_replacement" else None
                out = len(kept_draws) if kept_draws is not None else len(draws)
                if emitted + out >= self.max_rows:
                    need = self.max_rows - emitted  # >= 1: the previous chunk did not reach max_rows
                    cut = (int(kept_draws[need - 1]) if kept_draws is not None else need - 1) + 1
                    self.capped = not (plan.finished and cut == len(draws))
                    draws, ranks, stop = draws[:cut], ranks[:cut], True
            self.draws += np.bincount(draws, minlength=m)
            ids, local = plan.rows(draws, ranks)
            self.rows += np.bincount(ids, minlength=m)
            emitted += len(ids)
            if self.layout.train_rows is not None:  # rows of the training part -> rows of the source
                local = local.copy()
                for j in np.unique(ids):
                    mask = ids == j
                    local[mask] = self.layout.train_rows[j][local[mask]]
            for start in range(0, len(ids), self.chunk_rows):
                yield kept[ids[start : start + self.chunk_rows]], local[start : start + self.chunk_rows]
            if stop:
                return


def _source_stats(
    opened: Sequence[SourceTable], layout: _Layout, p: Sequence[float], train: _TrainRows, strategy: str
) -> list[SourceStats]:
    total = int(train.rows.sum())
    at = {s: j for j, s in enumerate(layout.kept)}
    out = []
    for s, source in enumerate(opened):
        j = at.get(s)
        draws, rows = (int(train.draws[j]), int(train.rows[j])) if j is not None else (0, 0)
        length = layout.lengths[j] if j is not None else 0
        with_replacement = strategy != "all_exhausted_without_replacement"
        out.append(
            SourceStats(
                label=source.source.label,
                asset=source.source.asset,
                partitions=source.source.partitions,
                source_rows=source.num_rows,
                held_out=int(layout.held_out[s]),
                weight=source.source.weight,
                probability=float(p[j]) if j is not None else 0.0,
                draws=draws,
                rows=rows,
                proportion=rows / total if total else 0.0,
                exhausted=length > 0 and draws >= length,
                restarts=max(0, math.ceil(draws / length) - 1) if with_replacement and length else 0,
            )
        )
    return out


def build_mixture(
    mixture: Mixture,
    open_source: OpenSource,
    train_path: str | os.PathLike,
    test_path: str | os.PathLike | None = None,
    *,
    chunk_rows: int | None = None,
    workers: int | None = None,
    durable: bool = True,
    before_publish: Callable[[MixtureStats], None] | None = None,
    schema_metadata: Mapping[bytes, bytes] | None = None,
) -> MixtureStats:
    """Write the mixture's train rows to ``train_path`` (and held-out rows to ``test_path``).

    Both files are Arrow IPC files (read back by memory map), written under hidden temporary
    names and renamed into place together at the end: on any error the previous files stay.
    ``before_publish(stats)`` runs once both are written, before the renames: it may check the
    stats (and the staged files at ``stats.staged_train``/``staged_test``) and raise to keep the
    previous files.
    ``chunk_rows`` (default about 8 MB of rows) bounds the record batches written; ``workers``
    gather threads (default: the cores available). ``durable=False`` skips the fsyncs (scratch
    outputs). ``schema_metadata`` is written into both files' schema (e.g. the data version).
    Returns the :class:`MixtureStats`.
    """
    if mixture.test_size and test_path is None:
        raise ValueError(f"{_where(mixture)} holds out test_size={mixture.test_size} rows: pass test_path")
    opened = open_sources(mixture, open_source)
    schema = output_schema(mixture, opened)
    if schema_metadata:
        schema = schema.with_metadata(dict(schema_metadata))
    layout = _layout(mixture, opened)
    p = probabilities(layout.weights)
    rows_per_chunk = chunk_rows or _chunk_rows(opened)
    try:
        plan = InterleavePlan(layout.lengths, p, mixture.seed, mixture.stopping_strategy, chunk_blocks_for(rows_per_chunk))
    except ValueError as exc:
        labels = [opened[s].source.label for s in layout.kept]
        raise MixtureBuildError(f"{_where(mixture)}: {exc} (sources in order: {labels})") from None
    train = _TrainRows(plan, layout, mixture.max_rows, rows_per_chunk)
    gather = _Gatherer(opened, schema)
    workers = default_workers() if workers is None else max(1, workers)
    test_written: WriteStats | None = None
    with _staged(train_path, test_path if layout.test is not None else None, durable) as (train_tmp, test_tmp):
        train_written = _write(train_tmp, gather, iter(train), workers, durable)
        if layout.test is not None:
            sources, rows = layout.test
            chunks = ((sources[i : i + rows_per_chunk], rows[i : i + rows_per_chunk]) for i in range(0, len(rows), rows_per_chunk))
            test_written = _write(test_tmp, gather, chunks, workers, durable)  # type: ignore[arg-type]
        stats = _stats(mixture, opened, layout, p, train, schema, train_path, test_path, train_written, test_written)
        if before_publish is not None:
            before_publish(replace(stats, staged_train=train_tmp, staged_test=test_tmp if test_written else None))
    return stats


def _stats(
    mixture: Mixture, opened: Sequence[SourceTable], layout: _Layout, p: Sequence[float], train: _TrainRows, schema: pa.Schema,
    train_path: str | os.PathLike, test_path: str | os.PathLike | None, train_written: WriteStats, test_written: WriteStats | None,
) -> MixtureStats:
    return MixtureStats(
        name=mixture.name,
        seed=mixture.seed,
        stopping_strategy=mixture.stopping_strategy,
        sources=tuple(_source_stats(opened, layout, p, train, mixture.stopping_strategy)),
        total_rows=train_written.rows,
        test_rows=test_written.rows if test_written else 0,
        max_rows=mixture.max_rows,
        capped=train.capped,
        train_path=str(train_path),
        test_path=str(test_path) if test_written else None,
        train_bytes=train_written.bytes,
        test_bytes=test_written.bytes if test_written else 0,
        columns=tuple(schema.names),
    )
