"""End to end per family: realistic Hub repos served on 127.0.0.1, raw + cookbook materialized by Dagster.

Each repo uses the Hub's real layout (Parquet shards named as on the Hub, ``huggingface`` features
metadata, a card with ``configs`` or only the ``refs/convert/parquet`` branch) and its real column
types. Expected rows were checked by hand against the cookbook's rules.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from PIL import Image

import datasets_pipeline as dp
from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline_tests.dagster_runs import failure_message, materialize
from datasets_pipeline_tests.fixtures_data import (
    gsm8k_repo_files,
    hf_features_metadata,
    humaneval_rows,
    parquet_bytes,
)

MESSAGE_LIST = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def card(configs: dict[str, dict[str, str]]) -> bytes:
    """A dataset card whose ``configs`` map each config's splits to path globs."""
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        lines += [f"  - split: {split}\n    path: {json.dumps(path)}" for split, path in splits.items()]
    return ("\n".join(lines) + "\n---\n").encode()


def run(selection: list[str], partition: str):
    result = materialize(selection, partition)
    assert result.success, failure_message(result)
    return result


def metadata(result, key: str) -> dict:
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: v.value for k, v in mat.metadata.items()}
    raise AssertionError(f"no materialization of {key}")


def checks(result) -> dict[str, bool]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def cookbook(data_dir, name: str, partition: str) -> pa.Table:
    """The cookbook file of ``partition`` under a local folder (a Path) or a ``data_root`` (local or S3)."""
    config, split = partition.split("/")
    if isinstance(data_dir, Path):
        return read_table(data_dir / "cookbook" / name / config / f"{split}.arrow")
    return data_dir.read_table(f"cookbook/{name}/{config}/{split}.arrow")


# --- math ------------------------------------------------------------------------------------------


def test_math_gsm8k_real_test_split(hub_server, hf_env, data_root):
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    result = run(["raw/gsm8k", "cookbook/gsm8k"], "main/test")
    table = cookbook(data_root, "gsm8k", "main/test")
    assert dp.load("gsm8k", "main", "test").equals(table)
    assert table.num_rows == 1319
    assert table.column_names == ["problem", "answer", "solution", "subject", "level", "source_row", "uid"]
    assert table.column("source_row").to_pylist() == list(range(1319))
    assert table.schema.metadata[b"datasets_pipeline.raw_rows"] == b"1319"
    first = table.slice(0, 1).to_pylist()[0]
    assert first["answer"] == "18"
    assert first["problem"].startswith("Janet’s ducks lay 16 eggs per day.")
    assert first["solution"].endswith("#### 18")
    assert first["subject"] is None and first["level"] is None
    assert len(first["uid"]) == 32
    assert "2125" in table.column("answer").to_pylist()  # "#### 2,125": commas stripped
    meta = metadata(result, "cookbook/gsm8k")
    assert meta["rows_in"] == 1319 and meta["rows_kept"] == 1319 and meta["rows_dropped"] == 0
    assert meta["converter_version"] == "2" and meta["uid_algorithm"].startswith("xxh3-128")
    assert meta["quality"] == {"empty_answer": 0, "empty_problem": 0}
    assert checks(result) == {"has_rows": True, "row_count": True, "family_rules": True, "duplicate_uids": True, "quality": True}


MATH500_ROWS = [
    {"problem": "What is $1+1$?", "solution": "We add: $1+1=\\boxed{2}$.", "answer": "2", "subject": "Prealgebra", "level": 1, "unique_id": "test/prealgebra/1.json"},
    {"problem": "Simplify $\\frac{4}{6}$.", "solution": "Divide by 2: $\\boxed{\\frac{2}{3}}$. So \\boxed{\\frac{2}{3}}.", "answer": "\\frac{2}{3}", "subject": "Algebra", "level": 2, "unique_id": "test/algebra/2.json"},
    {"problem": "No box here.", "solution": "The answer is 5.", "answer": "5", "subject": "Geometry", "level": 3, "unique_id": "test/geometry/3.json"},
    {"problem": "Nested?", "solution": "Thus $\\boxed{\\{1, \\{2\\}\\}}$ and finally $\\boxed{x^{2}+1}$.", "answer": "x^2+1", "subject": "Algebra", "level": 5, "unique_id": "test/algebra/4.json"},
]


def test_math_math500_parquet_branch_only_and_dropped_rows(hub_server, hf_env, data_dir):
    schema = pa.schema([("problem", pa.string()), ("solution", pa.string()), ("answer", pa.string()),
                        ("subject", pa.string()), ("level", pa.int64()), ("unique_id", pa.string())])
    hub_server.add_repo("HuggingFaceH4/MATH-500", {"README.md": b"# MATH-500\n"})
    hub_server.add_revision("HuggingFaceH4/MATH-500", "refs/convert/parquet",
                            {"default/test/0000.parquet": parquet_bytes(pa.Table.from_pylist(MATH500_ROWS, schema=schema))})
    result = run(["raw/math500", "cookbook/math500"], "default/test")
    table = cookbook(data_dir, "math500", "default/test")
    assert table.column("source_row").to_pylist() == [0, 1, 3]
    rows = table.drop_columns(["uid", "source_row"]).to_pylist()
    assert rows == [
        {"problem": "What is $1+1$?", "answer": "2", "solution": MATH500_ROWS[0]["solution"], "subject": "Prealgebra", "level": 1},
        {"problem": "Simplify $\\frac{4}{6}$.", "answer": "\\frac{2}{3}", "solution": MATH500_ROWS[1]["solution"], "subject": "Algebra", "level": 2},
        {"problem": "Nested?", "answer": "x^{2}+1", "solution": MATH500_ROWS[3]["solution"], "subject": "Algebra", "level": 5},
    ]
    meta = metadata(result, "cookbook/math500")
    assert meta["dropped_by_reason"] == {"no_boxed_answer": 1}
    assert metadata(result, "raw/math500")["origin"] == "parquet-branch"


# --- chat ------------------------------------------------------------------------------------------


def test_chat_no_robots_messages_and_duplicates(hub_server, hf_env, data_dir):
    conv = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a color."}, {"role": "assistant", "content": "Blue."}]
    rows = [
        {"prompt": "Name a color.", "prompt_id": "a1", "messages": conv, "category": "Brainstorm"},
        {"prompt": "Hi", "prompt_id": "a2", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], "category": "Chat"},
        {"prompt": "Name a color.", "prompt_id": "a3", "messages": conv, "category": "Brainstorm"},  # duplicate content
    ]
    schema = pa.schema([("prompt", pa.string()), ("prompt_id", pa.string()), ("messages", MESSAGE_LIST), ("category", pa.string())])
    hub_server.add_repo("HuggingFaceH4/no_robots", {
        "README.md": card({"default": {"train": "data/train-*", "test": "data/test-*"}}),
        "data/train-00000-of-00001.parquet": parquet_bytes(pa.Table.from_pylist(rows, schema=schema)),
        "data/test-00000-of-00001.parquet": parquet_bytes(pa.Table.from_pylist(rows[:1], schema=schema)),
    })
    result = run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    table = cookbook(data_dir, "no_robots", "default/train")
    assert table.column("messages").to_pylist() == [conv, rows[1]["messages"], conv]
    uids = table.column("uid").to_pylist()
    assert uids[0] == uids[2] != uids[1]
    meta = metadata(result, "cookbook/no_robots")
    assert meta["duplicate_uids"] == 1 and meta["rows_kept"] == 3
    assert checks(result) == {"has_rows": True, "row_count": True, "family_rules": True, "duplicate_uids": False, "quality": True}  # a warning, not a failure
    assert result.success


# --- preference -------------------------------------------------------------------------------------


def test_preference_hh_rlhf_keep_rule(hub_server, hf_env, data_dir):
    rows = [
        {"chosen": "\n\nHuman: What is 2+2?\n\nAssistant: 4.", "rejected": "\n\nHuman: What is 2+2?\n\nAssistant: 5."},
        {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Tell a joke\n\nAssistant: Knock knock.",
         "rejected": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Tell a joke\n\nAssistant: No."},
        {"chosen": "\n\nHuman: A\n\nAssistant: B", "rejected": "\n\nHuman: A\n\nAssistant: B"},  # last messages equal
        {"chosen": "\n\nHuman: A\n\nAssistant: B", "rejected": "\n\nHuman: X\n\nAssistant: C"},  # prefix differs
    ]
    hub_server.add_repo("Anthropic/hh-rlhf", {
        "README.md": card({"default": {"train": "*/train.jsonl.gz", "test": "*/test.jsonl.gz"}}),
        "harmless-base/train.jsonl.gz": __import__("gzip").compress("\n".join(json.dumps(r) for r in rows).encode()),
        "harmless-base/test.jsonl.gz": __import__("gzip").compress(json.dumps(rows[0]).encode()),
    })
    result = run(["raw/hh_rlhf", "cookbook/hh_rlhf"], "default/train")
    table = cookbook(data_dir, "hh_rlhf", "default/train")
    assert table.column("source_row").to_pylist() == [0, 1]
    got = table.drop_columns(["uid", "source_row"]).to_pylist()
    assert got == [
        {"prompt": [{"role": "user", "content": "What is 2+2?"}], "completion_a": [{"role": "assistant", "content": "4."}],
         "completion_b": [{"role": "assistant", "content": "5."}], "label": "A"},
        {"prompt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Tell a joke"}],
         "completion_a": [{"role": "assistant", "content": "Knock knock."}],
         "completion_b": [{"role": "assistant", "content": "No."}], "label": "A"},
    ]
    assert metadata(result, "cookbook/hh_rlhf")["dropped_by_reason"] == {"hh_keep_rule": 2}


# --- code ------------------------------------------------------------------------------------------


def test_code_deepcoder_lcbv5(hub_server, hf_env, data_dir):
    rows = [
        {"problem": "Read n and print n*2.", "starter_code": "", "tests": json.dumps([{"input": "3\n", "output": "6\n", "testtype": "stdin"}]),
         "metadata": json.dumps({})},
        {"problem": "Write add(a, b).", "starter_code": "class Solution:\n    def add(self, a, b):\n", "tests": json.dumps([{"input": "1\n2", "output": "3", "testtype": "functional"}]),
         "metadata": json.dumps({"func_name": "add"})},
        {"problem": "No tests.", "starter_code": "", "tests": "[]", "metadata": "{}"},
    ]
    table = pa.Table.from_pylist(rows)
    hub_server.add_repo("agentica-org/DeepCoder-Preview-Dataset", {
        "README.md": card({"lcbv5": {"train": "lcbv5/train-*", "test": "lcbv5/test-*"}}),
        "lcbv5/train-00000-of-00001.parquet": parquet_bytes(table),
        "lcbv5/test-00000-of-00001.parquet": parquet_bytes(table.slice(0, 1)),
    })
    result = run(["raw/deepcoder", "cookbook/deepcoder"], "lcbv5/train")
    got = cookbook(data_dir, "deepcoder", "lcbv5/train").drop_columns(["uid"]).to_pylist()
    assert got == [
        {"problem": "Read n and print n*2.", "starter_code": None, "source_row": 0,
         "tests": [{"input": "3\n", "output": "6\n", "testtype": "stdin", "fn_name": None, "metadata": '{"func_name": null}'}]},
        {"problem": "Write add(a, b).", "starter_code": rows[1]["starter_code"], "source_row": 1,
         "tests": [{"input": "1\n2", "output": "3", "testtype": "functional", "fn_name": "add", "metadata": '{"func_name": "add"}'}]},
    ]
    assert metadata(result, "cookbook/deepcoder")["dropped_by_reason"] == {"missing_tests": 1}


# --- vision ----------------------------------------------------------------------------------------


def _png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(buf, format="PNG")
    return buf.getvalue()


def test_vision_caltech101_labels_and_images(hub_server, hf_env, data_dir):
    names = ["Faces_easy", "stop_sign", "water_lilly"]
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([("image", image_type), ("label", pa.int64())]).with_metadata(
        hf_features_metadata({"image": {"_type": "Image"}, "label": {"names": names, "_type": "ClassLabel"}})
    )
    images = [{"bytes": _png((255, 0, 0)), "path": "a.png"}, {"bytes": _png((0, 255, 0)), "path": "b.png"},
              {"bytes": b"not an image at all", "path": "c.png"}]
    table = pa.Table.from_pylist([{"image": images[0], "label": 1}, {"image": images[1], "label": 0}, {"image": images[2], "label": 2}], schema=schema)
    hub_server.add_repo("dpdl-benchmark/caltech101", {
        "README.md": card({"default": {"train": "data/train-*", "test": "data/test-*"}}),
        "data/train-00000-of-00001.parquet": parquet_bytes(table),
        "data/test-00000-of-00001.parquet": parquet_bytes(table.slice(0, 1)),
    })
    result = run(["raw/caltech101", "cookbook/caltech101"], "default/train")
    out = cookbook(data_dir, "caltech101", "default/train")
    rows = out.drop_columns(["uid"]).to_pylist()
    assert [(r["label"], r["label_name"], r["image"]["path"]) for r in rows] == [(1, "stop sign", "a.png"), (0, "faces easy", "b.png")]
    assert Image.open(io.BytesIO(rows[0]["image"]["bytes"])).size == (8, 6)
    features = json.loads(out.schema.metadata[b"huggingface"])["info"]["features"]
    assert features["label"] == {"names": names, "_type": "ClassLabel"} and features["image"] == {"_type": "Image"}
    assert metadata(result, "cookbook/caltech101")["dropped_by_reason"] == {"undecodable_image": 1}


# --- eval ------------------------------------------------------------------------------------------


def test_eval_humaneval_real_file_and_mmlu(hub_server, hf_env, data_dir):
    humaneval = pa.Table.from_pylist(humaneval_rows())
    hub_server.add_repo("openai/openai_humaneval", {
        "README.md": card({"openai_humaneval": {"test": "openai_humaneval/test-*"}}),
        "openai_humaneval/test-00000-of-00001.parquet": parquet_bytes(humaneval),
    })
    run(["raw/humaneval", "cookbook/humaneval"], "openai_humaneval/test")
    out = cookbook(data_dir, "humaneval", "openai_humaneval/test")
    assert out.num_rows == 164
    assert out.drop_columns(["uid", "source_row"]).to_pylist() == humaneval.select(["task_id", "prompt", "canonical_solution", "test", "entry_point"]).to_pylist()
    assert out.column("task_id")[0].as_py() == "HumanEval/0"

    mmlu_schema = pa.schema([("question", pa.string()), ("subject", pa.string()), ("choices", pa.list_(pa.string())), ("answer", pa.int64())]).with_metadata(
        hf_features_metadata({"question": {"dtype": "string", "_type": "Value"}, "subject": {"dtype": "string", "_type": "Value"},
                              "choices": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
                              "answer": {"names": ["A", "B", "C", "D"], "_type": "ClassLabel"}}))
    mmlu_rows = [{"question": "2+2?", "subject": "elementary_mathematics", "choices": ["3", "4", "5", "6"], "answer": 1},
                 {"question": "Capital of France?", "subject": "high_school_geography", "choices": ["Paris", "Rome", "Oslo", "Bern"], "answer": 0}]
    hub_server.add_repo("cais/mmlu", {
        "README.md": card({"all": {"test": "all/test-*", "validation": "all/validation-*", "dev": "all/dev-*", "auxiliary_train": "all/auxiliary_train-*"}}),
        "all/test-00000-of-00001.parquet": parquet_bytes(pa.Table.from_pylist(mmlu_rows, schema=mmlu_schema)),
    })
    result = run(["raw/mmlu", "cookbook/mmlu"], "all/test")
    got = cookbook(data_dir, "mmlu", "all/test").drop_columns(["uid", "source_row"]).to_pylist()
    assert got == [{"question": "2+2?", "choices": ["3", "4", "5", "6"], "answer": 1, "subject": "elementary_mathematics"},
                   {"question": "Capital of France?", "choices": ["Paris", "Rome", "Oslo", "Bern"], "answer": 0, "subject": "high_school_geography"}]
    assert checks(result)["family_rules"] is True


# --- bad input ---------------------------------------------------------------------------------------


def test_schema_drift_between_shards_names_dataset_config_split_file_and_column(hub_server, hf_env, data_dir):
    good = pa.table({"question": ["q1"], "answer": ["a #### 1"]})
    drifted = pa.table({"question": ["q2"], "answer": [2]})
    hub_server.add_repo("openai/gsm8k", {
        "README.md": card({"main": {"train": "main/train-*", "test": "main/test-*"}}),
        "main/train-00000-of-00002.parquet": parquet_bytes(good),
        "main/train-00001-of-00002.parquet": parquet_bytes(drifted),
        "main/test-00000-of-00001.parquet": parquet_bytes(good),
    })
    result = materialize(["raw/gsm8k"], "main/train")
    assert not result.success
    message = failure_message(result)
    for part in ("schema drift", "dataset 'gsm8k'", "config 'main'", "split 'train'", "file 'main/train-00001-of-00002.parquet'", "column 'answer'"):
        assert part in message, (part, message)
    assert not (data_dir / "raw" / "gsm8k" / "main" / "train.arrow").exists()


def test_missing_column_names_dataset_config_split_and_column(hub_server, hf_env, data_dir):
    hub_server.add_repo("openai/gsm8k", {
        "README.md": card({"main": {"train": "main/train-*", "test": "main/test-*"}}),
        "main/test-00000-of-00001.parquet": parquet_bytes(pa.table({"question": ["q"], "final": ["#### 1"]})),
        "main/train-00000-of-00001.parquet": parquet_bytes(pa.table({"question": ["q"], "final": ["#### 1"]})),
    })
    result = materialize(["raw/gsm8k", "cookbook/gsm8k"], "main/test")
    assert not result.success
    message = failure_message(result)
    for part in ("dataset 'gsm8k'", "config 'main'", "split 'test'", "column 'answer'"):
        assert part in message, (part, message)
    assert not (data_dir / "cookbook" / "gsm8k" / "main" / "test.arrow").exists()
    assert (data_dir / "raw" / "gsm8k" / "main" / "test.arrow").exists()


def test_convert_batches_follow_the_raw_row_size():
    import pyarrow as pa

    from datasets_pipeline.catalog import get_spec
    from datasets_pipeline.steps.cookbook import convert_batch_rows, convert_stream

    small = pa.table({"question": ["q"] * 20_000, "answer": ["#### 1"] * 20_000})
    assert convert_batch_rows(small) == 8_192  # capped
    # a raw row of 4,000 + 6 characters and two 4-byte offsets is 4,014 bytes: 8 MiB holds 2,089 of them
    big = pa.table({"question": ["x" * 4_000] * 5_000, "answer": ["#### 2"] * 5_000})
    rows = convert_batch_rows(big)
    assert rows == 2_089
    mid = pa.table({"question": ["z" * 2_000] * 100, "answer": ["#### 4"] * 100})
    assert convert_batch_rows(mid) == 4_165  # 8,388,608 // 2,014
    huge = pa.table({"question": ["y" * (2 << 20)] * 20, "answer": ["#### 3"] * 20})
    assert convert_batch_rows(huge) == 16  # the floor

    stream = convert_stream(get_spec("gsm8k"), big, "main", "test")
    sizes = [b.num_rows for b in stream.batches]
    assert sizes == [2_089, 2_089, 822]
