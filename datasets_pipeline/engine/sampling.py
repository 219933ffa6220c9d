"""Seeded source sampling for interleaving, drawn exactly as the ``datasets`` library draws it.

``interleave_datasets`` picks the source of each output row from
``rng = numpy.random.default_rng(seed)`` in blocks of 1000:
``rng.choice(n_sources, size=1000, p=probabilities)``. :func:`source_id_blocks` replays
that infinite sequence, so any consumer (map-style or streaming) sees the same sources
for the same seed.

Probabilities are not normalized: they must sum to 1 within numpy's tolerance
(``sqrt(float64 eps)`` ≈ 1.5e-8), as in ``datasets``. :func:`check_probabilities` reports a
bad list with a readable error before any draw.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np

BLOCK_SIZE = 1000
"""Number of source ids ``datasets`` draws per ``rng.choice`` call."""

SUM_TOLERANCE = math.sqrt(np.finfo(np.float64).eps)
"""How far from 1 the probabilities may sum (numpy's ``Generator.choice`` tolerance)."""


def check_probabilities(probabilities: Sequence[float], n_sources: int) -> np.ndarray:
    """Validate interleave probabilities and return them as a float64 array.

    Raises ValueError naming the problem: wrong length, a NaN or infinite value, a negative
    value, or a sum that is not 1 (within :data:`SUM_TOLERANCE`).
    """
    try:
        p = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"probabilities must be a sequence of numbers, got {probabilities!r}") from exc
    if p.ndim != 1:
        raise ValueError(f"probabilities must be a flat sequence of numbers, got shape {p.shape}")
    if len(p) != n_sources:
        raise ValueError(f"got {len(p)} probabilities for {n_sources} sources; give exactly one per source")
    if n_sources == 0:
        raise ValueError("cannot sample from zero sources")
    bad = np.flatnonzero(~np.isfinite(p))
    if len(bad):
        raise ValueError(f"probabilities must be finite numbers; source {int(bad[0])} has {p[bad[0]]!r}")
    negative = np.flatnonzero(p < 0)
    if len(negative):
        raise ValueError(f"probabilities must not be negative; source {int(negative[0])} has {p[negative[0]]!r}")
    total = math.fsum(p.tolist())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(
            f"probabilities must sum to 1 (they sum to {total!r}); they are used as given, not normalized"
        )
    return p


def source_id_blocks(n_sources: int, probabilities: Sequence[float], seed: int | None) -> Iterator[np.ndarray]:
    """The infinite sequence of blocks of :data:`BLOCK_SIZE` source ids, as ``datasets`` draws them.

    Block ``i`` is the ``i``-th ``default_rng(seed).choice(n_sources, size=1000, p=probabilities)``
    (int64). ``seed=None`` draws from OS entropy, as ``datasets`` does (not reproducible).
    """
    p = check_probabilities(probabilities, n_sources)
    rng = np.random.default_rng(seed)
    while True:
        yield rng.choice(n_sources, size=BLOCK_SIZE, p=p)


def source_id_chunks(
    n_sources: int, probabilities: Sequence[float], seed: int | None, blocks: int
) -> Iterator[np.ndarray]:
    """:func:`source_id_blocks` ``blocks`` blocks at a time, concatenated, in one vectorized draw.

    ``Generator.choice(n, size, p=p)`` is ``cdf.searchsorted(random(size), side="right")`` with
    ``cdf = p.cumsum() / p.cumsum()[-1]``, and ``k`` calls of ``random(1000)`` read the same doubles
    as one ``random(1000 * k)``: the ids are the same, without a Python call per block.
    """
    p = check_probabilities(probabilities, n_sources)
    rng = np.random.default_rng(seed)
    cdf = p.cumsum()
    cdf /= cdf[-1]
    size = max(1, blocks) * BLOCK_SIZE
    while True:
        yield cdf.searchsorted(rng.random(size), side="right").astype(np.int64, copy=False)


def source_ids(n_sources: int, probabilities: Sequence[float], seed: int | None, n_blocks: int) -> np.ndarray:
    """The first ``n_blocks`` blocks of :func:`source_id_blocks`, concatenated."""
    blocks = source_id_blocks(n_sources, probabilities, seed)
    if n_blocks <= 0:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([next(blocks) for _ in range(n_blocks)])
