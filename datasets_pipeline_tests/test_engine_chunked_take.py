"""ChunkedTake gives exactly ``Table.take`` on tables of any chunking, type and null pattern."""

from __future__ import annotations

import decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets_pipeline.engine import chunked_take, ipc
from datasets_pipeline.engine.chunked_take import ChunkedTake, OffsetOverflow
from datasets_pipeline.engine.gather import gather, take_table

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])

# (type, strategy of one value, possibly None)
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
COLUMNS = {
    "i64": (pa.int64(), st.none() | st.integers(-(2**63), 2**63 - 1)),
    "i8": (pa.int8(), st.none() | st.integers(-128, 127)),
    "f32": (pa.float32(), st.none() | st.floats(width=32, allow_nan=False)),
    "flag": (pa.bool_(), st.none() | st.booleans()),
    "text": (pa.string(), st.none() | TEXT),
    "big_text": (pa.large_string(), st.none() | TEXT),
    "blob": (pa.binary(), st.none() | st.binary(max_size=20)),
    "fixed5": (pa.binary(5), st.none() | st.binary(min_size=5, max_size=5)),
    "money": (pa.decimal128(12, 3), st.none() | st.decimals(-(10**8), 10**8, places=3, allow_nan=False, allow_infinity=False)),
    "messages": (
        pa.list_(MESSAGE),
        st.none() | st.lists(st.none() | st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": st.none() | TEXT}), max_size=4),
    ),
    "tokens": (pa.large_list(pa.int32()), st.none() | st.lists(st.none() | st.integers(0, 50_000), max_size=6)),
    "pair": (pa.list_(pa.float64(), 2), st.none() | st.lists(st.floats(allow_nan=False), min_size=2, max_size=2)),
    "nested": (pa.list_(pa.list_(pa.string())), st.none() | st.lists(st.none() | st.lists(st.none() | TEXT, max_size=3), max_size=3)),
    "tags": (pa.map_(pa.string(), pa.int64()), st.none() | st.dictionaries(TEXT, st.integers(0, 9), max_size=3).map(lambda d: list(d.items()))),
    "image": (pa.struct([("bytes", pa.binary()), ("path", pa.string())]), st.none() | st.fixed_dictionaries({"bytes": st.none() | st.binary(max_size=30), "path": st.none() | TEXT})),
    "nothing": (pa.null(), st.none()),
    "label": (pa.dictionary(pa.int32(), pa.string()), st.none() | st.sampled_from(["cat", "dog", "fish"])),
}


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    names = draw(st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=5, unique=True))
    n = draw(st.integers(1, 40))
    columns = {}
    for name in names:
        type_, values = COLUMNS[name]
        rows = draw(st.lists(values, min_size=n, max_size=n))
        lead = draw(st.integers(0, 3))  # chunks are slices of a longer array (nonzero offsets)
        full = pa.array([rows[0]] * lead + rows + [rows[-1]], type_)
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
        bounds = [0, *cuts, n]
        columns[name] = pa.chunked_array([full.slice(lead + a, b - a) for a, b in zip(bounds, bounds[1:])], type_)
    return pa.table(columns)


def _expected(table: pa.Table, indices: np.ndarray) -> list[dict]:
    return [table.slice(int(i), 1).to_pylist()[0] for i in indices]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_equals_row_by_row_take(data: st.DataObject) -> None:
    table = data.draw(tables())
    indices = np.array(data.draw(st.lists(st.integers(0, table.num_rows - 1), max_size=60)), dtype=np.int64)
    batches = ChunkedTake(table)(indices)
    out = pa.Table.from_batches(batches, schema=table.schema)
    for batch in batches:
        batch.validate(full=True)
    assert out.schema == table.schema
    assert out.to_pylist() == _expected(table, indices)


def test_nested_chat_rows_across_many_batches_and_sources(tmp_path) -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    words = np.array(["alpha", "beta", "", "gamma delta", "ünïcode ✓"])
    content = pa.array(words[rng.integers(0, len(words), 2 * n)].tolist())
    role = pa.array(np.tile(["user", "assistant"], n).tolist())
    messages = pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), pa.StructArray.from_arrays([role, content], ["role", "content"]))
    base = pa.table({"id": pa.array(np.arange(n)), "messages": messages})
    ipc.write_table(tmp_path / "a.arrow", base, max_chunksize=97)  # memory-mapped, many record batches
    mapped = ipc.read_table(tmp_path / "a.arrow")
    in_memory = base.slice(1000, 3000)
    combined = pa.concat_tables([mapped, in_memory])  # chunks from a file mapping and from the heap
    indices = rng.integers(0, combined.num_rows, 20_000)
    got = gather(combined, indices)
    assert got.column("id").to_numpy().tolist() == combined.column("id").to_numpy()[indices].tolist()
    assert got.column("messages").to_pylist()[:500] == [combined.column("messages")[int(i)].as_py() for i in indices[:500]]
    assert got.equals(combined.combine_chunks().take(indices))


def test_output_is_compact_and_does_not_keep_the_source_alive() -> None:
    table = pa.table({"text": pa.chunked_array([pa.array(["x" * 1000] * 100), pa.array(["y" * 1000] * 100)])})
    out = gather(table, np.array([0, 150]))
    assert out.column("text").to_pylist() == ["x" * 1000, "y" * 1000]
    assert out.nbytes < 2100  # two strings, their offsets, no copy of the 200 kB source
    offsets = np.frombuffer(out.column("text").chunk(0).buffers()[1], dtype=np.int32)
    assert offsets.tolist() == [0, 1000, 2000]


def test_span_copy_ranges_any_order_repeats_and_empty_ranges() -> None:
    data = np.random.default_rng(3).integers(0, 256, 100_000, dtype=np.uint8)
    buffer = pa.py_buffer(data)
    span = chunked_take._Span([buffer], data)
    starts = np.array([90_000, 5, 5, 0, 70_000, 12, 99_990, 5], dtype=np.int64)
    lengths = np.array([1_000, 7, 7, 0, 3, 0, 10, 95_000], dtype=np.int64)
    expected = b"".join(data[s : s + n].tobytes() for s, n in zip(starts, lengths))
    assert span.copy_ranges(starts + span.rel(buffer), lengths).to_pybytes() == expected
    assert span.copy_ranges(starts[:0], lengths[:0]).to_pybytes() == b""


def test_repeated_rows_and_the_same_array_in_two_chunks() -> None:
    part = pa.array(["a", "bb", None, "", "ccc"])
    table = pa.table({"s": pa.chunked_array([part, part, part.slice(1, 3)])})
    indices = np.array([0, 5, 0, 9, 10, 11, 4, 4, 6, 2])
    assert gather(table, indices).column("s").to_pylist() == ["a", "a", "a", "ccc", "bb", None, "ccc", "ccc", "bb", None]


def test_pieces_too_large_for_32_bit_offsets_are_split(monkeypatch) -> None:
    monkeypatch.setattr(chunked_take, "INT32_MAX", 25)
    table = pa.table({"s": pa.array([f"row-{i:04d}" for i in range(40)])})  # 8 bytes each
    batches = ChunkedTake(table)(np.arange(39, -1, -1))
    assert len(batches) >= 2 and all(b.column(0).buffers()[1] is not None for b in batches)
    assert [b.num_rows for b in batches] == [2, 3] * 8  # halved until 3 rows (24 bytes) fit
    assert pa.Table.from_batches(batches).column("s").to_pylist() == [f"row-{i:04d}" for i in range(39, -1, -1)]
    with pytest.raises(OffsetOverflow):
        ChunkedTake(pa.table({"s": pa.array(["x" * 30])}))(np.array([0]))


def test_take_table_checks_indices_and_keeps_the_schema() -> None:
    table = pa.table({"a": [1, 2, 3]}).replace_schema_metadata({"huggingface": "{}"})
    assert take_table(table, [2, 0]).to_pydict() == {"a": [3, 1]}
    assert take_table(table, []).schema == table.schema
    with pytest.raises(IndexError, match="row index 3 is out of range"):
        take_table(table, [3])


def test_decimal_and_unaligned_fixed_width_values() -> None:
    values = [decimal.Decimal("1.250"), None, decimal.Decimal("-3.000")]
    table = pa.table({"d": pa.array(values, pa.decimal128(12, 3)), "f": pa.array([b"abcde", b"fghij", None], pa.binary(5))})
    out = gather(table, np.array([2, 0, 1, 0]))
    assert out.column("d").to_pylist() == [values[2], values[0], None, values[0]]
    assert out.column("f").to_pylist() == [None, b"abcde", b"fghij", b"abcde"]


def test_dictionary_chunks_with_different_dictionaries_are_taken_chunk_by_chunk() -> None:
    first, second = pa.array(["x", "y", "x"]).dictionary_encode(), pa.array(["z", "x"]).dictionary_encode()
    table = pa.table({"d": pa.chunked_array([first, second]), "n": pa.chunked_array([[0, 1, 2], [3, 4]])})
    out = gather(table, np.array([3, 0, 4, 1]))
    assert out.column("d").to_pylist() == ["z", "x", "x", "y"]
    assert out.column("n").to_pylist() == [3, 0, 4, 1]
    assert pa.types.is_dictionary(out.schema.field("d").type)
