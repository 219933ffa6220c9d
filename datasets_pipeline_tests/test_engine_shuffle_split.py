"""Shuffle and train/test splits: same rows as ``Dataset.shuffle`` / ``Dataset.train_test_split``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from datasets import ClassLabel, Dataset, Features, Value
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets_pipeline.engine.shuffle import permutation, shuffle
from datasets_pipeline.engine.split import (
    approximate_mode,
    kfold,
    kfold_indices,
    split_indices,
    split_sizes,
    stratified_sample,
    train_test_split,
)
from datasets_pipeline.errors import SchemaError

PROPERTY = settings(max_examples=50, deadline=None, database=None)


def numbered(n: int) -> pa.Table:
    return pa.table({"i": pa.array(range(n), pa.int64())})


def ids(table: pa.Table) -> list[int]:
    return table.column("i").to_pylist()


def hf(n: int, labels: list[int] | None = None, n_classes: int = 2) -> Dataset:
    if labels is None:
        return Dataset.from_dict({"i": list(range(n))}, features=Features({"i": Value("int64")}))
    names = [f"c{k}" for k in range(n_classes)]
    return Dataset.from_dict(
        {"i": list(range(n)), "label": labels},
        features=Features({"i": Value("int64"), "label": ClassLabel(names=names)}),
    )


# --- shuffle --------------------------------------------------------------------------------


def test_shuffle_documented_seed_42():
    assert ids(shuffle(numbered(10), 42)) == [5, 6, 0, 7, 3, 2, 4, 9, 1, 8]
    assert permutation(10, seed=42).tolist() == [5, 6, 0, 7, 3, 2, 4, 9, 1, 8]


def test_shuffle_generator_advances_and_composes():
    gen = np.random.default_rng(42)
    first = shuffle(numbered(10), generator=gen)
    second = shuffle(first, generator=gen)
    assert ids(first) == [5, 6, 0, 7, 3, 2, 4, 9, 1, 8]
    assert permutation(10, generator=np.random.default_rng(42)).tolist() == ids(first)
    again = np.random.default_rng(42)
    again.permutation(10)
    assert ids(second) == [ids(first)[j] for j in again.permutation(10)]
    assert np.random.default_rng(42).permutation(20)[:0].size == 0


def test_shuffle_seed_and_generator_conflict():
    with pytest.raises(ValueError, match="Both `seed` and `generator` were provided"):
        shuffle(numbered(3), seed=1, generator=np.random.default_rng(1))
    with pytest.raises(ValueError, match="must be an instance of numpy.random.Generator"):
        shuffle(numbered(3), generator=np.random.RandomState(1))


def test_shuffle_empty_table_draws_nothing():
    gen = np.random.default_rng(5)
    assert shuffle(numbered(0), generator=gen).num_rows == 0
    assert gen.random() == np.random.default_rng(5).random()


def test_shuffle_seed_none_follows_legacy_global_state_like_datasets():
    np.random.seed(1234)
    expected = hf(25).shuffle()["i"][:]
    after_datasets = np.random.random()
    np.random.seed(1234)
    assert ids(shuffle(numbered(25))) == list(expected)
    assert np.random.random() == after_datasets


@PROPERTY
@given(st.integers(0, 60), st.integers(0, 2**63 - 1))
def test_shuffle_matches_datasets(n, seed):
    expected = hf(n).shuffle(seed=seed).to_dict()["i"]
    assert ids(shuffle(numbered(n), seed)) == expected


# --- train_test_split -----------------------------------------------------------------------


def test_train_test_split_documented():
    train, test = train_test_split(numbered(10), test_size=0.25, seed=42)
    assert (ids(train), ids(test)) == ([7, 3, 2, 4, 9, 1, 8], [5, 6, 0])
    train, test = train_test_split(numbered(10), test_size=3, seed=42)
    assert (ids(train), ids(test)) == ([7, 3, 2, 4, 9, 1, 8], [5, 6, 0])
    # datasets 5.2.0 gives these rows for train_size=.5, test_size=.3 (checked in the property below).
    train, test = train_test_split(numbered(10), test_size=0.3, train_size=0.5, seed=42)
    assert (ids(train), ids(test)) == ([7, 3, 2, 4, 9], [5, 6, 0])
    train, test = train_test_split(numbered(10), test_size=0.2, shuffle=False)
    assert (ids(train), ids(test)) == (list(range(8)), [8, 9])


def test_train_test_split_defaults_to_quarter_test():
    train, test = train_test_split(numbered(10), seed=42)
    assert (train.num_rows, test.num_rows) == (7, 3)
    assert split_sizes(10) == (7, 3)
    assert split_sizes(10, train_size=0.55) == (5, 5)
    assert split_sizes(10, test_size=0.01) == (9, 1)


def test_stratified_documented():
    table = pa.table({"i": list(range(12)), "label": [0] * 8 + [1] * 4})
    train, test = train_test_split(table, test_size=0.25, seed=42, stratify_by_column="label")
    assert ids(train) == [11, 9, 6, 2, 1, 7, 3, 8, 4]
    assert ids(test) == [5, 10, 0]


@pytest.mark.parametrize(
    ("test_size", "train_size", "message"),
    [
        (0.0, None, "test_size=0.0 should be either positive and smaller than the number of samples 10"),
        (10, None, "test_size=10 should be either positive"),
        (None, 1.0, "train_size=1.0 should be either positive"),
        (0.6, 0.6, "The sum of test_size and train_size = 1.2"),
        (6, 5, "The sum of train_size and test_size = 11, should be smaller than the number of samples 10"),
        ("a", None, "Invalid value for test_size: a"),
        (True, None, "Invalid value for test_size: True of type bool"),
    ],
)
def test_split_size_errors(test_size, train_size, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        train_test_split(numbered(10), test_size=test_size, train_size=train_size, seed=0)


def test_empty_table_gives_two_empty_tables():
    train, test = train_test_split(numbered(0), test_size=0.5, seed=1)
    assert train.num_rows == test.num_rows == 0 and train.schema == numbered(0).schema
    a, b = split_indices(0, 0.5)
    assert a.tolist() == b.tolist() == []


def test_stratify_errors():
    table = pa.table({"i": list(range(6)), "label": [0, 0, 0, 1, 1, 2], "x": [0.5] * 6, "n": [0, 1, None, 0, 1, 0]})
    with pytest.raises(ValueError, match="least populated class in label column has only 1 member"):
        train_test_split(table, 0.5, seed=0, stratify_by_column="label")
    with pytest.raises(ValueError, match="only supported for class-label columns .* column x is double"):
        train_test_split(table, 0.5, seed=0, stratify_by_column="x")
    with pytest.raises(ValueError, match="it has 1 null labels \\(first at row 2\\)"):
        train_test_split(table, 0.5, seed=0, stratify_by_column="n")
    with pytest.raises(SchemaError, match="Key nope not found"):
        train_test_split(table, 0.5, seed=0, stratify_by_column="nope")
    with pytest.raises(ValueError, match="not implemented for `shuffle=False`"):
        train_test_split(table, 0.5, shuffle=False, stratify_by_column="label")
    two = pa.table({"label": [0, 0, 1, 1, 2, 2]})
    with pytest.raises(ValueError, match="The test_size = 1 should be greater or equal to the number of classes = 3"):
        train_test_split(two, test_size=1, seed=0, stratify_by_column="label")


def test_stratify_by_string_column_keeps_proportions():
    table = pa.table({"i": list(range(20)), "kind": ["a"] * 10 + ["b"] * 6 + ["c"] * 4})
    train, test = train_test_split(table, test_size=0.5, seed=3, stratify_by_column="kind")
    kinds = test.column("kind").to_pylist()
    assert (kinds.count("a"), kinds.count("b"), kinds.count("c")) == (5, 3, 2)
    assert sorted(ids(train) + ids(test)) == list(range(20))


def test_approximate_mode_matches_sklearn_examples():
    rng = np.random.default_rng(0)
    assert approximate_mode(np.array([2, 2, 2, 1]), 2, rng).tolist() in ([1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0])
    assert approximate_mode(np.array([5, 2]), 3, rng).tolist() == [2, 1]
    assert approximate_mode(np.array([4, 4]), 8, rng).tolist() == [4, 4]


sizes = st.one_of(
    st.none(),
    st.integers(-1, 62),
    st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.25, 0.3, 1 / 3, 0.5, 0.6, 0.75, 0.9, 0.99, 1.0]),
)


def outcome(fn):
    try:
        return fn()
    except ValueError:
        return ValueError


@settings(max_examples=80, deadline=None, database=None)
@given(st.integers(0, 60), sizes, sizes, st.integers(0, 2**32 - 1), st.booleans())
def test_train_test_split_matches_datasets(n, test_size, train_size, seed, shuffled):
    def theirs():
        d = hf(n).train_test_split(test_size=test_size, train_size=train_size, seed=seed, shuffle=shuffled)
        return d["train"].to_dict()["i"], d["test"].to_dict()["i"]

    def mine():
        train, test = train_test_split(numbered(n), test_size, train_size, seed=seed, shuffle=shuffled)
        return ids(train), ids(test)

    assert outcome(mine) == outcome(theirs)


@st.composite
def labelled(draw):
    n_classes = draw(st.integers(1, 4))
    n = draw(st.integers(2, 60))
    labels = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    return n_classes, labels


@settings(max_examples=100, deadline=None, database=None)
@given(labelled(), sizes, sizes, st.integers(0, 2**32 - 1))
def test_stratified_split_matches_datasets(case, test_size, train_size, seed):
    n_classes, labels = case
    n = len(labels)

    def theirs():
        d = hf(n, labels, n_classes).train_test_split(
            test_size=test_size, train_size=train_size, seed=seed, stratify_by_column="label"
        )
        return d["train"].to_dict()["i"], d["test"].to_dict()["i"]

    def mine():
        table = pa.table({"i": pa.array(range(n), pa.int64()), "label": pa.array(labels, pa.int64())})
        train, test = train_test_split(table, test_size, train_size, seed=seed, stratify_by_column="label")
        return ids(train), ids(test)

    assert outcome(mine) == outcome(theirs)


# --- kfold and stratified sample -------------------------------------------------------------


def test_kfold_partitions_rows():
    folds = kfold(numbered(10), 3, seed=42)
    order = [5, 6, 0, 7, 3, 2, 4, 9, 1, 8]
    assert [ids(test) for _, test in folds] == [order[:4], order[4:7], order[7:]]
    assert [ids(train) for train, _ in folds] == [order[4:], order[:4] + order[7:], order[:7]]
    plain = kfold_indices(5, 2, shuffle=False)
    assert [(a.tolist(), b.tolist()) for a, b in plain] == [([3, 4], [0, 1, 2]), ([0, 1, 2], [3, 4])]
    with pytest.raises(ValueError, match="k must be an integer of at least 2"):
        kfold(numbered(5), 1)
    with pytest.raises(ValueError, match="cannot make k=6 folds of 5 rows"):
        kfold(numbered(5), 6)


def test_stratified_sample_keeps_proportions_and_order():
    table = pa.table({"i": list(range(20)), "label": [0] * 10 + [1] * 6 + [2] * 4})
    sample = stratified_sample(table, "label", n=10, seed=7)
    labels = sample.column("label").to_pylist()
    assert (labels.count(0), labels.count(1), labels.count(2)) == (5, 3, 2)
    assert ids(sample) == sorted(ids(sample)) and len(set(ids(sample))) == 10
    assert ids(stratified_sample(table, "label", fraction=0.5, seed=7)) == ids(sample)
    assert stratified_sample(table, "label", n=0, seed=7).num_rows == 0
    with pytest.raises(ValueError, match="exactly one of n and fraction"):
        stratified_sample(table, "label", n=3, fraction=0.1)
    with pytest.raises(ValueError, match="between 0 and the number of rows 20, got 21"):
        stratified_sample(table, "label", n=21)
