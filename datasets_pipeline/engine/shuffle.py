"""Seeded row shuffling with the same permutation as ``datasets.Dataset.shuffle``.

``Dataset.shuffle(seed)`` selects rows ``numpy.random.default_rng(seed).permutation(n)``;
:func:`permutation` returns that array and :func:`shuffle` gathers it with ``Table.take``.
Seed 42 on 10 rows gives ``[5, 6, 0, 7, 3, 2, 4, 9, 1, 8]``.

``seed=None`` derives a seed from numpy's legacy global state exactly as ``datasets`` does
(``np.random.seed(k)`` beforehand makes it reproducible, and the global state advances by one
``np.random.random()`` step). A passed ``generator`` is used and advanced instead.

Differences from datasets:

- The result is a new table (rows gathered), not an indices mapping over the old one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from datasets_pipeline.engine.gather import take_table


def legacy_global_seed() -> int:
    """The seed ``datasets`` derives when ``seed=None``; advances numpy's global state one step."""
    _, keys, pos, *_ = np.random.get_state()
    seed = int(keys[pos] if pos < 624 else keys[0])
    np.random.random()
    return seed


def resolve_generator(seed: int | None = None, generator: np.random.Generator | None = None) -> np.random.Generator:
    """The generator ``datasets`` would use for ``seed`` / ``generator`` (at most one of them)."""
    if seed is not None and generator is not None:
        raise ValueError("Both `seed` and `generator` were provided. Please specify just one of them.")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise ValueError("The provided generator must be an instance of numpy.random.Generator")
        return generator
    if seed is None:
        seed = legacy_global_seed()
    return np.random.default_rng(seed)


def permutation(n: int, seed: int | None = None, generator: np.random.Generator | None = None) -> np.ndarray:
    """The int64 row order ``Dataset.shuffle(seed=..., generator=...)`` gives for ``n`` rows.

    For ``n == 0`` nothing is drawn (neither the global state nor ``generator`` advances).
    """
    if n < 0:
        raise ValueError(f"the number of rows must not be negative, got {n}")
    if seed is not None and generator is not None:
        raise ValueError("Both `seed` and `generator` were provided. Please specify just one of them.")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    return resolve_generator(seed, generator).permutation(n).astype(np.int64, copy=False)


def shuffle(table: pa.Table, seed: int | None = None, generator: np.random.Generator | None = None) -> pa.Table:
    """The rows of ``table`` in the order ``Dataset.shuffle(seed=..., generator=...)`` gives."""
    if table.num_rows == 0:
        return table
    return take_table(table, permutation(table.num_rows, seed=seed, generator=generator))
