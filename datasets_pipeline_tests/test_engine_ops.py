"""Concatenation, row/column operations, dedup and chunked gathers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datasets import Dataset, Features, Value, concatenate_datasets
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets_pipeline.engine import ops
from datasets_pipeline.engine.concat import align_schemas, concatenate, conform
from datasets_pipeline.engine.dedup import dedup, duplicate_counts, first_occurrences
from datasets_pipeline.engine.gather import as_indices, iter_take, write_take
from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline.engine.uid import add_uid
from datasets_pipeline.errors import SchemaError

PROPERTY = settings(max_examples=40, deadline=None, database=None)


def table(n: int = 5) -> pa.Table:
    return pa.table({"a": pa.array(range(n), pa.int64()), "s": pa.array([f"r{i}" for i in range(n)])})


# --- concatenate ----------------------------------------------------------------------------


def test_concatenate_aligns_like_datasets():
    left = pa.table({"x": [1, 2], "a": ["p", "q"]})
    right = pa.table({"b": [True], "x": [3], "a": pa.nulls(1)})
    out = concatenate([left, right])
    assert out.schema == pa.schema([("x", pa.int64()), ("a", pa.string()), ("b", pa.bool_())])
    assert out.to_pydict() == {"x": [1, 2, 3], "a": ["p", "q", None], "b": [None, None, True]}
    theirs = concatenate_datasets([Dataset.from_dict(left.to_pydict()), Dataset.from_dict(right.to_pydict())])
    assert out.to_pydict() == theirs.to_dict()


def test_concatenate_drops_empty_tables_without_type_checks():
    empty = pa.table({"x": pa.array([], pa.string()), "z": pa.array([], pa.int8())})
    out = concatenate([empty, table(2)])
    assert out.column_names == ["a", "s"] and out.to_pydict() == table(2).to_pydict()


def test_concatenate_all_empty_gives_aligned_empty_table():
    out = concatenate([pa.table({"x": pa.array([], pa.null())}), pa.table({"x": pa.array([], pa.int32()), "y": pa.array([], pa.string())})])
    assert out.num_rows == 0
    assert out.schema == pa.schema([("x", pa.int32()), ("y", pa.string())])


def test_concatenate_promotes_nested_nulls_and_struct_fields():
    left = pa.table({"l": pa.array([[]], pa.list_(pa.null())), "s": [{"a": 1, "b": "x"}]})
    right = pa.table({"l": [[1, 2]], "s": [{"b": "y", "c": 2.5}]})
    out = concatenate([left, right])
    assert out.schema.field("l").type == pa.list_(pa.int64())
    assert out.schema.field("s").type == pa.struct([("a", pa.int64()), ("b", pa.string()), ("c", pa.float64())])
    assert out.to_pydict() == {
        "l": [[], [1, 2]],
        "s": [{"a": 1, "b": "x", "c": None}, {"a": None, "b": "y", "c": 2.5}],
    }


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (pa.table({"x": pa.array([1], pa.int32())}), "cannot align column 'x': table 0 has int64, table 2 has int32"),
        (pa.table({"x": ["1"]}), "cannot align column 'x': table 0 has int64, table 2 has string"),
        (pa.table({"x": pa.array([1], pa.int64()), "t": pa.array(["a"], pa.large_string())}), "column 't': table 1 has string, table 2 has large_string"),
    ],
)
def test_concatenate_type_conflicts_name_column_and_types(other, message):
    first, second = pa.table({"x": [1]}), pa.table({"x": [2], "t": ["b"]})
    with pytest.raises(SchemaError, match=message) as info:
        concatenate([first, second, other])
    assert "Cast one of them first" in str(info.value)


def test_concatenate_nested_conflict_names_the_field():
    with pytest.raises(SchemaError, match=r"cannot align column 's\.a': int64 vs string in column 's'") as info:
        concatenate([pa.table({"s": [{"a": 1}]}), pa.table({"s": [{"a": "z"}]})])
    assert info.value.column == "s.a"


def test_concatenate_axis_1():
    out = concatenate([table(3), pa.table({"b": [7, 8, 9]})], axis=1)
    assert out.column_names == ["a", "s", "b"] and out.column("b").to_pylist() == [7, 8, 9]
    with pytest.raises(ValueError, match=r"Number of rows must match .* got \[3, 2\]"):
        concatenate([table(3), pa.table({"b": [1, 2]})], axis=1)
    with pytest.raises(ValueError, match=r"got \[0, 2\]"):
        concatenate([pa.table({"c": pa.array([], pa.int64())}), pa.table({"b": [1, 2]})], axis=1)
    with pytest.raises(SchemaError, match=r"duplicated: \['a', 's'\] \[column 'a'\]"):
        concatenate([table(3), table(3)], axis=1)
    with pytest.raises(ValueError, match="axis must be 0"):
        concatenate([table(3)], axis=2)
    with pytest.raises(ValueError, match="at least one table"):
        concatenate([])


def test_align_schemas_and_conform():
    schema = align_schemas([pa.schema([("a", pa.null())]), pa.schema([("b", pa.string()), ("a", pa.int16())])])
    assert schema == pa.schema([("a", pa.int16()), ("b", pa.string())])
    out = conform(pa.table({"b": ["z"]}), schema)
    assert out.schema == schema and out.to_pydict() == {"a": [None], "b": ["z"]}


def test_concatenate_keeps_shared_metadata_only():
    meta = {b"huggingface": b"{}"}
    one = table(1).replace_schema_metadata(meta)
    assert concatenate([one, one]).schema.metadata == meta
    assert concatenate([one, table(1)]).schema.metadata is None


@PROPERTY
@given(st.lists(st.tuples(st.integers(0, 6), st.sets(st.sampled_from("abc"), min_size=1)), min_size=1, max_size=4))
def test_concatenate_matches_datasets(specs):
    tables, dsets = [], []
    for k, (n, cols) in enumerate(specs):
        data = {c: [f"{c}{k}.{i}" for i in range(n)] for c in sorted(cols)}
        tables.append(pa.table({c: pa.array(v, pa.string()) for c, v in data.items()}))
        dsets.append(Dataset.from_dict(data, features=Features({c: Value("string") for c in data})))
    ours = concatenate(tables)
    theirs = concatenate_datasets(dsets)
    if all(n == 0 for n, _ in specs):
        assert ours.num_rows == 0 == theirs.num_rows
        return
    assert ours.column_names == theirs.column_names
    assert ours.to_pydict() == theirs.to_dict()


# --- rows and columns -----------------------------------------------------------------------


def test_select_and_remove_columns():
    assert ops.select_columns(table(2), ["s", "a"]).column_names == ["s", "a"]
    assert ops.select_columns(table(2), "s").column_names == ["s"]
    assert ops.remove_columns(table(2), "s").column_names == ["a"]
    with pytest.raises(SchemaError, match=r"Column\(s\) \['zz'\] not in the table; its columns are \['a', 's'\]"):
        ops.select_columns(table(2), ["a", "zz"])


def test_take_and_select():
    t = pa.Table.from_batches(table(10).to_batches(max_chunksize=3))
    assert ops.take(t, [9, 0, 0, 4]).column("a").to_pylist() == [9, 0, 0, 4]
    contiguous = ops.select(t, range(2, 7))
    assert contiguous.column("a").to_pylist() == [2, 3, 4, 5, 6]
    assert ops.take(t, np.array([3, 4, 5], dtype=np.uint32)).column("a").to_pylist() == [3, 4, 5]
    assert ops.take(t, pa.array([1, 8])).column("a").to_pylist() == [1, 8]
    assert ops.take(t, []).num_rows == 0
    with pytest.raises(IndexError, match="row index 10 is out of range for a table of 10 rows"):
        ops.take(t, [1, 10])
    with pytest.raises(IndexError, match="row index -1 is out of range"):
        ops.select(t, [-1])
    with pytest.raises(TypeError, match="row indices must be integers"):
        ops.take(t, [0.5])
    with pytest.raises(ValueError, match="must not be null"):
        ops.take(t, pa.array([1, None]))


def test_head_skip_slice_repeat_match_datasets():
    ds = Dataset.from_dict(table(7).to_pydict())
    assert ops.take_head(table(7), 3).to_pydict() == ds.take(3).to_dict()
    assert ops.take_head(table(7), 30).to_pydict() == ds.take(30).to_dict()
    assert ops.skip(table(7), 5).to_pydict() == ds.skip(5).to_dict()
    assert ops.skip(table(7), 50).num_rows == 0 == len(ds.skip(50))
    assert ops.repeat(table(3), 3).to_pydict() == Dataset.from_dict(table(3).to_pydict()).repeat(3).to_dict()
    assert ops.repeat(table(3), 0).num_rows == 0
    assert ops.select(table(7), [6, 1, 3]).to_pydict() == ds.select([6, 1, 3]).to_dict()
    assert ops.slice_rows(table(7), 2, 5).column("a").to_pylist() == [2, 3, 4]
    assert ops.slice_rows(table(7), -2).column("a").to_pylist() == [5, 6]
    assert ops.slice_rows(table(7), None, None, -3).column("a").to_pylist() == [6, 3, 0]
    with pytest.raises(ValueError, match="n must be a non-negative integer, got -1"):
        ops.take_head(table(3), -1)


def test_filter_expression_and_function():
    t = pa.Table.from_batches(table(10).to_batches(max_chunksize=4))
    assert ops.filter_rows(t, pc.field("a").isin([0, 3, 6, 9])).column("a").to_pylist() == [0, 3, 6, 9]
    sizes = []

    def even(batch: pa.RecordBatch) -> pa.Array:
        sizes.append(batch.num_rows)
        return pc.equal(pc.bit_wise_and(batch.column("a"), 1), 0)

    out = ops.filter_rows(t, even, batch_size=3)
    assert out.column("a").to_pylist() == [0, 2, 4, 6, 8] and sizes == [3, 3, 3, 1]
    assert ops.filter_rows(t, lambda b: np.asarray(b.column("a")) > 7).column("a").to_pylist() == [8, 9]
    assert ops.filter_rows(t, lambda d: [x.endswith("1") for x in d["s"]], input_format="dict").column("a").to_pylist() == [1]
    assert ops.filter_rows(t, lambda b: pa.array([None] * b.num_rows, pa.bool_())).num_rows == 0
    ds = Dataset.from_dict(table(10).to_pydict())
    assert ops.filter_rows(t, pc.field("a") > 6).to_pydict() == ds.filter(lambda r: r["a"] > 6).to_dict()
    with pytest.raises(ValueError, match="returned 1 values for a batch of 10 rows"):
        ops.filter_rows(t, lambda b: [True])
    with pytest.raises(TypeError, match="must return booleans"):
        ops.filter_rows(t, lambda b: np.ones(b.num_rows, dtype=np.int64))


def test_map_batched_updates_and_appends_columns():
    t = table(5)
    out = ops.map_rows(t, lambda b: {"s": pc.utf8_upper(b.column("s")), "d": pc.multiply(b.column("a"), 2)}, batch_size=2)
    assert out.column_names == ["a", "s", "d"]
    assert out.to_pydict() == {"a": [0, 1, 2, 3, 4], "s": ["R0", "R1", "R2", "R3", "R4"], "d": [0, 2, 4, 6, 8]}
    ds = Dataset.from_dict(t.to_pydict())
    theirs = ds.map(lambda b: {"s": [x.upper() for x in b["s"]], "d": [x * 2 for x in b["a"]]}, batched=True, batch_size=2)
    assert out.to_pydict() == theirs.to_dict()


def test_map_row_function_and_remove_columns_like_datasets():
    t = table(4)
    out = ops.map_rows(t, lambda r: {"n": len(r["s"]) + r["a"]}, batched=False, remove_columns="a")
    ds = Dataset.from_dict(t.to_pydict())
    assert out.to_pydict() == ds.map(lambda r: {"n": len(r["s"]) + r["a"]}, remove_columns="a").to_dict()
    assert ops.map_rows(t, lambda r: None, batched=False).to_pydict() == t.to_pydict()
    assert ops.map_rows(t, lambda b: None).to_pydict() == t.to_pydict()


def test_map_changing_row_count():
    t = table(3)
    out = ops.map_rows(t, lambda d: {"a": [x for x in d["a"] for _ in range(2)]}, input_format="dict", remove_columns=["s"])
    assert out.to_pydict() == {"a": [0, 0, 1, 1, 2, 2]}
    whole = ops.map_rows(t, lambda b: b.filter(pc.greater(b.column("a"), 0)), batch_size=None)
    assert whole.to_pydict() == {"a": [1, 2], "s": ["r1", "r2"]}
    with pytest.raises(ValueError, match=r"input columns \['s'\] would not fit"):
        ops.map_rows(t, lambda d: {"a": [1]}, input_format="dict")


def test_map_aligns_types_across_batches_and_skips_empty_tables():
    t = table(4)
    out = ops.map_rows(t, lambda d: {"v": [None] * len(d["a"]) if d["a"][0] == 0 else d["s"]}, input_format="dict", batch_size=2)
    assert out.schema.field("v").type == pa.string()
    assert out.column("v").to_pylist() == [None, None, "r2", "r3"]
    calls = []
    assert ops.map_rows(table(0), lambda b: calls.append(b), remove_columns="s").column_names == ["a"] and calls == []


def test_with_transform_is_lazy_and_applies_on_access():
    calls = []

    def upper(batch: dict) -> dict:
        calls.append(len(batch["s"]))
        return {"S": [x.upper() for x in batch["s"]], "a2": [x * x for x in batch["a"]]}

    view = ops.with_transform(table(5), upper)
    assert calls == [] and len(view) == 5
    assert view[1] == {"S": "R1", "a2": 1}
    assert view[-1] == {"S": "R4", "a2": 16}
    assert view[1:3] == {"S": ["R1", "R2"], "a2": [1, 4]}
    assert view[[4, 0]] == {"S": ["R4", "R0"], "a2": [16, 0]}
    assert view["S"] == ["R0", "R1", "R2", "R3", "R4"]
    assert list(view)[2] == {"S": "R2", "a2": 4}
    assert calls == [1, 1, 2, 2, 5, 5]
    ds = Dataset.from_dict(table(5).to_pydict()).with_transform(upper)
    assert view[1:3] == ds[1:3] and view[2] == ds[2]
    with pytest.raises(IndexError, match="row 5 is out of range"):
        view[5]
    arrow_view = ops.with_transform(table(3), lambda t: {"a": pc.add(t.column("a"), 1)}, columns=["a"], input_format="arrow")
    assert arrow_view[0] == {"a": 1}


# --- dedup ----------------------------------------------------------------------------------


def test_dedup_keeps_first_occurrence_by_uid():
    t = add_uid(pa.table({"q": ["x", "y", "x", "ｘ", "y", "z"], "n": [1, 2, 3, 4, 5, 6]}), ["q"])
    out, dropped = dedup(t)
    # "ｘ" (full width) NFKC-normalizes to "x": same uid.
    assert dropped == 3 and out.column("n").to_pylist() == [1, 2, 6]
    assert duplicate_counts(t.column("uid")) == 3


def test_dedup_columns_modes():
    t = pa.table({"q": ["a", "b", "a", "b"], "r": [1, 2, 3, 2]})
    assert dedup(t, "q")[0].column("r").to_pylist() == [1, 2]
    assert dedup(t, ["q", "r"])[0].column("r").to_pylist() == [1, 2, 3]
    assert dedup(t)[1] == 1  # no uid column: all columns hashed
    same, dropped = dedup(pa.table({"q": ["a", "b"]}))
    assert dropped == 0 and same.num_rows == 2
    with pytest.raises(SchemaError, match="key column 'nope' is not in the table"):
        dedup(t, "nope")
    with pytest.raises(SchemaError, match=r"columns \['zz'\] are not in the table"):
        dedup(t, ["q", "zz"])


def test_first_occurrences_and_counts_with_nulls():
    assert first_occurrences(["b", None, "b", "a", None]).tolist() == [0, 1, 3]
    assert duplicate_counts(["b", None, "b", "a", None]) == 2
    assert duplicate_counts([]) == 0
    assert first_occurrences(pa.chunked_array([[1, 2], [1, 3, 2]])).tolist() == [0, 1, 3]


# --- gather ---------------------------------------------------------------------------------


def test_iter_take_chunks_in_order():
    t = pa.Table.from_batches(table(10).to_batches(max_chunksize=3))
    perm = np.random.default_rng(0).permutation(10)
    batches = list(iter_take(t, perm, chunk_rows=4))
    assert [b.num_rows for b in batches] == [4, 4, 2]
    assert pa.Table.from_batches(batches).column("a").to_pylist() == perm.tolist()
    with pytest.raises(IndexError, match="row index 10 is out of range"):
        iter_take(t, [10])
    with pytest.raises(ValueError, match="chunk_rows must be positive"):
        iter_take(t, [1], chunk_rows=0)
    assert as_indices(range(3, 0, -1), 5).tolist() == [3, 2, 1]


def test_write_take_writes_gathered_rows(tmp_path):
    t = table(9)
    perm = np.random.default_rng(3).permutation(9)
    stats = write_take(tmp_path / "out.arrow", t, perm, chunk_rows=4)
    assert (stats.rows, stats.batches) == (9, 3)
    back = read_table(tmp_path / "out.arrow")
    assert back.schema == t.schema and back.column("a").to_pylist() == perm.tolist()
    empty = write_take(tmp_path / "empty.arrow", t, [])
    assert empty.rows == 0 and read_table(tmp_path / "empty.arrow").schema == t.schema


def test_iter_take_across_many_source_batches_keeps_the_order():
    import numpy as np

    from datasets_pipeline.engine.gather import iter_take

    table = pa.concat_tables([pa.table({"x": np.arange(i * 100, (i + 1) * 100), "s": [f"r{j}" for j in range(i * 100, (i + 1) * 100)]}) for i in range(7)])
    rng = np.random.default_rng(0)
    for n in (1, 5, 700):
        idx = rng.integers(0, 700, n)
        for chunk_rows in (1, 3, 64, 1000, None):
            for workers in (1, 2, 5):
                batches = list(iter_take(table, idx, chunk_rows, workers=workers))
                assert [v for b in batches for v in b.column("x").to_pylist()] == idx.tolist()
                assert [v for b in batches for v in b.column("s").to_pylist()] == [f"r{i}" for i in idx]
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        iter_take(table, [1], workers=0)


def test_write_take_in_parallel_writes_the_same_bytes_as_one_thread(tmp_path):
    t = pa.concat_tables([table(50)] * 8)
    perm = np.random.default_rng(11).permutation(t.num_rows)
    one = write_take(tmp_path / "one.arrow", t, perm, chunk_rows=7, workers=1)
    many = write_take(tmp_path / "many.arrow", t, perm, chunk_rows=7, workers=3)
    assert (one.rows, one.batches) == (many.rows, many.batches) == (400, 58)
    assert (tmp_path / "one.arrow").read_bytes() == (tmp_path / "many.arrow").read_bytes()


def test_write_take_fsyncs_unless_told_not_to(tmp_path, monkeypatch):
    import os

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    t = table(20)
    perm = np.random.default_rng(5).permutation(20)
    write_take(tmp_path / "durable.arrow", t, perm, chunk_rows=6)
    assert len(synced) == 2  # the file, then its folder after the rename
    synced.clear()
    stats = write_take(tmp_path / "scratch.arrow", t, perm, chunk_rows=6, durable=False)
    assert synced == [] and stats.rows == 20
    assert (tmp_path / "scratch.arrow").read_bytes() == (tmp_path / "durable.arrow").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_engine_exports_shadow_no_builtin():
    import builtins

    import datasets_pipeline.engine as engine

    assert not set(engine.__all__) & set(dir(builtins))
    assert not set(ops.__all__) & set(dir(builtins))
    assert {"filter_rows", "map_rows", "load_from_disk", "save_to_disk"} <= set(engine.__all__)
    assert all(callable(getattr(engine, name)) for name in engine.__all__)
