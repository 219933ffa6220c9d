"""Seeded train/test splits with the rows ``datasets.Dataset.train_test_split`` gives.

Sizes follow ``datasets`` (scikit-learn rules): both sizes None means ``test_size=0.25``; a
float test size gives ``ceil(test_size * n)`` rows, a float train size ``floor(train_size * n)``;
ints are row counts; a missing size is the remainder. Ints must lie in ``(0, n)``, floats in
``(0, 1)``, the sizes must not exceed ``n`` together and the train part must not be empty.

- Random split: ``perm = default_rng(seed).permutation(n)``; test = ``perm[:n_test]``, train =
  ``perm[n_test:n_test + n_train]`` (10 rows, 0.25, seed 42: test ``[5, 6, 0]``, train
  ``[7, 3, 2, 4, 9, 1, 8]``).
- ``shuffle=False``: train = the first ``n_train`` rows, test = the next ``n_test``.
- Stratified (``stratify_by_column``): the port of scikit-learn's ``StratifiedShuffleSplit``
  that ``datasets`` uses (``approximate_mode`` per class, ties broken by the generator), first
  split only; same generator calls, so the same rows.
- ``seed=None`` derives the seed from numpy's legacy global state as ``datasets`` does; a
  passed ``generator`` takes precedence over ``seed`` and advances.

Also here: :func:`kfold` (k contiguous folds of one seeded permutation) and
:func:`stratified_sample` (a class-proportional sample).

Differences from datasets:

- ``stratify_by_column`` accepts any integer, boolean, string or dictionary column (a
  ``ClassLabel`` is an int64 column); ``datasets`` requires a ``ClassLabel`` feature. Integer
  labels give exactly the ``datasets`` rows; null labels raise ``ValueError``.
- A 0-row table gives two 0-row tables without checking the sizes, as in ``datasets``
  (which returns the same dataset object twice).
- Sizes may be numpy integers/floats (``datasets`` accepts only Python ``int``/``float``);
  booleans are rejected.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datasets_pipeline.engine.gather import take_table
from datasets_pipeline.engine.shuffle import permutation, resolve_generator
from datasets_pipeline.errors import SchemaError

__all__ = [
    "approximate_mode",
    "kfold",
    "kfold_indices",
    "split_indices",
    "split_sizes",
    "stratified_indices",
    "stratified_sample",
    "train_test_split",
]

Size = int | float | None


def _kind(value: Size, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"Invalid value for {name}: {value!r} of type bool")
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    raise ValueError(f"Invalid value for {name}: {value} of type {type(value)}")


def split_sizes(n_samples: int, test_size: Size = None, train_size: Size = None) -> tuple[int, int]:
    """``(n_train, n_test)`` for ``n_samples`` rows, validated exactly as ``datasets`` does."""
    if test_size is None and train_size is None:
        test_size = 0.25
    test_kind, train_kind = _kind(test_size, "test_size"), _kind(train_size, "train_size")
    for name, value, kind in (("test_size", test_size, test_kind), ("train_size", train_size, train_kind)):
        if (kind == "int" and not 0 < value < n_samples) or (kind == "float" and not 0 < value < 1):
            raise ValueError(
                f"{name}={value} should be either positive and smaller "
                f"than the number of samples {n_samples} or a float in the (0, 1) range"
            )
    if test_kind == "float" and train_kind == "float" and train_size + test_size > 1:
        raise ValueError(
            f"The sum of test_size and train_size = {train_size + test_size}, should be in the (0, 1)"
            " range. Reduce test_size and/or train_size."
        )
    n_test = math.ceil(test_size * n_samples) if test_kind == "float" else test_size
    n_train = math.floor(train_size * n_samples) if train_kind == "float" else train_size
    if train_size is None:
        n_train = n_samples - n_test
    elif test_size is None:
        n_test = n_samples - n_train
    if n_train + n_test > n_samples:
        raise ValueError(
            f"The sum of train_size and test_size = {n_train + n_test}, should be smaller than the number "
            f"of samples {n_samples}. Reduce test_size and/or train_size."
        )
    n_train, n_test = int(n_train), int(n_test)
    if n_train == 0:
        raise ValueError(
            f"With n_samples={n_samples}, test_size={test_size} and train_size={train_size}, the resulting "
            "train set will be empty. Adjust any of the aforementioned parameters."
        )
    return n_train, n_test


def approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Per-class draw counts summing to ``n_draws`` (scikit-learn's hypergeometric mode approximation).

    Floors ``n_draws * counts / total`` and hands the remainder out by largest fraction, ties
    broken with ``rng.choice(..., replace=False)``.
    """
    continuous = n_draws * class_counts / class_counts.sum()
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(np.int64)


def _classes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Class counts, inverse codes and the row indices of each class (in row order)."""
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    counts = np.bincount(codes)
    groups = np.split(np.argsort(codes, kind="mergesort"), np.cumsum(counts)[:-1])
    return counts, codes, groups


def stratified_indices(
    labels: np.ndarray, n_train: int, n_test: int, rng: np.random.Generator, column: str = "label"
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices of the first ``StratifiedShuffleSplit`` split, as ``datasets`` draws it."""
    counts, _, groups = _classes(labels)
    n_classes = len(counts)
    if counts.min() < 2:
        raise ValueError(
            f"The least populated class in {column} column has only 1 member, which is too few. "
            "The minimum number of groups for any class cannot be less than 2."
        )
    if n_train < n_classes:
        raise ValueError(f"The train_size = {n_train} should be greater or equal to the number of classes = {n_classes}")
    if n_test < n_classes:
        raise ValueError(f"The test_size = {n_test} should be greater or equal to the number of classes = {n_classes}")
    n_i = approximate_mode(counts, n_train, rng)
    t_i = approximate_mode(counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(n_classes):
        rows = groups[i].take(rng.permutation(counts[i]), mode="clip")
        train.append(rows[: n_i[i]])
        test.append(rows[n_i[i] : n_i[i] + t_i[i]])
    train_idx = rng.permutation(np.concatenate(train).astype(np.int64))
    test_idx = rng.permutation(np.concatenate(test).astype(np.int64))
    return train_idx, test_idx


def split_indices(
    n_rows: int,
    test_size: Size = None,
    train_size: Size = None,
    seed: int | None = None,
    labels: np.ndarray | None = None,
    shuffle: bool = True,
    generator: np.random.Generator | None = None,
    column: str = "label",
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices (int64) of ``train_test_split`` over ``n_rows`` rows.

    ``labels`` (one per row) makes the split stratified; ``column`` only names it in errors.
    """
    if n_rows == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    n_train, n_test = split_sizes(n_rows, test_size, train_size)
    if generator is None and shuffle:
        generator = resolve_generator(seed)
    if not shuffle:
        if labels is not None:
            raise ValueError("Stratified train/test split is not implemented for `shuffle=False`")
        return np.arange(n_train, dtype=np.int64), np.arange(n_train, n_train + n_test, dtype=np.int64)
    if labels is not None:
        if len(labels) != n_rows:
            raise ValueError(f"got {len(labels)} labels for {n_rows} rows")
        return stratified_indices(np.asarray(labels), n_train, n_test, generator, column)
    perm = permutation(n_rows, generator=generator)
    return perm[n_test : n_test + n_train], perm[:n_test]


def class_labels(table: pa.Table, column: str) -> np.ndarray:
    """The values of a class-label column as a numpy array (integer, boolean, string or dictionary)."""
    if column not in table.column_names:
        raise SchemaError(f"Key {column} not found in {table.column_names}", column=column)
    values = table.column(column)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    t = values.type
    if not (pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise ValueError(
            f"Stratifying by column is only supported for class-label columns (integer, boolean or string), "
            f"and column {column} is {t}."
        )
    if values.null_count:
        first = pc.index(pc.is_null(values), True).as_py()
        raise ValueError(f"Cannot stratify by column {column}: it has {values.null_count} null labels (first at row {first})")
    return values.to_numpy()


def train_test_split(
    table: pa.Table,
    test_size: Size = None,
    train_size: Size = None,
    seed: int | None = None,
    stratify_by_column: str | None = None,
    shuffle: bool = True,
    generator: np.random.Generator | None = None,
) -> tuple[pa.Table, pa.Table]:
    """``(train, test)`` with the rows ``Dataset.train_test_split`` puts in each, in its order."""
    if table.num_rows == 0:
        return table, table
    if stratify_by_column is not None and not shuffle:
        split_sizes(table.num_rows, test_size, train_size)
        raise ValueError("Stratified train/test split is not implemented for `shuffle=False`")
    if stratify_by_column is None:
        train_idx, test_idx = split_indices(table.num_rows, test_size, train_size, seed, None, shuffle, generator)
    else:
        n_train, n_test = split_sizes(table.num_rows, test_size, train_size)
        rng = generator if generator is not None else resolve_generator(seed)
        labels = class_labels(table, stratify_by_column)
        train_idx, test_idx = stratified_indices(labels, n_train, n_test, rng, stratify_by_column)
    return take_table(table, train_idx), take_table(table, test_idx)


def kfold_indices(
    n_rows: int, k: int, seed: int | None = None, shuffle: bool = True, generator: np.random.Generator | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, test) index pairs: test folds are consecutive stretches of one row order.

    The order is ``permutation(n_rows, seed)`` (or ``0..n-1`` with ``shuffle=False``); the first
    ``n % k`` folds get one extra row; each train part is the rest of the order, order kept.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
        raise ValueError(f"k must be an integer of at least 2, got {k!r}")
    if k > n_rows:
        raise ValueError(f"cannot make k={k} folds of {n_rows} rows; k must not exceed the number of rows")
    order = permutation(n_rows, seed, generator) if shuffle else np.arange(n_rows, dtype=np.int64)
    sizes = np.full(k, n_rows // k, dtype=np.int64)
    sizes[: n_rows % k] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [
        (np.concatenate([order[:start], order[stop:]]), order[start:stop])
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist())
    ]


def kfold(table: pa.Table, k: int, seed: int | None = None, shuffle: bool = True) -> list[tuple[pa.Table, pa.Table]]:
    """``k`` (train, test) tables; every row is in exactly one test fold (see :func:`kfold_indices`)."""
    return [(take_table(table, tr), take_table(table, te)) for tr, te in kfold_indices(table.num_rows, k, seed, shuffle)]


def stratified_sample(
    table: pa.Table,
    column: str,
    n: int | None = None,
    fraction: float | None = None,
    seed: int | None = None,
) -> pa.Table:
    """A sample of ``n`` rows (or ``ceil(fraction * rows)``) with the class proportions of ``column``.

    Per-class counts come from :func:`approximate_mode`; the rows of each class are picked by a
    seeded permutation. Rows keep their original order.
    """
    if (n is None) == (fraction is None):
        raise ValueError("give exactly one of n and fraction")
    total = table.num_rows
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        n = math.ceil(fraction * total)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n <= total:
        raise ValueError(f"n must be an integer between 0 and the number of rows {total}, got {n!r}")
    if n == 0 or total == 0:
        return table.slice(0, 0)
    rng = resolve_generator(seed)
    counts, _, groups = _classes(class_labels(table, column))
    n_i = approximate_mode(counts, int(n), rng)
    picked = [groups[i][rng.permutation(counts[i])[: n_i[i]]] for i in range(len(counts))]
    return take_table(table, np.sort(np.concatenate(picked)))
