"""End to end: ``dataset_dict/<name>`` folders that ``datasets.load_from_disk`` opens, with the cookbook's splits."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pytest

import datasets_pipeline as dp
from datasets_pipeline.engine.hf_disk import load_dataset_dict
from datasets_pipeline.layout import storage_options
from datasets_pipeline_tests.dagster_runs import failure_message, materialize
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files, hf_features_metadata, parquet_bytes
from datasets_pipeline_tests.test_e2e_families import card, cookbook

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def run(selection: list[str], partition: str | None):
    result = materialize(selection, partition)
    assert result.success, failure_message(result)
    return result


def test_gsm8k_dataset_dict_loads_with_datasets(hub_server, hf_env, data_root):
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files(train_rows=40))
    for split in ("train", "test"):
        run(["raw/gsm8k", "cookbook/gsm8k"], f"main/{split}")
    run(["dataset_dict/gsm8k"], "main")
    path = dp.dataset_dict_path("gsm8k")
    if data_root.is_remote:  # the version prefix the pointer object names
        pointer = data_root.read_bytes("dataset_dict/gsm8k/main.pointer").decode().strip()
        assert path == f"{data_root.url}/dataset_dict/gsm8k/{pointer}" and pointer.startswith(".main.")
        assert not data_root.exists("dataset_dict/gsm8k/main")
    else:
        published = Path(data_root.url) / "dataset_dict" / "gsm8k" / "main"
        assert published.is_symlink() and path == published.resolve()  # the immutable version folder
        assert path.parent == published.parent and path.name.startswith(".main.") and not path.is_symlink()
    loaded = datasets.load_from_disk(str(path), storage_options=storage_options(str(path)) or None)
    assert isinstance(loaded, datasets.DatasetDict) and list(loaded) == ["train", "test"]
    for split in ("train", "test"):  # the cookbook's Gsm8kDataset: train shuffle(seed=0), test as it is
        source = datasets.Dataset(cookbook(data_root, "gsm8k", f"main/{split}"))
        expected = source.shuffle(seed=0).flatten_indices() if split == "train" else source
        assert loaded[split].num_rows == source.num_rows
        assert loaded[split].data.table.to_pylist() == expected.data.table.to_pylist()
    assert loaded["train"]["source_row"] != list(range(40))
    assert loaded["test"].num_rows == 1319 and loaded["test"][0]["answer"] == "18"
    assert loaded["test"].features["level"] == datasets.Value("int64")
    relative = str(path).removeprefix(data_root.url + "/")
    assert set(json.loads(data_root.read_bytes(f"{relative}/test/state.json"))) == {
        "_data_files", "_fingerprint", "_format_columns", "_format_kwargs", "_format_type", "_output_all_columns", "_split"}
    # our reader gives the same tables (by memory map when local), without datasets
    ours = load_dataset_dict(path)
    assert ours["test"].to_pylist() == loaded["test"].data.table.to_pylist()


def _tulu_rows(n: int) -> list[dict]:
    return [{"id": f"row-{i}", "messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}],
             "source": "synthetic"} for i in range(n)]


def test_tulu3_derived_split_equals_datasets_shuffle_take_skip(hub_server, hf_env, data_dir):
    rows = _tulu_rows(1100)
    schema = pa.schema([("id", pa.string()), ("messages", MESSAGES), ("source", pa.string())])
    hub_server.add_repo("allenai/tulu-3-sft-mixture", {
        "README.md": card({"default": {"train": "data/train-*"}}),
        "data/train-00000-of-00002.parquet": parquet_bytes(pa.Table.from_pylist(rows[:600], schema=schema)),
        "data/train-00001-of-00002.parquet": parquet_bytes(pa.Table.from_pylist(rows[600:], schema=schema)),
    })
    run(["raw/tulu3_sft", "cookbook/tulu3_sft"], "default/train")
    result = run(["dataset_dict/tulu3_sft"], "default")
    source = cookbook(data_dir, "tulu3_sft", "default/train")
    reference = datasets.Dataset(source).shuffle(seed=0)
    expected_test = reference.take(1024).flatten_indices().data.table.to_pylist()
    expected_train = reference.skip(1024).flatten_indices().data.table.to_pylist()
    loaded = datasets.load_from_disk(str(dp.dataset_dict_path("tulu3_sft")))
    assert list(loaded) == ["train", "test"]
    assert loaded["test"].data.table.to_pylist() == expected_test
    assert loaded["train"].data.table.to_pylist() == expected_train
    assert loaded["train"].num_rows == 76 and loaded["test"].num_rows == 1024
    mat = result.get_asset_materialization_events()[0].step_materialization_data.materialization
    assert mat.metadata["splits"].value == {"train": 76, "test": 1024}


def test_helpsteer2_pairs_shuffled_after_they_are_built(hub_server, hf_env, data_dir):
    rows = []
    for p in range(30):  # 30 prompts, 2 responses each: 30 comparisons
        rows += [{"prompt": f"prompt {p}", "response": f"good {p}", "helpfulness": 4},
                 {"prompt": f"prompt {p}", "response": f"bad {p}", "helpfulness": 1}]
    table = pa.Table.from_pylist(rows)
    hub_server.add_repo("nvidia/HelpSteer2", {
        "README.md": card({"default": {"train": "train.jsonl.gz", "validation": "validation.jsonl.gz"}}),
        "train.jsonl.gz": __import__("gzip").compress("\n".join(json.dumps(r) for r in rows).encode()),
        "validation.jsonl.gz": __import__("gzip").compress("\n".join(json.dumps(r) for r in rows[:4]).encode()),
    })
    for split in ("train", "validation"):
        run(["raw/helpsteer2", "cookbook/helpsteer2"], f"default/{split}")
    run(["dataset_dict/helpsteer2"], "default")
    loaded = datasets.load_from_disk(str(dp.dataset_dict_path("helpsteer2")))
    # HelpSteer2ComparisonBuilder: pairs from train, shuffle(0), min(1024, n // 10) as test; validation unused
    assert {k: v.num_rows for k, v in loaded.items()} == {"train": 27, "test": 3}
    reference = datasets.Dataset(cookbook(data_dir, "helpsteer2", "default/train")).shuffle(seed=0)
    assert loaded["test"].data.table.to_pylist() == reference.take(3).flatten_indices().data.table.to_pylist()
    assert loaded["train"][0]["label"] == "A"


def test_vision_dataset_dict_keeps_classlabel_and_image(hub_server, hf_env, data_dir):
    import io

    from PIL import Image

    def png(color):
        buf = io.BytesIO()
        Image.new("RGB", (4, 3), color).save(buf, format="PNG")
        return buf.getvalue()

    names = ["Faces_easy", "stop_sign"]
    schema = pa.schema([("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), ("label", pa.int64())]).with_metadata(
        hf_features_metadata({"image": {"_type": "Image"}, "label": {"names": names, "_type": "ClassLabel"}}))
    table = pa.Table.from_pylist([{"image": {"bytes": png((255, 0, 0)), "path": "x.png"}, "label": 1},
                                  {"image": {"bytes": png((0, 0, 255)), "path": "y.png"}, "label": 0}], schema=schema)
    hub_server.add_repo("dpdl-benchmark/caltech101", {
        "README.md": card({"default": {"train": "data/train-*", "test": "data/test-*"}}),
        "data/train-00000-of-00001.parquet": parquet_bytes(table),
        "data/test-00000-of-00001.parquet": parquet_bytes(table.slice(1)),
    })
    for split in ("train", "test"):
        run(["raw/caltech101", "cookbook/caltech101"], f"default/{split}")
    run(["dataset_dict/caltech101"], "default")
    loaded = datasets.load_from_disk(str(dp.dataset_dict_path("caltech101")))
    assert loaded["train"].features["label"] == datasets.ClassLabel(names=names)
    assert loaded["train"].features["image"] == datasets.Image()
    first = loaded["train"][0]
    assert first["label"] == 1 and first["label_name"] == "stop sign" and first["image"].size == (4, 3)


def test_math_rl_recipe_equals_datasets_concat_filter_shuffle(hub_server, hf_env, data_root):
    configs = ["algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory", "prealgebra", "precalculus"]
    files = {"README.md": card({c: {"train": f"{c}/train-*", "test": f"{c}/test-*"} for c in configs})}
    math500_rows = []
    for ci, config in enumerate(configs):
        for split in ("train", "test"):
            rows = [{"problem": f"{config} {split} problem {i}", "level": f"Level {1 + i % 5}", "type": config.title(),
                     "solution": f"so $\\boxed{{{ci * 100 + i}}}$"} for i in range(6)]
            files[f"{config}/{split}-00000-of-00001.parquet"] = parquet_bytes(pa.Table.from_pylist(rows))
            if split == "test":
                math500_rows.append({"problem": rows[0]["problem"], "solution": rows[0]["solution"], "answer": str(ci * 100),
                                     "subject": config, "level": 1, "unique_id": f"test/{config}/0.json"})
    hub_server.add_repo("EleutherAI/hendrycks_math", files)
    hub_server.add_repo("HuggingFaceH4/MATH-500", {
        "README.md": card({"default": {"test": "test.jsonl"}}),
        "test.jsonl": "\n".join(json.dumps(r) for r in math500_rows).encode(),
    })
    for config in configs:
        for split in ("train", "test"):
            run(["raw/hendrycks_math", "cookbook/hendrycks_math"], f"{config}/{split}")
    run(["raw/math500", "cookbook/math500"], "default/test")
    run(["dataset_dict/math_rl"], None)

    parts = [datasets.Dataset(cookbook(data_root, "hendrycks_math", f"{c}/{s}")) for c in configs for s in ("train", "test")]
    banned = set(cookbook(data_root, "math500", "default/test").column("problem").to_pylist())
    reference = datasets.concatenate_datasets(parts).filter(lambda r: r["problem"] not in banned).shuffle(seed=0)
    path = str(dp.dataset_dict_path("math_rl"))
    assert path.startswith(f"{data_root.url}/dataset_dict/math_rl/.default.")
    loaded = datasets.load_from_disk(path, storage_options=storage_options(path) or None)
    assert loaded["train"].num_rows == 7 * 12 - 7
    assert loaded["train"].data.table.to_pylist() == reference.flatten_indices().data.table.to_pylist()
    assert loaded["test"].num_rows == 7
    assert not set(loaded["train"]["problem"]) & banned
