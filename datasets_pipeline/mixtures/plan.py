"""Which source rows a mixture holds, in which order: index arithmetic only, no row data.

:func:`probabilities` turns weights (or source sizes) into the probabilities the cookbook passes
to ``datasets.interleave_datasets``. :func:`holdout` is the cookbook's held-out split
(``_split_interleaved_sources`` of tinker-cookbook 0.6.1). :class:`InterleavePlan` yields the
map-style interleave chunk by chunk: the same draws, rows and stopping point as
:func:`datasets_pipeline.engine.interleave.interleave_indices` (and so as
``interleave_datasets``), with memory bounded by one chunk whatever the output size.

Why a streaming form: :func:`~datasets_pipeline.engine.interleave.interleave_indices` draws every
block until the stopping point, then ranks all draws at once (several int64 arrays of the output
size). The plan keeps a running per-source draw count instead: the rank of a draw is the count
of its source before the chunk plus its rank within the chunk, so each chunk is decided alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from datasets_pipeline.engine.interleave import STOPPING_STRATEGIES, _ranks
from datasets_pipeline.engine.sampling import BLOCK_SIZE, check_probabilities, source_id_chunks
from datasets_pipeline.engine.shuffle import permutation

__all__ = ["Holdout", "InterleavePlan", "holdout", "probabilities"]


def probabilities(weights: Sequence[float]) -> list[float]:
    """``w / sum(weights)`` for each weight, as the cookbook computes them (Python float sum).

    The same arithmetic matters: ``datasets`` draws with these exact floats.
    """
    total = sum(float(w) for w in weights)
    if not total > 0:
        raise ValueError("the weights sum to 0: at least one source needs a positive weight")
    return [float(w) / total for w in weights]


@dataclass(frozen=True)
class Holdout:
    """The cookbook's held-out split of the sources, before interleaving.

    ``kept`` are the indices of the sources that stay in the interleave (weight > 0);
    ``train_rows[i]`` the rows of source ``kept[i]`` left for training (its shuffled order after
    the held-out ones); ``train_weights`` their weights (train sizes when unweighted);
    ``test_sources``/``test_rows`` the held-out rows as (source index, row) in test order.
    """

    kept: tuple[int, ...]
    train_rows: tuple[np.ndarray, ...]
    train_weights: tuple[float, ...]
    held_out: tuple[int, ...]  # per source (all sources): rows held out
    test_sources: np.ndarray
    test_rows: np.ndarray


def holdout(lengths: Sequence[int], weights: Sequence[float], test_size: int, seed: int, uniform_rows: bool) -> Holdout:
    """Hold out ``test_size`` unique rows across the sources, as ``InterleavedChatDatasetBuilder`` does.

    ``rng = default_rng(seed)``; every source with weight > 0 keeps at least one row (capacity
    ``len - 1``); ``test_size`` times a source with capacity left is picked by ``rng.choice`` with
    probabilities proportional to its remaining rows (``uniform_rows``) or its weight. Then each
    source with weight > 0 is shuffled with ``seed=int(rng.integers(0, 2**32))``: its first
    ``count`` rows are held out, the rest is its training part. The held-out rows, concatenated
    in source order, are shuffled with ``seed``. Raises ValueError as the cookbook does.

    The picks are one ``rng.choice`` call per held-out row (each depends on the previous ones),
    so the cost grows with ``test_size``, not with the sources.
    """
    lens = np.asarray(list(lengths), dtype=np.int64)
    w = [float(x) for x in weights]
    if any(not np.isfinite(x) or x < 0 for x in w):
        raise ValueError("Source weights must be finite and non-negative for a holdout split")
    if not np.isfinite(sum(w)) or sum(w) <= 0:
        raise ValueError("Total weight across all sources must be finite and positive")
    for i, (n, x) in enumerate(zip(lens, w)):
        if x > 0 and n == 0:
            raise ValueError(f"Cannot split empty positively weighted source at index {i}")
    capacities = np.array([n - 1 if x > 0 else 0 for n, x in zip(lens, w)], dtype=np.int64)
    if test_size > int(capacities.sum()):
        raise ValueError(
            f"test_size ({test_size}) exceeds the maximum unique holdout size ({int(capacities.sum())}) "
            "while retaining one training row per positively weighted source"
        )
    rng = np.random.default_rng(seed)
    remaining = lens.copy()
    counts = [0] * len(lens)
    for _ in range(test_size):
        p = np.where(capacities > 0, remaining if uniform_rows else w, 0.0)
        p /= p.sum()
        s = int(rng.choice(len(lens), p=p))
        counts[s] += 1
        capacities[s] -= 1
        remaining[s] -= 1
    kept, train_rows, train_weights = [], [], []
    test_sources, test_rows = [], []
    for s, (n, x, count) in enumerate(zip(lens, w, counts)):
        if x == 0:
            continue
        order = permutation(int(n), seed=int(rng.integers(0, 2**32)))
        kept.append(s)
        train_rows.append(order[count:])
        train_weights.append(float(n - count) if uniform_rows else x)
        if count:
            test_sources.append(np.full(count, s, dtype=np.int64))
            test_rows.append(order[:count])
    if test_sources:
        sources, rows = np.concatenate(test_sources), np.concatenate(test_rows)
        shuffled = permutation(len(sources), seed=seed)
        sources, rows = sources[shuffled], rows[shuffled]
    else:
        sources = rows = np.empty(0, dtype=np.int64)
    return Holdout(tuple(kept), tuple(train_rows), tuple(train_weights), tuple(counts), sources, rows)


class InterleavePlan:
    """The draws of ``interleave_datasets(probabilities, seed, stopping_strategy)``, chunk by chunk.

    Iterating yields ``(draws, ranks)`` per chunk of ``chunk_blocks`` blocks of 1000 draws (the
    last chunk cut at the stopping point): ``draws`` the source of each draw, ``ranks`` how many
    earlier draws chose that source. :meth:`rows` turns a chunk into output rows. The
    concatenated output equals ``interleave_indices`` (global index = offset of the source + row).
    ``finished`` turns true when the stopping strategy ends the interleave. Argument errors
    raise at construction with the engine's rules (an empty source with probability > 0; a
    probability 0 that ``all_exhausted``/without replacement could never exhaust).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        probabilities: Sequence[float],
        seed: int,
        stopping_strategy: str,
        chunk_blocks: int = 64,
    ) -> None:
        if stopping_strategy not in STOPPING_STRATEGIES:
            raise ValueError(f"unknown stopping_strategy {stopping_strategy!r}; expected one of {list(STOPPING_STRATEGIES)}")
        if chunk_blocks < 1:
            raise ValueError(f"chunk_blocks must be at least 1, got {chunk_blocks}")
        self.lengths = np.asarray(list(lengths), dtype=np.int64)
        if len(self.lengths) == 0:
            raise ValueError("interleave needs at least one source")
        if (self.lengths < 0).any():
            raise ValueError("source lengths must not be negative")
        self.p = check_probabilities(probabilities, len(self.lengths))
        self.seed, self.strategy, self.chunk_blocks = seed, stopping_strategy, chunk_blocks
        drawable = self.p > 0
        if stopping_strategy == "all_exhausted_without_replacement":
            never = np.flatnonzero(~drawable & (self.lengths > 0))
            if len(never):
                raise ValueError(
                    'stopping_strategy "all_exhausted_without_replacement" cannot exhaust a source that is never '
                    f"drawn; sources {never.tolist()} have probability 0 and rows"
                )
            self.targets = self.lengths > 0
        else:
            empty = np.flatnonzero(drawable & (self.lengths == 0))
            if len(empty):
                raise ValueError(f"sources {empty.tolist()} have no rows but a probability > 0; they cannot be drawn from")
            if stopping_strategy == "all_exhausted" and not drawable.all():
                raise ValueError(
                    'stopping_strategy "all_exhausted" cannot exhaust a source that is never drawn; '
                    f"sources {np.flatnonzero(~drawable).tolist()} have probability 0"
                )
            self.targets = drawable
        self.finished = False

    @property
    def n_sources(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = self.n_sources
        counts = np.zeros(n, dtype=np.int64)
        pending = self.targets.copy()
        self.finished = False
        if not pending.any():
            self.finished = True
            return
        first = self.strategy == "first_exhausted"
        chunks = source_id_chunks(n, self.p, self.seed, self.chunk_blocks)
        while True:
            draws = next(chunks)
            within, _, _ = _ranks(draws, n)
            ranks = counts[draws] + within
            # The draw that exhausts a source: its len-th draw (happens once per source).
            hits = np.flatnonzero(pending[draws] & (ranks == self.lengths[draws] - 1))
            stop = None
            if len(hits):
                if first:
                    stop = int(hits[0]) + 1
                else:
                    pending[draws[hits]] = False
                    if not pending.any():
                        stop = int(hits[-1]) + 1
            if stop is not None:
                draws, ranks = draws[:stop], ranks[:stop]
            counts += np.bincount(draws, minlength=n)
            if stop is not None:
                self.finished = True
            yield draws, ranks
            if stop is not None:
                return

    def rows(self, draws: np.ndarray, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The output rows of a chunk as (source index, row within the source).

        With replacement the ``k``-th draw of source ``s`` is its row ``k % len_s``; without,
        draws past a source's length yield nothing.
        """
        lengths = self.lengths[draws]
        if self.strategy == "all_exhausted_without_replacement":
            keep = ranks < lengths
            return draws[keep], ranks[keep]
        return draws, ranks % lengths


def chunk_blocks_for(chunk_rows: int) -> int:
    """Blocks of 1000 draws per plan chunk for about ``chunk_rows`` output rows."""
    return max(1, chunk_rows // BLOCK_SIZE)
