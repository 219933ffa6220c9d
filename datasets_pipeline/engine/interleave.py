"""Interleaving of tables with the rows ``datasets.interleave_datasets`` gives (map-style).

:func:`interleave_indices` computes the output as global row indices into the concatenation
of the sources (source ``s`` starts at ``offsets[s] = sum(lengths[:s])``); :func:`interleave`
concatenates the tables (columns aligned as in :mod:`.concat`) and gathers those rows.

Without probabilities the sources are taken round-robin (the seed is ignored):

- ``first_exhausted``: ``min(lengths)`` full rounds;
- ``all_exhausted``: ``max(lengths)`` full rounds, source ``s`` giving its item ``k % len_s``;
- ``all_exhausted_without_replacement``: rounds that skip exhausted sources (every row once).

With probabilities, the source of each output row is drawn from
``numpy.random.default_rng(seed)`` in blocks of 1000 (:mod:`.sampling`). The ``k``-th draw of
source ``s`` yields its item ``k % len_s``. ``first_exhausted`` stops right after the first
draw that brings a source to ``len_s`` draws, ``all_exhausted`` right after the last source
gets there; ``all_exhausted_without_replacement`` skips draws of exhausted sources and stops
when every row was taken once.

Everything is numpy index arithmetic: one ``bincount`` per block of 1000 draws to find the
stopping block, then one stable radix argsort of the draws gives every draw its rank within
its source.

Differences from datasets:

- Round-robin ``all_exhausted`` with an empty source: the empty source contributes nothing
  and the others cycle for ``max(lengths)`` rounds (``datasets`` warns about a division by zero,
  then picks rows of the wrong source or raises ``IndexError``).
- ``all_exhausted_without_replacement`` with probabilities: a source with probability 0 and
  rows raises ``ValueError`` (it can never be exhausted; ``datasets`` loops forever, even when
  that source is empty), and an empty source counts as exhausted from the start (``datasets``
  emits a row of the next source for the first draw of an empty source, or raises
  ``IndexError`` when it is the last one). When every source is empty the result is empty.
- Argument errors (unknown strategy, bad probabilities, no sources) are raised before any
  table is touched, with messages naming the offending value.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import pyarrow as pa

from datasets_pipeline.engine.concat import concatenate
from datasets_pipeline.engine.gather import take_table
from datasets_pipeline.engine.sampling import check_probabilities, source_id_blocks

StoppingStrategy = Literal["first_exhausted", "all_exhausted", "all_exhausted_without_replacement"]
STOPPING_STRATEGIES: tuple[str, ...] = ("first_exhausted", "all_exhausted", "all_exhausted_without_replacement")

__all__ = ["STOPPING_STRATEGIES", "interleave", "interleave_indices"]


def _check_lengths(lengths: Sequence[int]) -> np.ndarray:
    arr = np.asarray(list(lengths), dtype=np.int64)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError("interleave needs at least one source")
    negative = np.flatnonzero(arr < 0)
    if len(negative):
        raise ValueError(f"source {int(negative[0])} has a negative length {int(arr[negative[0]])}")
    return arr


def _offsets(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def _round_robin(lengths: np.ndarray, offsets: np.ndarray, strategy: str) -> np.ndarray:
    if strategy == "first_exhausted":
        rounds = np.arange(lengths.min(), dtype=np.int64)
        return (offsets[None, :] + rounds[:, None]).ravel()
    present = lengths > 0
    if not present.any():
        return np.empty(0, dtype=np.int64)
    lens, offs = lengths[present], offsets[present]
    if strategy == "all_exhausted":
        rounds = np.arange(lens.max(), dtype=np.int64)
        return (rounds[:, None] % lens[None, :] + offs[None, :]).ravel()
    # Without replacement: between two consecutive distinct lengths the same sources are
    # active, so each stretch is one rectangular block of rounds.
    bounds = np.concatenate([[0], np.unique(lens)])
    pieces = []
    for start, end in zip(bounds[:-1], bounds[1:]):
        active = lens > start
        rounds = np.arange(start, end, dtype=np.int64)
        pieces.append((offs[active][None, :] + rounds[:, None]).ravel())
    return np.concatenate(pieces)


def _draws_until(
    lengths: np.ndarray, p: np.ndarray, seed: int | None, targets: np.ndarray, need_all: bool
) -> np.ndarray:
    """Source ids drawn block by block until any (or all) ``targets`` reached their length."""
    n = len(lengths)
    counts = np.zeros(n, dtype=np.int64)
    blocks = []
    for block in source_id_blocks(n, p, seed):
        blocks.append(block)
        counts += np.bincount(block, minlength=n)
        reached = counts[targets] >= lengths[targets]
        if reached.all() if need_all else reached.any():
            return np.concatenate(blocks)
    raise AssertionError("unreachable")  # pragma: no cover


def _ranks(draws: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each draw, how many earlier draws chose the same source; plus the argsort and group starts."""
    small = draws.astype(np.int16 if n <= np.iinfo(np.int16).max else np.int32)
    order = np.argsort(small, kind="stable")  # radix sort on small integers: O(N)
    counts = np.bincount(small, minlength=n)
    starts = np.cumsum(counts) - counts
    ranks = np.empty(len(draws), dtype=np.int64)
    ranks[order] = np.arange(len(draws), dtype=np.int64) - starts[small[order]]
    return ranks, order, starts


def _sampled(lengths: np.ndarray, offsets: np.ndarray, p: np.ndarray, seed: int | None, strategy: str) -> np.ndarray:
    n = len(lengths)
    drawable = p > 0
    if strategy == "all_exhausted_without_replacement":
        unreachable = np.flatnonzero(~drawable & (lengths > 0))
        if len(unreachable):
            raise ValueError(
                'interleave with stopping_strategy="all_exhausted_without_replacement" cannot exhaust a '
                f"source that is never sampled; sources {unreachable.tolist()} have probability 0 and rows"
            )
        targets = lengths > 0
        if not targets.any():
            return np.empty(0, dtype=np.int64)
    else:
        empty = np.flatnonzero(drawable & (lengths == 0))
        if len(empty):
            raise ValueError(
                "interleave with probabilities requires every source that can be sampled (probability > 0) "
                f"to be non-empty; sources {empty.tolist()} are empty"
            )
        if strategy == "all_exhausted" and not drawable.all():
            raise ValueError(
                'interleave with stopping_strategy="all_exhausted" cannot exhaust a source that is never '
                f"sampled; sources {np.flatnonzero(~drawable).tolist()} have probability 0"
            )
        targets = drawable
    need_all = strategy != "first_exhausted"
    draws = _draws_until(lengths, p, seed, targets, need_all)
    ranks, order, starts = _ranks(draws, n)
    # Position of the draw that exhausts each target source (its len_s-th draw).
    counts = np.bincount(draws, minlength=n)
    done = np.flatnonzero(targets & (counts >= lengths))
    exhausted_at = order[starts[done] + lengths[done] - 1]
    stop = int(exhausted_at.max() if need_all else exhausted_at.min()) + 1
    ids, ranks = draws[:stop], ranks[:stop]
    if strategy == "all_exhausted_without_replacement":
        keep = ranks < lengths[ids]
        return ranks[keep] + offsets[ids[keep]]
    return ranks % lengths[ids] + offsets[ids]


def interleave_indices(
    lengths: Sequence[int],
    probabilities: Sequence[float] | None = None,
    seed: int | None = None,
    stopping_strategy: StoppingStrategy = "first_exhausted",
) -> np.ndarray:
    """Global int64 row indices (into the concatenated sources) of the interleaved output.

    ``lengths`` are the sources' row counts; the result equals the indices
    ``interleave_datasets(..., probabilities, seed, stopping_strategy)`` selects, map-style.
    """
    if stopping_strategy not in STOPPING_STRATEGIES:
        raise ValueError(f"unknown stopping_strategy {stopping_strategy!r}; expected one of {list(STOPPING_STRATEGIES)}")
    lens = _check_lengths(lengths)
    offsets = _offsets(lens)
    if probabilities is None:
        return _round_robin(lens, offsets, stopping_strategy)
    p = check_probabilities(probabilities, len(lens))
    return _sampled(lens, offsets, p, seed, stopping_strategy)


def interleave(
    tables: Sequence[pa.Table],
    probabilities: Sequence[float] | None = None,
    seed: int | None = None,
    stopping_strategy: StoppingStrategy = "first_exhausted",
) -> pa.Table:
    """Interleave the rows of ``tables`` exactly as ``datasets.interleave_datasets`` (map-style).

    Columns are aligned as by :func:`.concat.concatenate`: all columns in first-seen order,
    missing ones null, null types promoted, other type conflicts a SchemaError.
    """
    tables = list(tables)
    if not tables:
        raise ValueError("interleave needs at least one table")
    for i, table in enumerate(tables):
        if not isinstance(table, (pa.Table, pa.RecordBatch)):
            raise TypeError(f"item {i} is a {type(table).__name__}, expected a pyarrow Table")
    indices = interleave_indices([t.num_rows for t in tables], probabilities, seed, stopping_strategy)
    combined = concatenate(tables)
    if len(indices) == 0:
        return combined.slice(0, 0)
    return take_table(combined, indices)
