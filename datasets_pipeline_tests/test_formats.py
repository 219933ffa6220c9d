"""Data files -> Arrow record batches: every format, compression, exact rows, exact error lines, bounded memory.

Real rows: GSM8K main/test (MIT, (c) 2021 OpenAI) and HumanEval (MIT, (c) OpenAI), bundled in
``datasets_pipeline/demo_data`` (see its ATTRIBUTION.md).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from datasets_pipeline.errors import FormatError
from datasets_pipeline.formats import detect_format, read_batches
from datasets_pipeline.formats.csv import read_csv
from datasets_pipeline.formats.jsonl import read_jsonl
from datasets_pipeline_tests.fixtures_data import GSM8K_MAIN_TEST, HUMANEVAL_TEST, gsm8k_rows, humaneval_rows


def table(batches) -> pa.Table:
    batches = list(batches)
    assert batches, "no batches"
    assert len({b.schema for b in batches}) == 1, "batches of one file must share one schema"
    return pa.Table.from_batches(batches)


def jsonl_bytes(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


# --- detect_format ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("data/train-00000-of-00001.parquet", "parquet"),
        ("test.jsonl", "jsonl"),
        ("x/y.ndjson", "jsonl"),
        ("HumanEval.jsonl.gz", "jsonl"),
        ("a.JSONL.ZST", "jsonl"),
        ("doc.json", "json"),
        ("doc.json.bz2", "json"),
        ("t.csv", "csv"),
        ("t.csv.gz", "csv"),
        ("t.tsv", "tsv"),
    ],
)
def test_detect_format(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name", ["notes.txt", "archive.tar.gz", "README.md", "data.gz"])
def test_detect_format_rejects_unknown(name: str) -> None:
    with pytest.raises(FormatError) as info:
        detect_format(name)
    assert name in str(info.value)
    assert "unsupported data file type" in str(info.value)


# --- Parquet ------------------------------------------------------------------------------------------


def test_parquet_exact_rows_batches_and_metadata(tmp_path: Path) -> None:
    rows = gsm8k_rows("main")
    meta = {b"huggingface": b'{"info": {"features": {"question": {"dtype": "string", "_type": "Value"}}}}'}
    source = pa.Table.from_pylist(rows).replace_schema_metadata(meta)
    path = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(source, path, row_group_size=500)

    batches = list(read_batches(path, batch_rows=300))
    assert all(b.num_rows <= 300 for b in batches)
    assert sum(b.num_rows for b in batches) == 1319
    result = table(batches)
    assert result.to_pylist() == rows
    assert result.schema.metadata[b"huggingface"] == meta[b"huggingface"]


def test_parquet_without_rows_yields_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())}), path)
    batches = list(read_batches(path))
    assert len(batches) == 1 and batches[0].num_rows == 0
    assert batches[0].schema.names == ["a", "b"]


def test_unreadable_parquet_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"this is not parquet at all, just text pretending")
    with pytest.raises(FormatError) as info:
        list(read_batches(path, name="data/train-00000-of-00002.parquet"))
    assert "data/train-00000-of-00002.parquet" in str(info.value)
    assert "not a readable Parquet file" in str(info.value)


def test_truncated_parquet_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.Table.from_pylist(gsm8k_rows("main")), good)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(FormatError) as info:
        list(read_batches(cut))
    assert "cut.parquet" in str(info.value)


def _parquet_peak(path: Path, n: int) -> tuple[int, int]:
    """Write an n-row file as ONE row group; return (table bytes, peak Arrow bytes while streaming it)."""
    big = pa.table(
        {
            "i": np.arange(n),
            "s": pa.array(np.char.add("row-", np.arange(n).astype(str)).astype(object)),
            "x": np.random.default_rng(0).random(n),
        }
    )
    pq.write_table(big, path, row_group_size=n)
    nbytes = big.nbytes
    del big
    base = pa.total_allocated_bytes()
    peak = rows = batches = 0
    for batch in read_batches(path, batch_rows=8192):
        rows += batch.num_rows
        batches += 1
        peak = max(peak, pa.total_allocated_bytes() - base)
        del batch
    assert rows == n and batches == -(-n // 8192)
    return nbytes, peak


def test_parquet_streams_with_bounded_memory(tmp_path: Path) -> None:
    _, small_peak = _parquet_peak(tmp_path / "small.parquet", 300_000)
    nbytes, peak = _parquet_peak(tmp_path / "big.parquet", 1_200_000)
    # a 4x larger row group does not raise the peak: memory follows pages and batches, not the file
    assert peak < 1.25 * small_peak + (1 << 20), (peak, small_peak)
    assert peak < nbytes / 3, (peak, nbytes)


# --- JSON Lines -------------------------------------------------------------------------------------


def test_jsonl_real_file_exact_rows() -> None:
    result = table(read_batches(GSM8K_MAIN_TEST, batch_rows=500))
    assert result.num_rows == 1319
    assert result.schema == pa.schema([("question", pa.string()), ("answer", pa.string())])
    assert result.to_pylist() == gsm8k_rows("main")
    assert result["answer"][0].as_py().endswith("#### 18")


def test_jsonl_gz_real_file_exact_rows() -> None:
    result = table(read_batches(HUMANEVAL_TEST))
    assert result.num_rows == 164
    assert result.to_pylist() == humaneval_rows()
    assert result["task_id"][163].as_py() == "HumanEval/163"


@pytest.mark.parametrize("suffix", [".jsonl.zst", ".jsonl.bz2", ".jsonl.gz"])
def test_jsonl_compressed_multi_frame(tmp_path: Path, suffix: str) -> None:
    rows = gsm8k_rows("main")[:300]
    parts = [jsonl_bytes(rows[:100]), jsonl_bytes(rows[100:])]
    compress = {
        ".jsonl.zst": zstandard.ZstdCompressor().compress,
        ".jsonl.bz2": bz2.compress,
        ".jsonl.gz": gzip.compress,
    }[suffix]
    path = tmp_path / f"part{suffix}"
    path.write_bytes(b"".join(compress(p) for p in parts))  # two frames / members
    codec = {".jsonl.zst": "zstd", ".jsonl.bz2": "bz2", ".jsonl.gz": "gzip"}[suffix]
    assert table(read_jsonl(path, name=path.name, codec=codec, block_size=4096)).to_pylist() == rows
    assert table(read_batches(path)).to_pylist() == rows


def test_jsonl_type_drift_across_blocks_is_unified(tmp_path: Path) -> None:
    first = [{"a": None, "n": 1, "s": {"x": 1}, "m": [], "d": "2020-01-01"} for _ in range(200)]
    later = [
        {"a": "text", "n": 2.5, "s": {"x": 2, "y": "new"}, "m": [{"role": "user", "content": "hi"}], "d": "not a date", "z": True}
        for _ in range(200)
    ]
    path = tmp_path / "drift.jsonl"
    path.write_bytes(jsonl_bytes(first + later))
    batches = list(read_jsonl(path, name="drift.jsonl", block_size=2048, batch_rows=64))
    assert len(batches) > 5
    result = table(batches)
    assert result.schema == pa.schema(
        [
            ("a", pa.string()),
            ("n", pa.float64()),
            ("s", pa.struct([("x", pa.int64()), ("y", pa.string())])),
            ("m", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("d", pa.string()),
            ("z", pa.bool_()),
        ]
    )
    assert result.slice(199, 2).to_pylist() == [
        {"a": None, "n": 1.0, "s": {"x": 1, "y": None}, "m": [], "d": "2020-01-01", "z": None},
        {"a": "text", "n": 2.5, "s": {"x": 2, "y": "new"}, "m": [{"role": "user", "content": "hi"}], "d": "not a date", "z": True},
    ]
    # same rows whatever the block size (one block: single pass)
    assert table(read_jsonl(path, name="drift.jsonl")).equals(result)


def write_with_bad_line(path: Path, good: list[dict], bad: bytes, at: int, blank_lines: int = 0) -> int:
    """Write ``good`` rows with ``bad`` as line ``at`` (1-based) after ``blank_lines`` blank lines; return ``at``."""
    lines = [json.dumps(r).encode() for r in good]
    lines = [b""] * blank_lines + lines
    lines.insert(at - 1, bad)
    data = b"\n".join(lines) + b"\n"
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return at


@pytest.mark.parametrize("block_size", [512, 1 << 20])
@pytest.mark.parametrize(
    "bad, reason",
    [
        (b'{"question": "q", "answer": oops}', "Expecting value"),
        (b'{"question": "unterminated', "Unterminated string"),
        (b'["an", "array"]', "expected a JSON object, got a JSON array"),
        (b"42", "expected a JSON object, got a JSON number"),
        (b'{"question": "q", "answer": "\xff\xfe"}', "invalid UTF-8"),
    ],
)
def test_jsonl_malformed_line_names_file_and_line(tmp_path: Path, block_size: int, bad: bytes, reason: str) -> None:
    rows = gsm8k_rows("main")[:60]
    path = tmp_path / "test-00000-of-00001.jsonl"
    line = write_with_bad_line(path, rows, bad, at=47, blank_lines=3)
    with pytest.raises(FormatError) as info:
        list(read_jsonl(path, name="main/test-00000-of-00001.jsonl", block_size=block_size))
    text = str(info.value)
    assert "main/test-00000-of-00001.jsonl" in text
    assert f"at line {line}:" in text
    assert reason in text


def test_jsonl_gz_malformed_line_number(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    write_with_bad_line(path, gsm8k_rows("main")[:500], b"{broken", at=321)
    with pytest.raises(FormatError, match=r"invalid JSON Lines record at line 321: Expecting property name .*x\.jsonl\.gz'\]$"):
        list(read_batches(path))


@pytest.mark.parametrize("block_size", [64, 1 << 20])
def test_jsonl_kind_conflict_names_column_and_line(tmp_path: Path, block_size: int) -> None:
    path = tmp_path / "kinds.jsonl"
    path.write_bytes(b'{"a": 1}\n' * 30 + b'{"a": null}\n' + b'{"a": "one"}\n' + b'{"a": 2}\n')
    with pytest.raises(FormatError) as info:
        list(read_jsonl(path, name="kinds.jsonl", block_size=block_size))
    assert "line 32" in str(info.value)
    assert "'a'" in str(info.value)
    assert "kinds.jsonl" in str(info.value)


def test_jsonl_nested_kind_conflict_line(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    good = b'{"m": [{"role": "user", "content": "x"}]}\n'
    path.write_bytes(good * 5 + b'{"m": [{"role": "user", "content": 7}]}\n' + good)
    with pytest.raises(FormatError, match=r"line 6: column 'm\[\]/content' changes from string to number"):
        list(read_batches(path))


def test_jsonl_streams_with_bounded_memory(tmp_path: Path) -> None:
    rows = gsm8k_rows("main")
    path = tmp_path / "big.jsonl"
    data = jsonl_bytes(rows) * 6  # ~4.5 MB, 7914 rows
    path.write_bytes(data)
    base = pa.total_allocated_bytes()
    peak = total = 0
    for batch in read_jsonl(path, name="big.jsonl", block_size=256 << 10, batch_rows=1000):
        assert batch.num_rows <= 1000
        total += batch.num_rows
        peak = max(peak, pa.total_allocated_bytes() - base)
        del batch
    assert total == 1319 * 6
    assert peak < len(data) / 4, (peak, len(data))


def test_empty_jsonl_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n\n")
    assert list(read_batches(path)) == []


# --- JSON documents ------------------------------------------------------------------------------------


def test_json_top_level_list(tmp_path: Path) -> None:
    rows = humaneval_rows()[:20]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(rows, indent=2))
    assert table(read_batches(path, batch_rows=7)).to_pylist() == rows


def test_json_object_with_one_list_field(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.json.gz"
    doc = {"version": "1.0", "data": [{"q": "a", "n": 1}, {"q": None, "n": 2.5, "extra": [1, 2]}]}
    path.write_bytes(gzip.compress(json.dumps(doc, indent=1).encode()))
    result = table(read_batches(path))
    assert result.to_pylist() == [{"q": "a", "n": 1.0, "extra": None}, {"q": None, "n": 2.5, "extra": [1, 2]}]


def test_json_list_of_strings_is_a_text_column(tmp_path: Path) -> None:
    path = tmp_path / "lines.json"
    path.write_text('["first", "second"]')
    assert table(read_batches(path)).to_pylist() == [{"text": "first"}, {"text": "second"}]


def test_json_file_holding_json_lines(tmp_path: Path) -> None:
    rows = gsm8k_rows("main")[:50]
    path = tmp_path / "train.json"
    path.write_bytes(jsonl_bytes(rows))
    assert table(read_batches(path)).to_pylist() == rows


def test_json_single_object_is_one_row(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text('{"a": [1, 2], "b": "x"}\n')
    assert table(read_batches(path)).to_pylist() == [{"a": [1, 2], "b": "x"}]


def test_json_document_error_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"q": 1},\n  {"q": 2,}\n]\n')
    with pytest.raises(FormatError) as info:
        list(read_batches(path, name="data/bad.json"))
    assert str(info.value).startswith("invalid JSON document at line 3, column 11: Expecting property name")
    assert "data/bad.json" in str(info.value)


# --- CSV ---------------------------------------------------------------------------------------------


def test_csv_exact_rows_and_types(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,text,score\n1,plain,0.5\n2,"quoted, with comma",\n3,"multi\nline",2\n')
    result = table(read_batches(path))
    assert result.schema == pa.schema([("id", pa.int64()), ("text", pa.string()), ("score", pa.float64())])
    assert result.to_pylist() == [
        {"id": 1, "text": "plain", "score": 0.5},
        {"id": 2, "text": "quoted, with comma", "score": None},
        {"id": 3, "text": "multi\nline", "score": 2.0},
    ]


def test_tsv_and_compressed_csv(tmp_path: Path) -> None:
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\nx\t1\ny\t\n")
    assert table(read_batches(tsv)).to_pylist() == [{"a": "x", "b": 1}, {"a": "y", "b": None}]
    gz = tmp_path / "t.csv.zst"
    gz.write_bytes(zstandard.ZstdCompressor().compress(b"a,b\nx,1\n"))
    assert table(read_batches(gz)).to_pylist() == [{"a": "x", "b": 1}]


def test_csv_bad_row_names_file_and_physical_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('a,b\n1,x\n2,"multi\nline"\n\n3,y,z\n4,w\n')
    with pytest.raises(FormatError) as info:
        list(read_batches(path, name="data/bad.csv"))
    assert str(info.value) == "malformed CSV row at line 6: expected 2 fields, got 3 [file 'data/bad.csv']"


def test_csv_bad_row_in_a_later_block(tmp_path: Path) -> None:
    lines = ["a,b"] + [f"{i},v{i}" for i in range(3000)]
    lines.insert(2500, "oops")
    path = tmp_path / "later.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(FormatError, match=r"malformed CSV row at line 2501: expected 2 fields, got 1"):
        list(read_csv(path, name="later.csv.gz", codec="gzip", block_size=4096))


def test_csv_type_drift_across_blocks_is_widened(tmp_path: Path) -> None:
    lines = ["i,label,empty"] + [f"{k},x{k}," for k in range(2000)] + ["2.5,y,1", "many,z,word"]
    path = tmp_path / "drift.csv"
    path.write_text("\n".join(lines) + "\n")
    batches = list(read_csv(path, name="drift.csv", block_size=2048, batch_rows=256))
    assert all(b.num_rows <= 256 for b in batches)
    result = table(batches)
    assert result.schema == pa.schema([("i", pa.string()), ("label", pa.string()), ("empty", pa.string())])
    assert result.num_rows == 2002
    assert result.slice(1999).to_pylist() == [
        {"i": "1999", "label": "x1999", "empty": None},
        {"i": "2.5", "label": "y", "empty": "1"},
        {"i": "many", "label": "z", "empty": "word"},
    ]


def test_csv_int_to_float_drift(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("v\n" + "".join(f"{k}\n" for k in range(3000)) + "0.25\n")
    result = table(read_csv(path, name="f.csv", block_size=1024))
    assert result.schema == pa.schema([("v", pa.float64())])
    assert result["v"].to_pylist()[-2:] == [2999.0, 0.25]


def test_csv_header_only_keeps_columns(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    batches = list(read_batches(path))
    assert len(batches) == 1 and batches[0].num_rows == 0 and batches[0].schema.names == ["a", "b"]


def test_name_picks_the_format_for_extensionless_paths(tmp_path: Path) -> None:
    blob = tmp_path / "5f3a9c"
    blob.write_bytes(gzip.compress(b'{"k": 1}\n{"k": 2}\n'))
    assert table(read_batches(blob, name="data/x.jsonl.gz")).to_pylist() == [{"k": 1}, {"k": 2}]


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="data file not found"):
        list(read_batches(tmp_path / "nope.jsonl"))


def test_batch_rows_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        read_batches(tmp_path / "x.jsonl", batch_rows=0)


def test_bytesio_roundtrip_of_all_formats_agree(tmp_path: Path) -> None:
    rows = [{"a": i, "b": f"s{i}"} for i in range(10)]
    (tmp_path / "r.jsonl").write_bytes(jsonl_bytes(rows))
    (tmp_path / "r.json").write_text(json.dumps(rows))
    (tmp_path / "r.csv").write_text("a,b\n" + "".join(f"{r['a']},{r['b']}\n" for r in rows))
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    (tmp_path / "r.parquet").write_bytes(sink.getvalue())
    for name in ("r.jsonl", "r.json", "r.csv", "r.parquet"):
        assert table(read_batches(tmp_path / name)).to_pylist() == rows, name


def test_parquet_row_groups_decoded_in_parallel_keep_file_order(tmp_path: Path) -> None:
    import threading

    n = 10_000
    source = pa.table({"i": np.arange(n), "s": pa.array([f"row {i}" for i in range(n)])})
    path = tmp_path / "groups.parquet"
    pq.write_table(source, path, row_group_size=700)  # 15 row groups, the last one short
    batches = list(read_batches(path, batch_rows=256))
    assert all(b.num_rows <= 256 for b in batches)
    assert table(batches).equals(source)

    # Closing a stream early stops its decoder threads.
    stream = read_batches(path, batch_rows=256)
    assert next(stream).column("i").to_pylist()[:3] == [0, 1, 2]
    stream.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("parquet-row-group-")]


def test_corrupt_row_group_names_the_file_and_the_rows_before_it(tmp_path: Path) -> None:
    n = 4_000
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"s": pa.array([f"value {i:06d}" * 4 for i in range(n)])}), path, row_group_size=1000,
                   compression="snappy")  # fmt: skip
    meta = pq.ParquetFile(path).metadata
    start = meta.row_group(2).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 20 : start + 200] = b"\xff" * 180  # garble the third row group's first page
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError) as info:
        list(read_batches(path, name="data/bad.parquet", batch_rows=500))
    assert "data/bad.parquet" in str(info.value)
    assert "corrupt Parquet data after row 2000" in str(info.value)
