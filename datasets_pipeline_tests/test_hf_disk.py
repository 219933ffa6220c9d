"""The ``save_to_disk`` layout: written with pyarrow, checked against ``datasets`` 5.2 itself."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest
from datasets import ClassLabel, DatasetDict, Features, Image, List, Sequence, Value
from PIL import Image as PILImage

from datasets_pipeline.engine import hf_disk
from datasets_pipeline.engine import hf_features as hf
from datasets_pipeline.engine.versioned_dir import list_versions, publish_dir, resolve_dir
from datasets_pipeline.errors import FormatError, SchemaError

datasets.disable_progress_bars()

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


def png(width: int, height: int, color: str) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_folders(ours: Path, theirs: Path) -> None:
    """Same files, byte for byte, except the fingerprint line of state.json."""
    a, b = files_of(ours), files_of(theirs)
    assert sorted(a) == sorted(b)
    for name in a:
        if name.endswith("state.json"):
            sa, sb = json.loads(a[name]), json.loads(b[name])
            assert len(sa.pop("_fingerprint")) == len(sb.pop("_fingerprint")) == 16
            assert sa == sb, name
        else:
            assert a[name] == b[name], name


def batch_rows(path: Path) -> list[int]:
    with pa.memory_map(str(path)) as source:
        return [b.num_rows for b in pa.ipc.open_stream(source)]


def hf_save(tables: dict[str, pa.Table], path: Path, **kwargs) -> None:
    DatasetDict({k: datasets.Dataset(t, split=k) for k, t in tables.items()}).save_to_disk(str(path), **kwargs)


def chat_table(n: int) -> pa.Table:
    messages = [
        [{"role": "user", "content": f"question {i} " * (i % 7 + 1)}, {"role": "assistant", "content": "ok " * (i % 5)}]
        for i in range(n)
    ]
    return pa.table({"messages": pa.array(messages, pa.list_(MESSAGE))})


# --- a worked example: one DatasetDict saved by both libraries ------------------------------------------

WORKED_FEATURES = Features(
    {
        "text": Value("string"),
        "label": ClassLabel(names=["neg", "pos"]),
        "messages": List({"role": Value("string"), "content": Value("string")}),
        "tags": Sequence(Value("int32")),
        "image": Image(),
    }
)


def worked_example() -> DatasetDict:
    train = datasets.Dataset.from_dict(
        {
            "text": ["I loved this film, the acting was superb.", "Terrible plot and wooden dialogue.",
                     "A pleasant surprise from start to finish!"],  # fmt: skip
            "label": [1, 0, 1],
            "messages": [[{"role": "user", "content": "Rate it."}, {"role": "assistant", "content": "5/5"}], [],
                         [{"role": "user", "content": "Why?"}]],  # fmt: skip
            "tags": [[1, 2], [3], []],
            "image": [{"bytes": png(2, 2, "red"), "path": "/data/img/pix.png"}, None,
                      {"bytes": png(3, 1, "blue"), "path": None}],  # fmt: skip
        },
        features=WORKED_FEATURES,
        split="train",
    )
    test = datasets.Dataset.from_dict(
        {
            "text": ["Not my cup of tea.", "Two hours I will never get back; the sound mixing was awful and the "
                     "script even worse, sadly. I left before the credits rolled."],  # fmt: skip
            "label": [0, 0],
            "messages": [[], [{"role": "user", "content": "Hi"}]],
            "tags": [[7], []],
            "image": [None, {"bytes": png(1, 1, "green"), "path": "g.png"}],
        },
        features=WORKED_FEATURES,
    )
    return DatasetDict({"train": train, "test": test})


def test_worked_example_matches_the_library_file_for_file(tmp_path: Path) -> None:
    dd = worked_example()
    dd.save_to_disk(str(tmp_path / "theirs"))
    tables = {k: d.data.table for k, d in dd.items()}
    stats = hf_disk.save_dataset_dict(tables, tmp_path / "ours", split_names={"train": "train", "test": None})

    sizes = {k: len(v) for k, v in files_of(tmp_path / "ours").items()}
    assert sizes == {
        "dataset_dict.json": 29,
        "test/data-00000-of-00001.arrow": 2088,
        "test/dataset_info.json": 684,
        "test/state.json": 247,
        "train/data-00000-of-00001.arrow": 2208,
        "train/dataset_info.json": 684,
        "train/state.json": 250,
    }
    assert_same_folders(tmp_path / "ours", tmp_path / "theirs")
    with pa.memory_map(str(tmp_path / "ours/train/data-00000-of-00001.arrow")) as source:
        messages = list(pa.ipc.MessageReader.open_stream(source))
    assert [(m.type, m.metadata.size, m.body.size if m.body else 0) for m in messages] == [
        ("schema", 0x3F8, 0), ("record batch", 664, 504)
    ]  # fmt: skip
    assert (tmp_path / "ours/dataset_dict.json").read_text() == '{"splits": ["train", "test"]}'
    state = json.loads((tmp_path / "ours/test/state.json").read_text())
    assert state["_split"] is None and state["_data_files"] == [{"filename": "data-00000-of-00001.arrow"}]
    assert stats.splits["train"].shard_rows == (3,) and stats.num_rows == 5

    loaded = datasets.load_from_disk(str(tmp_path / "ours"))
    reference = datasets.load_from_disk(str(tmp_path / "theirs"))
    assert list(loaded) == ["train", "test"]
    for name in ("train", "test"):
        assert loaded[name].features == WORKED_FEATURES
        assert loaded[name].data.table.to_pylist() == reference[name].data.table.to_pylist()
    assert loaded["test"].data.table.to_pylist() == dd["test"].data.table.to_pylist()
    assert loaded["train"].split == "train" and loaded["test"].split is None
    assert loaded["train"][0]["image"].size == (2, 2)
    assert loaded["train"][2]["image"].size == (3, 1)
    assert loaded["train"].data.table.column("image")[0].as_py()["path"] == "pix.png"  # basename, as embedded


# --- features ------------------------------------------------------------------------------------------------


def test_feature_json_and_arrow_types_agree_with_the_library() -> None:
    features = Features(
        {
            "s": Value("string"), "ls": Value("large_string"), "i8": Value("int8"), "u64": Value("uint64"),
            "f": Value("float32"), "d": Value("float64"), "b": Value("bool"), "bin": Value("binary"),
            "ts": Value("timestamp[ms]"), "tz": Value("timestamp[us, tz=UTC]"), "dec": Value("decimal128(10, 2)"),
            "date": Value("date32"), "dur": Value("duration[s]"), "t": Value("time64[us]"),
            "label": ClassLabel(names=["a", "b", "c"]), "n": ClassLabel(num_classes=3),
            "seq": Sequence(Value("int32")), "fixed": List(Value("float32"), length=3),
            "msgs": List({"role": Value("string"), "content": Value("string")}),
            "sd": Sequence({"a": Value("int64"), "b": Value("string")}),
            "large": datasets.LargeList(Value("string")), "plain": {"x": Value("bool"), "y": List(Value("int8"))},
            "img": Image(), "img2": Image(decode=False, mode="RGB"),
        }
    )  # fmt: skip
    as_json = features.to_dict()
    assert hf.features_type(as_json) == features.type
    assert hf.features_schema(as_json) == features.arrow_schema
    assert hf.features_schema(as_json).metadata == features.arrow_schema.metadata
    assert hf.schema_metadata(as_json) == {b"huggingface": features.arrow_schema.metadata[b"huggingface"]}
    assert hf.normalize_features(as_json) == as_json
    inferred = Features.from_arrow_schema(pa.schema(features.type))  # no metadata: inference
    assert hf.features_from_schema(pa.schema(features.type)) == inferred.to_dict()
    assert hf.features_from_schema(features.arrow_schema) == as_json  # metadata kept (ClassLabel, Image)
    assert hf.class_label(["neg", "pos"]) == {"names": ["neg", "pos"], "_type": "ClassLabel"}
    assert hf.image() == {"_type": "Image"} and hf.value("double") == {"dtype": "float64", "_type": "Value"}
    assert hf.image(mode="RGB", decode=False) == {"mode": "RGB", "decode": False, "_type": "Image"}


def test_features_from_schema_uses_only_consistent_metadata() -> None:
    meta = hf.schema_metadata({"label": hf.class_label(["x", "y"]), "image": hf.image(), "gone": hf.value("int8")})
    schema = pa.schema([("label", pa.string()), ("image", hf.MEDIA_STORAGE), ("other", pa.dictionary(pa.int8(), pa.string()))],
                       metadata=meta)  # fmt: skip
    assert hf.features_from_schema(schema) == {
        "label": {"dtype": "string", "_type": "Value"},  # metadata says ClassLabel, data is a string: inferred
        "image": {"_type": "Image"},
        "other": {"dtype": "string", "_type": "Value"},
    }
    # without metadata a struct<bytes, path> is a plain struct, never an Image
    assert hf.features_from_schema(pa.schema([("image", hf.MEDIA_STORAGE)])) == {
        "image": {"bytes": {"dtype": "binary", "_type": "Value"}, "path": {"dtype": "string", "_type": "Value"}}
    }
    with pytest.raises(SchemaError, match="feature type 'Nope' not found"):
        hf.features_type({"a": {"_type": "Nope"}})
    with pytest.raises(SchemaError, match="unknown Value dtype 'int65'"):
        hf.value("int65")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"{not json", "malformed huggingface schema metadata: not JSON"),
        (b'{"info": {"features": ["label"]}}', 'malformed huggingface schema metadata: no {"info": {"features": {...}}} mapping'),
        (b'{"info": {}}', 'malformed huggingface schema metadata: no {"info": {"features": {...}}} mapping'),
        (b'{"info": {"features": {"label": {"_type": "ClassLabel"}}}}', "malformed huggingface schema metadata: ClassLabel needs names"),
    ],
)
def test_malformed_features_metadata_is_an_error(raw: bytes, message: str) -> None:
    from datasets_pipeline.steps.validate import num_classes

    schema = pa.schema([("label", pa.int64())], metadata={b"huggingface": raw})
    readers = [hf.metadata_features, hf.features_from_schema, lambda s: hf.class_label_names(s, "label"), num_classes]
    for read in readers:
        with pytest.raises(SchemaError) as err:
            read(schema)
        assert str(err.value).startswith(message)
    table = pa.Table.from_pydict({"label": [0]}, schema=schema)
    with pytest.raises(SchemaError, match="malformed huggingface schema metadata"):
        hf_disk.save_dataset_dict({"train": table}, "memory://malformed/dd")
    # without the block, features are inferred; with a good one, ClassLabel names are read
    assert hf.features_from_schema(pa.schema([("label", pa.int64())])) == {"label": hf.value("int64")}
    good = pa.schema([("label", pa.int64())], metadata=hf.schema_metadata({"label": hf.class_label(["a", "b"])}))
    assert hf.class_label_names(good, "label") == ["a", "b"] and num_classes(good) == 2


def test_legacy_spellings_are_normalized() -> None:
    legacy = {
        "tags": {"feature": {"dtype": "int32", "id": None, "_type": "Value"}, "length": -1, "_type": "Sequence"},
        "messages": [{"role": {"dtype": "string", "_type": "Value"}, "content": {"dtype": "string", "_type": "Value"}}],
        "sd": {"feature": {"a": {"dtype": "int64", "_type": "Value"}}, "_type": "Sequence"},
        "label": {"num_classes": 2, "names": ["n", "p"], "names_file": None, "id": None, "_type": "ClassLabel"},
    }
    assert hf.normalize_features(legacy) == {
        "tags": {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "List"},
        "messages": {"feature": {"role": {"dtype": "string", "_type": "Value"},
                                 "content": {"dtype": "string", "_type": "Value"}}, "_type": "List"},  # fmt: skip
        "sd": {"a": {"feature": {"dtype": "int64", "_type": "Value"}, "_type": "List"}},
        "label": {"names": ["n", "p"], "_type": "ClassLabel"},
    }
    assert hf.features_type(legacy) == pa.struct(
        [("tags", pa.list_(pa.int32())), ("messages", pa.list_(MESSAGE)), ("sd", pa.struct([("a", pa.list_(pa.int64()))])),
         ("label", pa.int64())]
    )  # fmt: skip


# --- round trips through datasets.load_from_disk -----------------------------------------------------------


def test_value_types_and_binary_batches_match_the_library(tmp_path: Path) -> None:
    n = 250
    table = pa.table(
        {
            "s": pa.array([f"row {i}" for i in range(n)]),
            "ls": pa.array([None if i % 9 == 0 else "é" * (i % 4) for i in range(n)], pa.large_string()),
            "i8": pa.array([i % 100 for i in range(n)], pa.int8()),
            "u32": pa.array(range(n), pa.uint32()),
            "f32": pa.array([i / 4 for i in range(n)], pa.float32()),
            "f64": pa.array([i / 3 for i in range(n)], pa.float64()),
            "b": pa.array([i % 2 == 0 for i in range(n)]),
            "bin": pa.array([bytes([i % 256]) * (i % 5) for i in range(n)], pa.binary()),
            "ts": pa.array(range(n), pa.timestamp("ms")),
            "ints": pa.array([list(range(i % 4)) for i in range(n)], pa.list_(pa.int64())),
        }
    )
    stats = hf_disk.save_dataset_dict({"train": table}, tmp_path / "ours")
    hf_save({"train": table}, tmp_path / "theirs")
    assert_same_folders(tmp_path / "ours", tmp_path / "theirs")
    assert batch_rows(tmp_path / "ours/train/data-00000-of-00001.arrow") == [100, 100, 50]  # binary: 100-row batches
    loaded = datasets.load_from_disk(str(tmp_path / "ours"))["train"]
    assert loaded.features.to_dict() == stats.splits["train"].features
    assert loaded.features["ls"] == Value("large_string") and loaded.features["bin"] == Value("binary")
    assert loaded.data.table.to_pylist() == table.to_pylist()
    assert hf_disk.load_dataset_dict(tmp_path / "ours")["train"].to_pylist() == table.to_pylist()


def test_class_label_and_messages_round_trip(tmp_path: Path) -> None:
    features = {"messages": hf.list_of({"role": hf.value("string"), "content": hf.value("string")}),
                "label": hf.class_label(["neg", "pos"])}  # fmt: skip
    table = pa.table({"messages": chat_table(5).column("messages"), "label": pa.array([0, 1, 1, 0, 1], pa.int32())})
    hf_disk.save_dataset_dict({"train": table, "validation": table.slice(1, 2)}, tmp_path / "dd", features=features)
    loaded = datasets.load_from_disk(str(tmp_path / "dd"))
    assert loaded["train"].features == Features(
        {"messages": List({"role": Value("string"), "content": Value("string")}), "label": ClassLabel(names=["neg", "pos"])}
    )
    assert loaded["train"].features["label"].int2str(1) == "pos"
    assert loaded["train"].data.table.schema.field("label").type == pa.int64()  # ClassLabel storage is int64
    assert loaded["validation"].to_list() == table.slice(1, 2).to_pylist()
    ours = hf_disk.load_dataset_dict(tmp_path / "dd")
    assert ours["train"].to_pylist() == table.to_pylist()
    assert hf.features_from_schema(ours["train"].schema) == features  # ClassLabel names survive our loader
    assert hf_disk.read_features(tmp_path / "dd", split="validation") == features


def test_images_embed_like_the_library(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    on_disk = tmp_path / "files" / "blue.png"
    on_disk.write_bytes(png(7, 5, "blue"))
    images = [{"bytes": png(2 + i % 3, 3, "red"), "path": f"/abs/dir/{i}.png" if i % 2 else None} for i in range(249)]
    images.append({"bytes": None, "path": str(on_disk)})  # path-only local file: embedded
    table = pa.table({"image": pa.array(images, hf.MEDIA_STORAGE), "label": pa.array([i % 3 for i in range(250)])})
    table = table.replace_schema_metadata(hf.schema_metadata({"image": hf.image(), "label": hf.class_label("abc")}))
    hf_disk.save_dataset_dict({"train": table}, tmp_path / "ours", max_shard_size="20KB")
    hf_save({"train": table}, tmp_path / "theirs", max_shard_size="20KB")
    assert_same_folders(tmp_path / "ours", tmp_path / "theirs")
    shards = sorted((tmp_path / "ours/train").glob("*.arrow"))
    assert [p.name for p in shards] == ["data-00000-of-00002.arrow", "data-00001-of-00002.arrow"]
    assert [batch_rows(p) for p in shards] == [[100, 25], [100, 25]]
    loaded = datasets.load_from_disk(str(tmp_path / "ours"))["train"]
    assert loaded.features["image"] == Image()
    assert loaded[0]["image"].size == (2, 3) and loaded[4]["image"].size == (3, 3)
    assert loaded[249]["image"].size == (7, 5)
    paths = loaded.data.table.column("image").combine_chunks().field("path").to_pylist()
    assert paths[:3] == [None, "1.png", None] and paths[249] == "blue.png"


def test_empty_split_is_one_loadable_shard(tmp_path: Path) -> None:
    empty = chat_table(0)
    stats = hf_disk.save_dataset_dict({"train": chat_table(3), "test": empty}, tmp_path / "ours")
    assert stats.splits["test"].files == ("data-00000-of-00001.arrow",) and stats.splits["test"].shard_rows == (0,)
    hf_save({"train": chat_table(3), "test": empty}, tmp_path / "theirs", num_shards={"train": 1, "test": 1})
    assert_same_folders(tmp_path / "ours", tmp_path / "theirs")
    loaded = datasets.load_from_disk(str(tmp_path / "ours"))
    assert loaded["test"].num_rows == 0 and loaded["test"].features == loaded["train"].features
    # the library itself writes no shard for a 0-row split (then cannot load it): we still read it
    hf_save({"test": empty}, tmp_path / "zero")
    assert json.loads((tmp_path / "zero/test/state.json").read_text())["_data_files"] == []
    zero = hf_disk.load_dataset_dict(tmp_path / "zero")["test"]
    assert zero.num_rows == 0 and zero.schema.field("messages").type == pa.list_(MESSAGE)


@pytest.mark.parametrize("max_shard_size", ["10KB", 30_000, "1KiB", "80kb"])
def test_shards_and_batches_match_save_to_disk(tmp_path: Path, max_shard_size: int | str) -> None:
    chat = chat_table(2500)
    # several input record batches, so write chunks straddle them as in the library
    table = pa.Table.from_batches(chat.to_batches(max_chunksize=700))
    test = chat_table(10)
    hf_disk.save_dataset_dict({"train": table, "test": test}, tmp_path / "ours", max_shard_size=max_shard_size)
    hf_save({"train": table, "test": test}, tmp_path / "theirs", max_shard_size=max_shard_size)
    assert_same_folders(tmp_path / "ours", tmp_path / "theirs")
    n = hf_disk.shard_count(2500, table.nbytes, max_shard_size)
    assert n > 1 and len(list((tmp_path / "ours/train").glob("*.arrow"))) == n
    loaded = datasets.load_from_disk(str(tmp_path / "ours"))
    assert loaded["train"].data.table.to_pylist() == chat.to_pylist()


def test_shard_rows_num_shards_and_batches(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array(range(10))})
    stats = hf_disk.save_to_disk(table, tmp_path / "ds", num_shards=3)
    assert stats.shard_rows == (4, 3, 3)
    datasets.Dataset(table).save_to_disk(str(tmp_path / "lib"), num_shards=3)
    assert_same_folders(tmp_path / "ds", tmp_path / "lib")
    assert datasets.load_from_disk(str(tmp_path / "ds"))["x"] == list(range(10))
    big = pa.table({"x": pa.array(range(2500))})
    hf_disk.save_to_disk(big, tmp_path / "big")
    assert batch_rows(tmp_path / "big/data-00000-of-00001.arrow") == [1000, 1000, 500]
    assert hf_disk.shard_bounds(10, 3).tolist() == [0, 4, 7, 10]
    assert hf_disk.shard_count(1120 // 112, 1120, 500) == 3
    assert [hf_disk.parse_size(s) for s in ("500MB", "1MiB", "8Mb", "2KB", 7)] == [500_000_000, 2**20, 1_000_000, 2000, 7]
    with pytest.raises(ValueError, match="one `num_shards` per dataset"):
        hf_disk.save_dataset_dict({"train": table}, tmp_path / "bad", num_shards=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_shards=11 must be between 1 and the number of rows"):
        hf_disk.save_to_disk(table, tmp_path / "bad2", num_shards=11)


@pytest.mark.parametrize("direct", [False, True], ids=["page-cache", "direct-io"])
def test_durable_save_fsyncs_every_shard_and_writes_the_same_bytes(tmp_path: Path, monkeypatch, direct: bool) -> None:
    if direct:  # shards past their first 4 KiB written with O_DIRECT, in 8 KiB blocks
        from datasets_pipeline.engine import direct_io

        monkeypatch.setattr(direct_io, "DIRECT_AFTER", 4096)
        monkeypatch.setattr(direct_io, "BLOCK", 8192)
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd))[1])
    table = chat_table(300)
    hf_disk.save_dataset_dict({"train": table, "test": (table, np.arange(299, -1, -3))}, tmp_path / "plain", num_shards={"train": 3})
    assert synced == []
    hf_disk.save_dataset_dict(
        {"train": table, "test": (table, np.arange(299, -1, -3))}, tmp_path / "durable", num_shards={"train": 3},
        fingerprints={"train": "0123456789abcdef"}, durable=True,
    )
    assert sorted(Path(p).relative_to(tmp_path / "durable").as_posix() for p in synced) == [
        "test/data-00000-of-00001.arrow", "train/data-00000-of-00003.arrow", "train/data-00001-of-00003.arrow",
        "train/data-00002-of-00003.arrow",
    ]
    for shard in (tmp_path / "plain").rglob("*.arrow"):
        assert shard.stat().st_size > 8192
        assert shard.read_bytes() == (tmp_path / "durable" / shard.relative_to(tmp_path / "plain")).read_bytes()
    state = "test/state.json"  # the test split is hashed while written: the same fingerprint either way
    assert json.loads((tmp_path / "plain" / state).read_text()) == json.loads((tmp_path / "durable" / state).read_text())


def test_fingerprint_is_deterministic_and_resaving_drops_stale_shards(tmp_path: Path) -> None:
    table = chat_table(300)
    a = hf_disk.save_to_disk(table, tmp_path / "a", split="train", num_shards=3)
    b = hf_disk.save_to_disk(table, tmp_path / "b", split="train", num_shards=3)
    c = hf_disk.save_to_disk(table.slice(1), tmp_path / "c", split="train", num_shards=3)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 16 and int(a.fingerprint, 16) >= 0
    assert json.loads((tmp_path / "a/state.json").read_text())["_fingerprint"] == a.fingerprint
    again = hf_disk.save_to_disk(table, tmp_path / "a", split="train", num_shards=2)
    assert sorted(p.name for p in (tmp_path / "a").glob("*.arrow")) == list(again.files)
    assert hf_disk.load_from_disk(tmp_path / "a").to_pylist() == table.to_pylist()


def test_streams_and_files_save_like_tables(tmp_path: Path) -> None:
    table = chat_table(1200)
    ref = hf_disk.save_to_disk(table, tmp_path / "ref")
    src = tmp_path / "src.arrow"
    with pa.OSFile(str(src), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    from_reader = hf_disk.save_to_disk(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), tmp_path / "r")
    from_iter = hf_disk.save_to_disk(iter(table.to_batches(max_chunksize=1000)), tmp_path / "i")
    from_file = hf_disk.save_to_disk(str(src), tmp_path / "f")
    assert ref.fingerprint == from_reader.fingerprint == from_iter.fingerprint == from_file.fingerprint
    assert not list(tmp_path.rglob(".spool-*"))
    features = {"messages": hf.list_of({"role": hf.value("string"), "content": hf.value("string")})}
    empty = hf_disk.save_to_disk(iter([]), tmp_path / "e", features=features)
    assert empty.num_rows == 0 and hf_disk.read_features(tmp_path / "e") == features


def test_remote_fsspec_folder(tmp_path: Path) -> None:
    table = chat_table(50)
    local = hf_disk.save_dataset_dict({"train": table}, tmp_path / "local", num_shards={"train": 2})
    remote = hf_disk.save_dataset_dict({"train": table}, "memory://bucket/dd", num_shards={"train": 2})
    assert remote.splits["train"].fingerprint == local.splits["train"].fingerprint
    assert hf_disk.dataset_dict_splits("memory://bucket/dd") == ["train"]
    assert hf_disk.load_dataset_dict("memory://bucket/dd")["train"].to_pylist() == table.to_pylist()


# --- reading folders written elsewhere -------------------------------------------------------------------------


def test_reader_reads_library_written_folders(tmp_path: Path) -> None:
    dd = worked_example()
    dd["train"].with_format("numpy", columns=["label"]).save_to_disk(str(tmp_path / "single"), num_shards=2)
    single = hf_disk.load_from_disk(tmp_path / "single")
    assert single.to_pylist() == datasets.load_from_disk(str(tmp_path / "single")).data.table.to_pylist()
    assert hf_disk.read_features(tmp_path / "single") == WORKED_FEATURES.to_dict()
    dd.save_to_disk(str(tmp_path / "dict"), max_shard_size=1500)
    ours = hf_disk.load_dataset_dict(tmp_path / "dict")
    assert list(ours) == hf_disk.dataset_dict_splits(tmp_path / "dict") == ["train", "test"]
    reference = datasets.load_from_disk(str(tmp_path / "dict"))
    assert {k: t.to_pylist() for k, t in ours.items()} == {k: d.data.table.to_pylist() for k, d in reference.items()}
    assert hf.features_from_schema(ours["test"].schema) == WORKED_FEATURES.to_dict()


def _hand_made_split(folder: Path, tables: list[pa.Table], features: dict, *, ipc_file: bool = False) -> None:
    folder.mkdir(parents=True)
    names = []
    for i, t in enumerate(tables):
        name = f"shard_{i}.arrow"  # any names: _data_files decides
        with pa.OSFile(str(folder / name), "wb") as sink:
            with (pa.ipc.new_file if ipc_file else pa.ipc.new_stream)(sink, t.schema) as writer:
                writer.write_table(t)
        names.append({"filename": name})
    state = {"_data_files": names, "_fingerprint": "0123456789abcdef", "_format_columns": None, "_format_kwargs": {},
             "_format_type": None, "_indexes": {}, "_output_all_columns": False, "_split": "train"}  # fmt: skip
    (folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    (folder / "dataset_info.json").write_text(json.dumps({"citation": "", "features": features}, indent=2))


def test_reader_reads_hand_made_36_style_folders(tmp_path: Path) -> None:
    features_36 = {
        "messages": [{"role": {"dtype": "string", "id": None, "_type": "Value"},
                      "content": {"dtype": "string", "id": None, "_type": "Value"}}],  # fmt: skip
        "tags": {"feature": {"dtype": "int32", "id": None, "_type": "Value"}, "_type": "Sequence"},
        "label": {"names": ["a", "b"], "_type": "ClassLabel"},
    }
    schema = pa.schema([("messages", pa.list_(pa.field("element", MESSAGE))), ("tags", pa.list_(pa.int32())),
                        ("label", pa.int64())])  # fmt: skip
    rows = [{"messages": [{"role": "user", "content": f"m{i}"}], "tags": [i], "label": i % 2} for i in range(5)]
    part1, part2 = pa.Table.from_pylist(rows[:3], schema), pa.Table.from_pylist(rows[3:], schema)
    (tmp_path / "dd").mkdir()
    (tmp_path / "dd/dataset_dict.json").write_text('{"splits": ["train", "other"]}')
    _hand_made_split(tmp_path / "dd/train", [part1, part2], features_36)
    _hand_made_split(tmp_path / "dd/other", [part1], features_36, ipc_file=True)  # IPC file: the library fails

    ours = hf_disk.load_dataset_dict(tmp_path / "dd")
    assert ours["train"].to_pylist() == rows and ours["other"].to_pylist() == rows[:3]
    assert hf_disk.read_features(tmp_path / "dd") == {
        "messages": {"feature": {"role": {"dtype": "string", "_type": "Value"},
                                 "content": {"dtype": "string", "_type": "Value"}}, "_type": "List"},  # fmt: skip
        "tags": {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "List"},
        "label": {"names": ["a", "b"], "_type": "ClassLabel"},
    }
    lib = datasets.load_from_disk(str(tmp_path / "dd/train"))
    assert lib.data.table.to_pylist() == rows and lib.features["label"] == ClassLabel(names=["a", "b"])


def test_reader_errors_and_casts(tmp_path: Path) -> None:
    dict_col = pa.table({"s": pa.array(["x", "y", "x"]).dictionary_encode()})
    _hand_made_split(tmp_path / "dict", [dict_col], {"s": {"dtype": "string", "_type": "Value"}})
    loaded = hf_disk.load_from_disk(tmp_path / "dict")
    assert loaded.schema.field("s").type == pa.string() and loaded.column("s").to_pylist() == ["x", "y", "x"]

    _hand_made_split(tmp_path / "wrong", [pa.table({"s": pa.array(["x"], pa.large_string())})],
                     {"s": {"dtype": "string", "_type": "Value"}})  # fmt: skip
    with pytest.raises(SchemaError, match="External features info don't match the dataset"):
        hf_disk.load_from_disk(tmp_path / "wrong")
    _hand_made_split(tmp_path / "keys", [pa.table({"s": ["x"]})], {"t": {"dtype": "string", "_type": "Value"}})
    with pytest.raises(SchemaError, match="Keys mismatch"):
        hf_disk.load_from_disk(tmp_path / "keys")
    with pytest.raises(FormatError, match="no dataset_dict.json: not a DatasetDict folder"):
        hf_disk.load_dataset_dict(tmp_path / "dict")
    with pytest.raises(FormatError, match="no state.json"):
        hf_disk.load_from_disk(tmp_path)
    with pytest.raises(SchemaError, match="features and table columns differ"):
        hf_disk.save_to_disk(pa.table({"a": [1]}), tmp_path / "x", features={"b": hf.value("int64")})


# --- atomic publication ------------------------------------------------------------------------------------------


def test_publish_switches_a_symlink_and_a_failure_keeps_the_old_version(tmp_path: Path) -> None:
    target = tmp_path / "dataset_dict" / "gsm8k"
    v1, v2 = chat_table(3), chat_table(4)
    stats = publish_dir(target, lambda d: hf_disk.save_dataset_dict({"train": v1}, d))
    assert stats.num_rows == 3 and target.is_symlink()
    first = resolve_dir(target)
    assert first.name.startswith(".gsm8k.") and os.readlink(target) == first.name
    assert datasets.load_from_disk(str(target))["train"].num_rows == 3  # the library follows the symlink
    held = hf_disk.load_dataset_dict(target)["train"]  # memory-mapped from version 1

    def fail_midway(folder: Path) -> None:
        hf_disk.save_dataset_dict({"train": v2}, folder)
        assert hf_disk.load_dataset_dict(target)["train"].num_rows == 3  # readers still see version 1 only
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        publish_dir(target, fail_midway)
    assert resolve_dir(target) == first and list_versions(target) == [first.name]
    assert hf_disk.load_dataset_dict(target)["train"].to_pylist() == v1.to_pylist()

    seen_during_write: list[int] = []

    def write_v2(folder: Path) -> str:
        hf_disk.save_dataset_dict({"train": v2}, folder)
        seen_during_write.append(hf_disk.load_dataset_dict(target)["train"].num_rows)
        return "ok"

    assert publish_dir(target, write_v2, grace=0) == "ok"
    assert seen_during_write == [3]
    second = resolve_dir(target)
    assert second != first and not first.exists() and list_versions(target) == [second.name]
    assert hf_disk.load_dataset_dict(target)["train"].to_pylist() == v2.to_pylist()
    assert held.to_pylist() == v1.to_pylist()  # old mapping stays readable after its folder is removed
    assert sorted(p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")) == [second.name, "gsm8k"]


def test_publish_pointer_mode_local_remote_and_legacy_folder(tmp_path: Path) -> None:
    target = tmp_path / "cars"
    publish_dir(target, lambda d: hf_disk.save_dataset_dict({"train": chat_table(2)}, d), mode="pointer")
    publish_dir(target, lambda d: hf_disk.save_dataset_dict({"train": chat_table(5)}, d), grace=0)  # stays in pointer mode
    pointer = (tmp_path / "cars.pointer").read_text().strip()
    assert not target.exists() and resolve_dir(target) == tmp_path / pointer
    assert list_versions(target) == [pointer]
    assert hf_disk.load_dataset_dict(target)["train"].num_rows == 5

    remote = "memory://published/cars"
    publish_dir(remote, lambda d: hf_disk.save_dataset_dict({"train": chat_table(1)}, d))
    publish_dir(remote, lambda d: hf_disk.save_dataset_dict({"train": chat_table(6)}, d), grace=0)
    assert str(resolve_dir(remote)).startswith("memory:///published/.cars.")
    assert len(list_versions(remote)) == 1 and hf_disk.load_dataset_dict(remote)["train"].num_rows == 6

    legacy = tmp_path / "legacy"
    hf_disk.save_dataset_dict({"train": chat_table(1)}, legacy)  # a plain folder from before versioning
    publish_dir(legacy, lambda d: hf_disk.save_dataset_dict({"train": chat_table(2)}, d), grace=0)
    assert legacy.is_symlink() and len(list_versions(legacy)) == 1
    assert hf_disk.load_dataset_dict(legacy)["train"].num_rows == 2


def test_replaced_versions_stay_for_the_grace_period_then_go_on_a_later_publish(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "dataset_dict" / "gsm8k" / "main"
    publish_dir(target, lambda d: hf_disk.save_dataset_dict({"train": chat_table(1)}, d))
    v1 = resolve_dir(target)
    publish_dir(target, lambda d: hf_disk.save_dataset_dict({"train": chat_table(2)}, d))  # default grace: 1 hour
    v2 = resolve_dir(target)
    assert list_versions(target) == [v1.name, v2.name]  # a reader that resolved v1 can still open it
    assert datasets.load_from_disk(str(v1))["train"].num_rows == 1
    hour_ago = time.time() - 3601
    os.utime(v2, (hour_ago, hour_ago))  # v2 was published (replacing v1) more than an hour ago
    publish_dir(target, lambda d: hf_disk.save_dataset_dict({"train": chat_table(3)}, d))
    v3 = resolve_dir(target)
    assert list_versions(target) == [v2.name, v3.name]  # v1 removed; v2 replaced just now: kept
    monkeypatch.setenv("DATASETS_PIPELINE_VERSION_GRACE", "0")
    publish_dir(target, lambda d: hf_disk.save_dataset_dict({"train": chat_table(4)}, d))
    assert list_versions(target) == [resolve_dir(target).name]
    assert hf_disk.load_dataset_dict(target)["train"].num_rows == 4


def test_nested_images_embed_like_the_library(tmp_path: Path) -> None:
    features = {"gallery": hf.list_of(hf.image()), "meta": {"thumb": hf.image(), "n": hf.value("int64")}}
    rows = [
        {"gallery": [{"bytes": png(1 + i, 2, "red"), "path": f"/x/{i}.png"}, None] if i % 3 else [],
         "meta": None if i == 4 else {"thumb": {"bytes": png(2, 2, "blue"), "path": f"a/b/t{i}.png"}, "n": i}}
        for i in range(130)
    ]  # fmt: skip
    table = pa.Table.from_pylist(rows, schema=hf.features_schema(features))
    table = pa.Table.from_batches(table.to_batches(max_chunksize=60))
    hf_disk.save_dataset_dict({"train": table.slice(3)}, tmp_path / "ours")
    hf_save({"train": table.slice(3)}, tmp_path / "theirs")
    assert_same_folders(tmp_path / "ours", tmp_path / "theirs")
    loaded = datasets.load_from_disk(str(tmp_path / "ours"))["train"]
    assert loaded.features.to_dict() == features
    assert loaded[0]["gallery"] == [] and loaded[1]["meta"] is None
    assert loaded[2]["gallery"][0].size == (6, 2) and loaded[2]["gallery"][1] is None
    assert loaded[2]["meta"]["thumb"].size == (2, 2) and loaded[2]["meta"]["n"] == 5
    assert loaded.data.table.column("meta").combine_chunks().field("thumb").field("path")[0].as_py() == "t3.png"


def test_indices_splits_match_a_shuffled_library_dataset(tmp_path: Path) -> None:
    chat = chat_table(2300)
    table = pa.Table.from_batches(chat.to_batches(max_chunksize=700)).append_column("n", pa.array(range(2300)))
    lib = datasets.Dataset(table).train_test_split(test_size=0.1, seed=42)  # indices mappings, no copy
    lib.save_to_disk(str(tmp_path / "theirs"), max_shard_size="150KB")
    perm = np.random.default_rng(42).permutation(2300)  # what train_test_split draws: test first
    splits = {"train": (table, perm[230:]), "test": (table, perm[:230])}
    stats = hf_disk.save_dataset_dict(splits, tmp_path / "ours", max_shard_size="150KB",
                                      split_names={"train": None, "test": None})  # fmt: skip
    assert_same_folders(tmp_path / "ours", tmp_path / "theirs")
    assert stats.splits["train"].num_rows == 2070 and len(stats.splits["train"].files) > 1
    loaded = hf_disk.load_dataset_dict(tmp_path / "ours")
    assert loaded["test"].column("n").to_pylist() == perm[:230].tolist()
    assert loaded["train"].to_pylist() == table.take(perm[230:]).to_pylist()
    with pytest.raises(IndexError, match="indices out of range for a table of 2300 rows"):
        hf_disk.save_to_disk((table, np.array([0, 2300])), tmp_path / "bad")
