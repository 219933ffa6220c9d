"""Streaming datasets: row-for-row agreement with ``datasets``' IterableDataset, laziness, bounded memory."""

from __future__ import annotations

import tracemalloc

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets_pipeline.engine import ipc
from datasets_pipeline.engine.streaming import StreamingDataset, concatenate_streams, interleave_streams
from datasets_pipeline.errors import SchemaError

datasets.disable_progress_bars()

STRATEGIES = ["first_exhausted", "all_exhausted", "all_exhausted_without_replacement"]


def xs(stream: StreamingDataset) -> list[int]:
    return stream.to_table()["x"].to_pylist()


def rows(values: list[int], batch_rows: int = 1000) -> StreamingDataset:
    return StreamingDataset.from_table(pa.table({"x": pa.array(values, pa.int64())}), batch_rows=batch_rows)


def hf_iterable(values: list[int]) -> datasets.IterableDataset:
    if not values:
        features = datasets.Features({"x": datasets.Value("int64")})
        return datasets.IterableDataset.from_generator(_no_rows, features=features)
    return datasets.Dataset.from_dict({"x": values}).to_iterable_dataset(num_shards=1)


def _no_rows():
    return
    yield


def hf_xs(ds: datasets.IterableDataset) -> list[int]:
    return [row["x"] for row in ds]


A = list(range(5))
B = list(range(10, 20))


# ---------------------------------------------------------------- interleave vs datasets


@st.composite
def interleave_cases(draw):
    n = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    batch_rows = draw(st.lists(st.integers(1, 7), min_size=n, max_size=n))
    strategy = draw(st.sampled_from(STRATEGIES))
    probabilities = None
    if draw(st.booleans()):
        low = 0 if strategy == "first_exhausted" else 1
        weights = draw(st.lists(st.integers(low, 5), min_size=n, max_size=n).filter(lambda w: sum(w) > 0))
        probabilities = [w / sum(weights) for w in weights]
    seed = draw(st.integers(0, 2**32 - 1))
    return sizes, batch_rows, strategy, probabilities, seed


@settings(max_examples=40, deadline=None)
@given(interleave_cases())
def test_interleave_matches_datasets_iterable(case):
    sizes, batch_rows, strategy, probabilities, seed = case
    values = [list(range(1000 * i, 1000 * i + size)) for i, size in enumerate(sizes)]
    ours = interleave_streams(
        [rows(v, b) for v, b in zip(values, batch_rows)], probabilities, seed=seed, stopping_strategy=strategy
    )
    theirs = datasets.interleave_datasets(
        [hf_iterable(v) for v in values], probabilities=probabilities, seed=seed, stopping_strategy=strategy
    )
    assert xs(ours) == hf_xs(theirs)


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
        (
            [0.7, 0.3],
            42,
            "all_exhausted_without_replacement",
            [10, 0, 11, 1, 2, 12, 13, 14, 3, 4, 15, 16, 17, 18, 19],
        ),
        (None, None, "first_exhausted", [0, 10, 1, 11, 2, 12, 3, 13, 4]),
        (None, None, "all_exhausted", [0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 0, 15, 1, 16, 2, 17, 3, 18, 4, 19]),
        (None, None, "all_exhausted_without_replacement", [0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 15, 16, 17, 18, 19]),
        ([0.5, 0.5], 0, "first_exhausted", [10, 0, 1, 2, 11, 12, 13, 14, 15, 16, 17, 3, 18, 4]),
        ([0.5, 0.5], 0, "all_exhausted", [10, 0, 1, 2, 11, 12, 13, 14, 15, 16, 17, 3, 18, 4, 19]),
        ([0.5, 0.5], 0, "all_exhausted_without_replacement", [10, 0, 1, 2, 11, 12, 13, 14, 15, 16, 17, 3, 18, 4, 19]),
        ([1.0, 0.0], 0, "first_exhausted", [0, 1, 2, 3, 4]),
        ([0.0, 1.0], 0, "first_exhausted", list(range(10, 20))),
    ],
)
def test_interleave_reference_outputs(probabilities, seed, strategy, expected):
    out = interleave_streams([rows(A, 2), rows(B, 3)], probabilities, seed=seed, stopping_strategy=strategy)
    assert xs(out) == expected


def test_interleave_round_robin_iterable_lengths():
    # Round-robin stops right after the exhausting row (map-style completes the round).
    assert len(xs(interleave_streams([rows(A), rows(B)]))) == 9
    b_then_a = xs(interleave_streams([rows(B), rows(A)], stopping_strategy="all_exhausted"))
    assert b_then_a == [10, 0, 11, 1, 12, 2, 13, 3, 14, 4, 15, 0, 16, 1, 17, 2, 18, 3, 19]
    sizes = [list(range(3)), list(range(10, 14)), list(range(20, 25))]
    assert xs(interleave_streams([rows(v) for v in sizes])) == [0, 10, 20, 1, 11, 21, 2]
    assert xs(interleave_streams([rows(v) for v in sizes], stopping_strategy="all_exhausted")) == [
        0, 10, 20, 1, 11, 21, 2, 12, 22, 0, 13, 23, 1, 10, 24,
    ]


def test_interleave_three_sources_reference():
    sources = [rows(list(range(3))), rows(list(range(10, 14))), rows(list(range(20, 25)))]
    p = [0.7, 0.2, 0.1]
    assert xs(interleave_streams(sources, p, 42)) == [10, 0, 11, 1, 2]
    assert xs(interleave_streams(sources, p, 42, "all_exhausted_without_replacement")) == [
        10, 0, 11, 1, 2, 20, 12, 13, 21, 22, 23, 24,
    ]
    out = xs(interleave_streams(sources, p, 42, "all_exhausted"))
    assert len(out) == 100 and out[-2:] == [0, 24]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("probabilities", [None, [0.4, 0.2, 0.4]])
def test_interleave_with_an_empty_source_matches_datasets(strategy, probabilities):
    values = [A, [], B]
    ours = interleave_streams([rows(v) for v in values], probabilities, seed=1, stopping_strategy=strategy)
    theirs = datasets.interleave_datasets(
        [hf_iterable(v) for v in values], probabilities=probabilities, seed=1, stopping_strategy=strategy
    )
    assert xs(ours) == hf_xs(theirs)


def test_interleave_all_exhausted_restarts_a_shuffled_source_in_the_same_order():
    ours = interleave_streams([rows(list(range(6)), 2).shuffle(3, 4), rows(B)], stopping_strategy="all_exhausted")
    theirs = datasets.interleave_datasets(
        [hf_iterable(list(range(6))).shuffle(seed=3, buffer_size=4), hf_iterable(B)], stopping_strategy="all_exhausted"
    )
    assert xs(ours) == hf_xs(theirs)


@pytest.mark.parametrize("strategy", ["all_exhausted", "all_exhausted_without_replacement"])
def test_interleave_zero_probability_never_ends_so_it_raises(strategy):
    with pytest.raises(ValueError, match=r"never ends when a source has probability 0 \(sources \[1\]"):
        interleave_streams([rows(A), rows(B)], [1.0, 0.0], seed=0, stopping_strategy=strategy)


def test_interleave_argument_errors():
    with pytest.raises(ValueError, match="empty list"):
        interleave_streams([])
    with pytest.raises(ValueError, match="stopping_strategy must be one of"):
        interleave_streams([rows(A)], stopping_strategy="longest")
    with pytest.raises(ValueError, match="sum to 1"):
        interleave_streams([rows(A), rows(B)], [0.5, 0.6], seed=0)
    with pytest.raises(ValueError, match="got 1 probabilities for 2 sources"):
        interleave_streams([rows(A), rows(B)], [1.0], seed=0)


def test_interleave_aligns_columns_and_rejects_conflicts():
    left = StreamingDataset.from_table(pa.table({"x": [1, 2], "a": ["p", "q"]}))
    right = StreamingDataset.from_table(pa.table({"b": [True, False], "x": [3, 4]}))
    out = interleave_streams([left, right], stopping_strategy="all_exhausted").to_table()
    assert out.column_names == ["x", "a", "b"]
    assert out.to_pylist() == [
        {"x": 1, "a": "p", "b": None},
        {"x": 3, "a": None, "b": True},
        {"x": 2, "a": "q", "b": None},
        {"x": 4, "a": None, "b": False},
    ]
    clash = StreamingDataset.from_table(pa.table({"x": ["s"]}))
    with pytest.raises(SchemaError, match="cannot align column 'x'"):
        interleave_streams([left, clash]).to_table()


def test_interleave_is_lazy_and_replays():
    calls = []

    def factory():
        calls.append(1)
        for start in range(0, 10_000, 100):
            yield pa.record_batch({"x": pa.array(np.arange(start, start + 100))})

    long_source = StreamingDataset.from_batches(factory)
    mixed = interleave_streams([long_source, rows(B)], [0.9, 0.1], seed=None)
    assert calls == []
    first = xs(mixed.take(25))
    assert first == xs(mixed.take(25))  # seed=None: entropy drawn once, replayed
    # One peek for the aligned schema (then cached) and one pass per iteration.
    assert len(first) == 25 and len(calls) == 3
    assert xs(mixed.take(25)) == first and len(calls) == 4


# ---------------------------------------------------------------- memory


def _generated(n_rows: int, offset: int) -> StreamingDataset:
    def factory():
        for start in range(0, n_rows, 1000):
            ids = np.arange(start, min(start + 1000, n_rows), dtype=np.int64) + offset
            yield pa.record_batch({"x": ids, "text": pc.cast(pa.array(ids), pa.string())})

    return StreamingDataset.from_batches(factory)


def _peak_memory(n_rows: int) -> tuple[int, int, int]:
    sources = [_generated(n_rows, i * 10_000_000) for i in range(3)]
    mixed = interleave_streams(sources, [0.5, 0.3, 0.2], seed=7, stopping_strategy="all_exhausted")
    tracemalloc.start()
    arrow_peak = total = 0
    for batch in mixed.iter_batches():
        total += batch.num_rows
        arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
        del batch
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return total, python_peak, arrow_peak


def test_interleave_memory_does_not_grow_with_source_length():
    small_rows, small_py, small_arrow = _peak_memory(6_000)
    big_rows, big_py, big_arrow = _peak_memory(60_000)
    assert big_rows > 9 * small_rows
    assert big_py < 1.5 * small_py + 256 * 1024, (small_py, big_py)
    assert big_arrow < 1.5 * small_arrow + 256 * 1024, (small_arrow, big_arrow)


# ---------------------------------------------------------------- shuffle


def test_shuffle_reference_order():
    assert xs(rows(list(range(20)), 3).shuffle(seed=42, buffer_size=4)) == [
        3, 2, 5, 4, 1, 7, 8, 9, 10, 11, 0, 6, 12, 14, 13, 15, 16, 19, 18, 17,
    ]


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 60),
    buffer_size=st.integers(1, 16),
    batch_rows=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_shuffle_matches_datasets_buffer_shuffle(size, buffer_size, batch_rows, seed):
    values = list(range(size))
    theirs = hf_xs(hf_iterable(values).shuffle(seed=seed, buffer_size=buffer_size))
    assert xs(rows(values, batch_rows).shuffle(seed=seed, buffer_size=buffer_size)) == theirs


def test_shuffle_replays_and_rejects_bad_buffer():
    stream = rows(list(range(50)), 7).shuffle(seed=None, buffer_size=8)
    assert xs(stream) == xs(stream)
    assert sorted(xs(stream)) == list(range(50))
    with pytest.raises(ValueError, match="buffer_size must be an integer >= 1"):
        rows(A).shuffle(0, buffer_size=0)


# ---------------------------------------------------------------- operations


def test_map_filter_take_skip_batch():
    base = rows(list(range(23)), 5)
    doubled = base.map(lambda b: {"x": pc.multiply(b["x"], 2), "odd": pc.equal(pc.bit_wise_and(b["x"], 1), 1)})
    assert doubled.schema.names == ["x", "odd"]
    assert xs(doubled.filter(pc.field("odd")).take(4)) == [2, 6, 10, 14]
    assert xs(base.filter(lambda b: np.asarray(b["x"]) % 5 == 0)) == [0, 5, 10, 15, 20]
    assert xs(base.skip(20)) == [20, 21, 22]
    assert xs(base.skip(3).take(4)) == [3, 4, 5, 6]
    assert xs(base.take(0)) == [] and xs(base.skip(100)) == []
    assert [b.num_rows for b in base.batch(4).iter_batches()] == [4, 4, 4, 4, 4, 3]
    assert [b.num_rows for b in base.batch(4, drop_last_batch=True).iter_batches()] == [4] * 5
    assert xs(base.batch(4)) == list(range(23))
    per_row = base.take(3).map(lambda r: {"y": r["x"] + 100}, batched=False)
    assert per_row.to_table().to_pylist() == [{"y": 100}, {"y": 101}, {"y": 102}]
    resized = base.map(lambda b: b.slice(0, 1), batch_size=10)
    assert xs(resized) == [0, 10, 20]


def test_schema_is_peeked_lazily_and_falls_back_when_empty():
    calls = []

    def fn(batch):
        calls.append(batch.num_rows)
        return batch.append_column("y", pc.add(batch["x"], 1))

    mapped = rows(A, 2).map(fn)
    assert calls == []
    assert mapped.schema.names == ["x", "y"] and calls == [2]
    nothing = rows(A).filter(pc.field("x") > 100)
    assert nothing.schema.names == ["x"] and nothing.to_table().num_rows == 0
    assert rows(A).filter(pc.field("x") > 100).map(fn).schema.names == ["x", "y"]


def test_select_columns_and_rows():
    stream = StreamingDataset.from_table(pa.table({"a": [1, 2], "b": ["u", "v"], "c": [0.5, 1.5]}), batch_rows=1)
    picked = stream.select_columns(["c", "a"])
    assert picked.schema.names == ["c", "a"]
    assert list(picked.iter_rows()) == [{"c": 0.5, "a": 1}, {"c": 1.5, "a": 2}]
    with pytest.raises(SchemaError, match=r"columns \['z'\] are not in the stream"):
        stream.select_columns(["a", "z"]).schema


def test_concatenate_streams_aligns_columns():
    left = StreamingDataset.from_table(pa.table({"x": [1, 2]}))
    right = StreamingDataset.from_table(pa.table({"x": [3], "y": ["t"]}))
    out = concatenate_streams([left, right]).to_table()
    assert out.to_pylist() == [{"x": 1, "y": None}, {"x": 2, "y": None}, {"x": 3, "y": "t"}]


def test_arrow_file_parquet_and_write(tmp_path):
    table = pa.table({"x": pa.array(range(30), pa.int64()), "s": [str(i) for i in range(30)]})
    ipc.write_table(tmp_path / "in.arrow", table, max_chunksize=7)
    from_arrow = StreamingDataset.from_arrow_file(tmp_path / "in.arrow")
    assert from_arrow.schema == table.schema
    assert [b.num_rows for b in from_arrow.iter_batches()] == [7, 7, 7, 7, 2]
    pq.write_table(table.slice(0, 20), tmp_path / "a.parquet", row_group_size=8)
    pq.write_table(table.slice(20), tmp_path / "b.parquet")
    from_parquet = StreamingDataset.from_parquet([tmp_path / "a.parquet", tmp_path / "b.parquet"], batch_rows=6)
    assert from_parquet.to_table().equals(table)
    picked = StreamingDataset.from_parquet(tmp_path / "b.parquet", columns=["s", "x"])
    assert picked.schema.names == ["s", "x"] and picked.to_table()["x"].to_pylist() == list(range(20, 30))
    stats = from_parquet.filter(pc.field("x") >= 25).write(tmp_path / "out.arrow")
    assert (stats.rows, stats.batches) == (5, 2)  # batches [20..25], [26..29] of b.parquet
    assert ipc.read_table(tmp_path / "out.arrow")["x"].to_pylist() == [25, 26, 27, 28, 29]
    empty = from_arrow.filter(pc.field("x") < 0).write(tmp_path / "empty.arrow")
    assert empty.rows == 0 and ipc.read_table(tmp_path / "empty.arrow").schema == table.schema
    pq.write_table(pa.table({"x": ["a"]}), tmp_path / "c.parquet")
    with pytest.raises(SchemaError, match="differs from the first file"):
        StreamingDataset.from_parquet([tmp_path / "a.parquet", tmp_path / "c.parquet"]).to_table()
