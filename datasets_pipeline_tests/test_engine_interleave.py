"""Interleaving and source sampling: same rows as ``datasets.interleave_datasets`` (map-style)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from datasets import Dataset, Features, Value, interleave_datasets
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from datasets_pipeline.engine.interleave import STOPPING_STRATEGIES, interleave, interleave_indices
from datasets_pipeline.engine.sampling import BLOCK_SIZE, check_probabilities, source_id_blocks, source_ids
from datasets_pipeline.errors import SchemaError

FEATURES = Features({"x": Value("int64")})
PROPERTY = settings(max_examples=60, deadline=None, database=None)


def source(values: list[int]) -> pa.Table:
    return pa.table({"x": pa.array(values, pa.int64())})


def rows(table: pa.Table) -> list[int]:
    return table.column("x").to_pylist()


A, B = list(range(5)), list(range(10, 20))


def run(sources: list[list[int]], probabilities=None, seed=None, strategy="first_exhausted") -> list[int]:
    return rows(interleave([source(s) for s in sources], probabilities, seed, strategy))


# --- outputs the datasets documentation gives for interleave_datasets --------------------


@pytest.mark.parametrize(
    ("probabilities", "seed", "strategy", "expected"),
    [
        ([0.7, 0.3], 42, "first_exhausted", [10, 0, 11, 1, 2, 12, 13, 14, 3, 4]),
        (
            [0.7, 0.3],
            42,
            "all_exhausted",
            [10, 0, 11, 1, 2, 12, 13, 14, 3, 4, 0, 15, 1, 16, 2, 3, 4, 0, 17, 1, 18, 2, 19],
        ),
        ([0.7, 0.3], 42, "all_exhausted_without_replacement", [10, 0, 11, 1, 2, 12, 13, 14, 3, 4, 15, 16, 17, 18, 19]),
        (None, None, "first_exhausted", [0, 10, 1, 11, 2, 12, 3, 13, 4, 14]),
        (None, None, "all_exhausted", [0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 0, 15, 1, 16, 2, 17, 3, 18, 4, 19]),
        (None, None, "all_exhausted_without_replacement", [0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 15, 16, 17, 18, 19]),
        ([0.5, 0.5], 0, "first_exhausted", [10, 0, 1, 2, 11, 12, 13, 14, 15, 16, 17, 3, 18, 4]),
        ([0.5, 0.5], 0, "all_exhausted", [10, 0, 1, 2, 11, 12, 13, 14, 15, 16, 17, 3, 18, 4, 19]),
        ([0.5, 0.5], 0, "all_exhausted_without_replacement", [10, 0, 1, 2, 11, 12, 13, 14, 15, 16, 17, 3, 18, 4, 19]),
        ([1, 0], 7, "first_exhausted", [0, 1, 2, 3, 4]),
        ([0, 1], 7, "first_exhausted", list(range(10, 20))),
    ],
)
def test_documented_two_sources(probabilities, seed, strategy, expected):
    assert run([A, B], probabilities, seed, strategy) == expected


def test_documented_reversed_round_robin_all_exhausted():
    assert run([B, A], None, None, "all_exhausted") == [
        10, 0, 11, 1, 12, 2, 13, 3, 14, 4, 15, 0, 16, 1, 17, 2, 18, 3, 19, 4,
    ]  # fmt: skip


def test_documented_three_sources():
    sources = [list(range(3)), list(range(10, 14)), list(range(20, 25))]
    p = [0.7, 0.2, 0.1]
    assert run(sources, p, 42, "first_exhausted") == [10, 0, 11, 1, 2]
    assert run(sources, p, 42, "all_exhausted_without_replacement") == [10, 0, 11, 1, 2, 20, 12, 13, 21, 22, 23, 24]
    full = run(sources, p, 42, "all_exhausted")
    assert len(full) == 100 and full[-2:] == [0, 24]
    assert run(sources, None, None, "all_exhausted") == [0, 10, 20, 1, 11, 21, 2, 12, 22, 0, 13, 23, 1, 10, 24]


def test_indices_are_global_rows_of_the_concatenation():
    idx = interleave_indices([5, 10], [0.7, 0.3], 42)
    assert idx.dtype == np.int64
    assert idx.tolist() == [5, 0, 6, 1, 2, 7, 8, 9, 3, 4]
    assert interleave_indices([3, 4, 5], None).tolist() == [0, 3, 7, 1, 4, 8, 2, 5, 9]
    assert interleave_indices([3, 4, 3], None, stopping_strategy="all_exhausted_without_replacement").tolist() == [
        0, 3, 7, 1, 4, 8, 2, 5, 9, 6,
    ]  # fmt: skip


# --- sampling -------------------------------------------------------------------------------


def test_source_id_blocks_replay_default_rng_choice():
    blocks = source_id_blocks(2, [0.7, 0.3], 42)
    first = next(blocks)
    assert first.shape == (BLOCK_SIZE,)
    assert first[:30].tolist() == [1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    rng = np.random.default_rng(42)
    np.testing.assert_array_equal(first, rng.choice(2, size=1000, p=[0.7, 0.3]))
    np.testing.assert_array_equal(next(blocks), rng.choice(2, size=1000, p=[0.7, 0.3]))
    ids = source_ids(3, [0.2, 0.5, 0.3], 9, n_blocks=3)
    rng = np.random.default_rng(9)
    np.testing.assert_array_equal(ids, np.concatenate([rng.choice(3, size=1000, p=[0.2, 0.5, 0.3]) for _ in range(3)]))


@pytest.mark.parametrize(
    ("probabilities", "n", "message"),
    [
        ([0.5, 0.5 + 1e-7], 2, "must sum to 1"),
        ([0.5, 0.5], 3, "got 2 probabilities for 3 sources"),
        ([1.2, -0.2], 2, "must not be negative; source 1"),
        ([float("nan"), 1.0], 2, "must be finite numbers; source 0"),
        ([0.25, 0.25], 2, "they sum to 0.5"),
        ([], 0, "cannot sample from zero sources"),
    ],
)
def test_check_probabilities_errors(probabilities, n, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        check_probabilities(probabilities, n)


def test_check_probabilities_tolerance_like_numpy():
    assert check_probabilities([0.5, 0.5 + 1e-9], 2).tolist() == [0.5, 0.5 + 1e-9]


def test_interleave_argument_errors():
    with pytest.raises(ValueError, match="unknown stopping_strategy 'longest'"):
        interleave_indices([1, 2], stopping_strategy="longest")
    with pytest.raises(ValueError, match="at least one source"):
        interleave_indices([])
    with pytest.raises(ValueError, match="at least one table"):
        interleave([])
    with pytest.raises(ValueError, match="sources \\[1\\] are empty"):
        interleave_indices([3, 0], [0.5, 0.5], 1)
    with pytest.raises(ValueError, match="sources \\[1\\] have probability 0"):
        interleave_indices([3, 4], [1.0, 0.0], 1, "all_exhausted")


# --- property: identical to datasets ----------------------------------------------------------


@st.composite
def cases(draw):
    n = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    probabilities = None
    if draw(st.booleans()):
        weights = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n).filter(lambda w: sum(w) > 0))
        probabilities = [w / sum(weights) for w in weights]
    seed = draw(st.integers(0, 2**32 - 1))
    strategy = draw(st.sampled_from(STOPPING_STRATEGIES))
    return lengths, probabilities, seed, strategy


@st.composite
def misbehaving_cases(draw):
    """Inputs of the kinds datasets 5.2 gets wrong (see :func:`datasets_misbehaves`)."""
    n = draw(st.integers(2, 4))
    lengths = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    seed = draw(st.integers(0, 2**32 - 1))
    if draw(st.booleans()):
        lengths[draw(st.integers(0, n - 1))] = 0
        lengths[draw(st.integers(0, n - 1))] = draw(st.integers(1, 40))
        if all(lengths):
            lengths[next(i for i in range(n) if i != lengths.index(max(lengths)))] = 0
        return lengths, None, seed, "all_exhausted"
    weights = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n).filter(lambda w: sum(w) > 0))
    if 0 not in weights and 0 not in lengths:
        if draw(st.booleans()):
            lengths[draw(st.integers(0, n - 1))] = 0
        else:
            weights[draw(st.integers(0, n - 1))] = 0
            if sum(weights) == 0:
                weights[0] = 1
    return lengths, [w / sum(weights) for w in weights], seed, "all_exhausted_without_replacement"


def datasets_misbehaves(lengths, probabilities, strategy) -> bool:
    """Inputs where datasets 5.2 hangs or returns wrong rows: ``all_exhausted`` without probabilities
    when some but not all sources are empty; ``all_exhausted_without_replacement`` with an empty
    source or a zero probability."""
    if probabilities is None:
        return strategy == "all_exhausted" and 0 in lengths and any(lengths)
    if strategy == "all_exhausted_without_replacement":
        return 0 in lengths or 0.0 in probabilities
    return False


def sources_for(lengths):
    return [list(range(1000 * s, 1000 * s + n)) for s, n in enumerate(lengths)]


def datasets_interleave(sources, probabilities, seed, strategy):
    dsets = [Dataset.from_dict({"x": s}, features=FEATURES) for s in sources]
    try:
        out = interleave_datasets(dsets, probabilities=probabilities, seed=seed, stopping_strategy=strategy)
    except ValueError:
        return ValueError
    return out.to_dict()["x"]


def ours(sources, probabilities, seed, strategy):
    try:
        return run(sources, probabilities, seed, strategy)
    except ValueError:
        return ValueError


@PROPERTY
@given(cases())
def test_interleave_matches_datasets(case):
    lengths, probabilities, seed, strategy = case
    assume(not datasets_misbehaves(lengths, probabilities, strategy))
    sources = sources_for(lengths)
    assert ours(sources, probabilities, seed, strategy) == datasets_interleave(sources, probabilities, seed, strategy)


@PROPERTY
@given(misbehaving_cases())
def test_interleave_where_datasets_misbehaves(case):
    lengths, probabilities, seed, strategy = case
    assert datasets_misbehaves(lengths, probabilities, strategy)
    sources = sources_for(lengths)
    if probabilities is None:
        # Empty sources contribute nothing; the others cycle for max(lengths) rounds.
        present = [s for s in sources if s]
        expected = [s[k % len(s)] for k in range(max(lengths)) for s in present]
        assert run(sources, None, seed, strategy) == expected
        return
    unreachable = [i for i, (n, p) in enumerate(zip(lengths, probabilities)) if n > 0 and p == 0]
    if unreachable:
        with pytest.raises(ValueError, match=re.escape(f"sources {unreachable} have probability 0 and rows")):
            run(sources, probabilities, seed, strategy)
        return
    # Empty sources are exhausted from the start: every row exactly once, in draw order.
    out = run(sources, probabilities, seed, strategy)
    assert sorted(out) == sorted(x for s in sources for x in s)
    assert out == without_replacement_reference(sources, probabilities, seed)


def without_replacement_reference(sources, probabilities, seed):
    """Per-draw loop: a draw of an exhausted (or empty) source yields nothing."""
    total = sum(len(s) for s in sources)
    blocks = source_id_blocks(len(sources), probabilities, seed)
    counters, out = [0] * len(sources), []
    while len(out) < total:
        for s in next(blocks).tolist():
            if len(out) == total:
                break
            if counters[s] < len(sources[s]):
                out.append(sources[s][counters[s]])
                counters[s] += 1
    return out


def test_empty_source_without_replacement_is_skipped():
    out = run([[], A, B], [0.2, 0.4, 0.4], 3, "all_exhausted_without_replacement")
    assert out == without_replacement_reference([[], A, B], [0.2, 0.4, 0.4], 3)
    assert sorted(out) == A + B and len(out) == 15
    assert run([[], []], [0.5, 0.5], 3, "all_exhausted_without_replacement") == []


def test_round_robin_all_exhausted_with_empty_source():
    assert run([A, [], [7, 8]], None, None, "all_exhausted") == [0, 7, 1, 8, 2, 7, 3, 8, 4, 7]
    assert run([[], []], None, None, "all_exhausted") == []
    assert run([A, []], None, None, "first_exhausted") == []


def test_zero_probability_without_replacement_raises():
    with pytest.raises(ValueError, match=r"sources \[1\] have probability 0 and rows"):
        run([A, B], [1.0, 0.0], 0, "all_exhausted_without_replacement")
    # A zero-probability source that is empty has nothing left to give.
    assert run([A, []], [1.0, 0.0], 0, "all_exhausted_without_replacement") == A


# --- columns --------------------------------------------------------------------------------


def test_interleave_aligns_columns_and_fills_missing_with_null():
    left = pa.table({"x": [0, 1], "a": ["p", "q"]})
    right = pa.table({"b": [True, False], "x": [10, 11], "a": pa.nulls(2)})
    out = interleave([left, right])
    assert out.column_names == ["x", "a", "b"]
    assert out.schema.field("a").type == pa.string()
    assert out.to_pylist() == [
        {"x": 0, "a": "p", "b": None},
        {"x": 10, "a": None, "b": True},
        {"x": 1, "a": "q", "b": None},
        {"x": 11, "a": None, "b": False},
    ]


def test_interleave_type_conflict_is_a_schema_error():
    with pytest.raises(SchemaError, match="column 'x': table 0 has int64, table 1 has string"):
        interleave([pa.table({"x": [1]}), pa.table({"x": ["1"]})])


def test_interleave_with_empty_tables_keeps_aligned_schema():
    out = interleave([pa.table({"x": pa.array([], pa.int64())}), pa.table({"y": pa.array([], pa.string())})])
    assert out.num_rows == 0 and out.column_names == ["x", "y"]


def test_large_interleave_matches_block_by_block_reference():
    lengths = [30_000, 45_000, 15_000]
    p = [0.3, 0.5, 0.2]
    idx = interleave_indices(lengths, p, 11, "all_exhausted")
    offsets = np.cumsum([0] + lengths[:-1])
    # Reference: per-draw counters with wrap-around, stopping after the last source is exhausted.
    draws = np.concatenate(list(_blocks(3, p, 11, 200)))
    counters, out, done = [0, 0, 0], [], set()
    for s in draws.tolist():
        out.append(offsets[s] + counters[s] % lengths[s])
        counters[s] += 1
        if counters[s] >= lengths[s]:
            done.add(s)
        if len(done) == 3:
            break
    assert idx.tolist() == out


def _blocks(n, p, seed, count):
    it = source_id_blocks(n, p, seed)
    for _ in range(count):
        yield next(it)
