"""End to end: ``tokenized/<name>`` partitions (profile × split) materialized by Dagster from loopback-Hub data.

The reference for every cache is the engine's :func:`tokenize_table` over the published cookbook
rows (itself checked against the cookbook's renderers in test_tokenize_parity.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline.tokenize.encoder import TokenizersEncoder
from datasets_pipeline.tokenize.profiles import load_profile
from datasets_pipeline.tokenize.tokenize_table import ProfileTokenizer, tokenize_table
from datasets_pipeline.hub.checksum import sha256_of
from datasets_pipeline_tests.dagster_runs import failure_message
from datasets_pipeline_tests.fixtures_data import parquet_bytes
from datasets_pipeline_tests.test_e2e_families import MESSAGE_LIST, card
from datasets_pipeline_tests.test_tokenize_table import conversations

TOKENIZER_FILE = Path(__file__).parent / "reference" / "tokenize_tokenizer.json"
PROFILES = """\
profiles:
  qwen3:
    tokenizer: {{path: {path}}}
    renderer: qwen3
    max_length: {max_length}
  llama3:
    tokenizer: {{path: {path}}}
    renderer: llama3
    train_on_what: last_assistant_message
    max_length: null
"""
SCHEMA = pa.schema([("prompt", pa.string()), ("prompt_id", pa.string()), ("messages", MESSAGE_LIST), ("category", pa.string())])


def no_robots_rows(n: int, seed: int = 0) -> list[dict]:
    return [{"prompt": c[0]["content"], "prompt_id": f"p{i}", "messages": c, "category": "Chat"}
            for i, c in enumerate(conversations(n, seed))]


def serve_no_robots(hub_server, rows: list[dict]) -> None:
    hub_server.add_repo("HuggingFaceH4/no_robots", {
        "README.md": card({"default": {"train": "data/train-*", "test": "data/test-*"}}),
        "data/train-00000-of-00001.parquet": parquet_bytes(pa.Table.from_pylist(rows, schema=SCHEMA)),
        "data/test-00000-of-00001.parquet": parquet_bytes(pa.Table.from_pylist(rows[:3], schema=SCHEMA)),
    })


def write_profiles(tmp_path: Path, monkeypatch, max_length: int = 48, tokenizer: Path = TOKENIZER_FILE) -> Path:
    path = tmp_path / "tokenizers.yaml"
    path.write_text(PROFILES.format(path=tokenizer, max_length=max_length))
    monkeypatch.setenv("DATASETS_PIPELINE_TOKENIZERS", str(path))
    return path


def run(selection, partition, instance=None, *, ok: bool = True) -> dg.ExecuteInProcessResult:
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.definitions import resources

    result = dg.materialize(
        catalog_assets(), selection=list(selection), partition_key=partition, resources=resources(),
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )
    if ok:
        assert result.success, failure_message(result)
    return result


def metadata(result, key: str) -> dict:
    (mat,) = [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()
              if e.step_materialization_data.materialization.asset_key.to_user_string() == key]
    return {k: v.value for k, v in mat.metadata.items()}


def checks(result) -> dict[str, bool]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def reference(profile_file: Path, name: str, cookbook: pa.Table) -> pa.Table:
    profile = load_profile(name, profile_file)
    return tokenize_table(cookbook, ProfileTokenizer(profile, TokenizersEncoder(TOKENIZER_FILE)))


def cached(data_dir: Path, profile: str, split: str = "train") -> pa.Table:
    return read_table(data_dir / "tokenized" / "no_robots" / profile / "default" / f"{split}.arrow")


def test_tokenized_partition_equals_the_engine_and_records_its_statistics(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    serve_no_robots(hub_server, no_robots_rows(100))
    profiles = write_profiles(tmp_path, monkeypatch)
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    result = run(["tokenized/no_robots"], "qwen3|default/train")
    cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
    table, want = cached(data_dir, "qwen3"), reference(profiles, "qwen3", cookbook)
    assert table.column_names == ["tokens", "weights", "length", "uid", "source_row"]
    assert table.cast(want.schema).equals(want) and table.num_rows == 100
    assert not (data_dir / "tokenized" / "no_robots" / "llama3").exists()

    meta = metadata(result, "tokenized/no_robots")
    lengths = want.column("length").to_numpy()
    profile = load_profile("qwen3", profiles)
    sha = sha256_of(TOKENIZER_FILE)
    full = tokenize_table(cookbook, ProfileTokenizer(replace(profile, max_length=None), TokenizersEncoder(TOKENIZER_FILE)))
    assert {k: meta[k] for k in ("profile", "renderer", "train_on_what", "max_length", "tokenizer_sha256", "artifact_hash")} == {
        "profile": "qwen3", "renderer": "qwen3", "train_on_what": "all_assistant_messages", "max_length": 48,
        "tokenizer_sha256": sha, "artifact_hash": profile.artifact_hash(sha)}
    assert (meta["rows"], meta["encoded_rows"], meta["reused_rows"], meta["dagster/row_count"]) == (100, 100, 0, 100)
    assert meta["tokens"] == int(lengths.sum())
    assert meta["trained_tokens"] == sum(sum(w) for w in want.column("weights").to_pylist())
    assert meta["truncated_rows"] == int((full.column("length").to_numpy() > 48).sum()) == 88
    for q in (50, 90, 99):
        assert meta[f"length_p{q}"] == int(np.percentile(lengths, q, method="lower"))
    assert meta["length_max"] == 48 == int(lengths.max())
    histogram = meta["length_histogram"].splitlines()
    assert histogram[:2] == ["| tokens | rows | |", "|---:|---:|---|"]
    assert sum(int(line.split("|")[2]) for line in histogram[2:]) == 100
    cookbook_version = metadata(run(["cookbook/no_robots"], "default/train"), "cookbook/no_robots")  # unchanged re-run
    assert meta["upstream_data_version"] == cookbook.schema.metadata[b"datasets_pipeline.data_version"].decode()
    assert cookbook_version["unchanged"]
    assert checks(result) == {"rows_match": True, "truncation": False, "drift": True}


def test_llama3_profile_without_max_length_and_unchanged_rerun(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    serve_no_robots(hub_server, no_robots_rows(40, seed=2))
    profiles = write_profiles(tmp_path, monkeypatch)
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    first = metadata(run(["tokenized/no_robots"], "llama3|default/train"), "tokenized/no_robots")
    cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
    assert cached(data_dir, "llama3").equals(reference(profiles, "llama3", cookbook).cast(cached(data_dir, "llama3").schema))
    assert first["truncated_rows"] == 0 and first["train_on_what"] == "last_assistant_message"
    before = (data_dir / "tokenized/no_robots/llama3/default/train.arrow").stat().st_mtime_ns
    again = metadata(run(["tokenized/no_robots"], "llama3|default/train"), "tokenized/no_robots")
    assert again["unchanged"].startswith("inputs unchanged") and (again["encoded_rows"], again["reused_rows"]) == (0, 40)
    assert again["data_version"] == first["data_version"]
    assert (data_dir / "tokenized/no_robots/llama3/default/train.arrow").stat().st_mtime_ns == before


def test_remote_data_root_is_refused_naming_the_layer(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    serve_no_robots(hub_server, no_robots_rows(5))
    write_profiles(tmp_path, monkeypatch)
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    from datasets_pipeline.defs.io_manager import ArrowIOManager
    from datasets_pipeline.paths import require_local
    from datasets_pipeline.errors import UnsupportedStorageError

    with pytest.raises(UnsupportedStorageError) as err:
        require_local("s3://bucket/data", "tokenized", "tokenized/no_robots")
    assert str(err.value) == ("tokenized/no_robots: the tokenized layer needs a local DATASETS_PIPELINE_DATA folder, not "
                              "s3://bucket/data; a remote root is supported by the layers raw, cookbook, dataset_dict")
    # through Dagster: the cookbook input is read from the local folder, the run's data root is remote
    monkeypatch.setattr(ArrowIOManager, "root", property(lambda self: "s3://bucket/data"))
    result = run(["tokenized/no_robots"], "qwen3|default/train", ok=False)
    assert not result.success
    assert str(err.value) in failure_message(result)
