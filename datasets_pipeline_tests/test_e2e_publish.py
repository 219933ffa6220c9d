"""End to end: nothing is published before its blocking checks pass, through real Dagster runs.

A degenerate upstream (a zero-row Parquet file, answers that no longer parse, an empty source file,
a DatasetDict input that is missing) fails the run with a failed check recorded for its partition,
and readers keep seeing the previous version.
"""

from __future__ import annotations

import hashlib
import json

import dagster as dg
import pyarrow as pa
import pytest

import datasets_pipeline as dp
from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline.errors import NotMaterializedError
from datasets_pipeline_tests.dagster_runs import failure_message
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files, gsm8k_rows, gsm8k_table, parquet_bytes
from datasets_pipeline_tests.test_e2e_families import card

REPO = "openai/gsm8k"
TEST_FILE = "main/test-00000-of-00001.parquet"


def run(instance: dg.DagsterInstance, selection: list[str], partition: str | None) -> dg.ExecuteInProcessResult:
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.definitions import resources

    return dg.materialize(
        catalog_assets(), selection=selection, partition_key=partition, resources=resources(),
        instance=instance, raise_on_error=False,
    )


def evaluations(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], tuple[bool, str | None]]:
    """``(asset, check) -> (passed, partition)`` of every check evaluation in a run."""
    out = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.asset_check_evaluation_data
            out[(data.asset_key.to_user_string(), data.check_name)] = (data.passed, data.partition)
    return out


def partition_status(instance: dg.DagsterInstance, asset: str, check: str) -> dict[str, str]:
    """The instance's latest status of ``check`` per partition of ``asset``."""
    key = dg.AssetCheckKey(dg.AssetKey.from_user_string(asset), check)
    infos = instance.event_log_storage.get_asset_check_partition_info([key])
    return {info.partition_key: info.latest_execution_status.value for info in infos}


def _zero_row_test_file() -> bytes:
    return parquet_bytes(gsm8k_table([]))


def test_zero_row_parquet_after_a_good_run_fails_raw_and_load_keeps_1319_rows(hub_server, hf_env, data_root):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    instance = dg.DagsterInstance.ephemeral()
    for partition in ("main/train", "main/test"):
        first = run(instance, ["raw/gsm8k"], partition)
        assert first.success, failure_message(first)
    path = "raw/gsm8k/main/test.arrow"
    good = data_root.read_bytes(path)

    files = gsm8k_repo_files()
    files[TEST_FILE] = _zero_row_test_file()
    hub_server.update_repo(REPO, files)
    second = run(instance, ["raw/gsm8k"], "main/test")

    assert not second.success
    message = failure_message(second)
    for part in ("raw/gsm8k", "row_count", "0 rows where the published version has 1,319", "dataset 'gsm8k'",
                 "config 'main'", "split 'test'", "the published version, if any, is kept"):
        assert part in message, (part, message)
    # The failed check is recorded, for this partition only; no materialization was recorded.
    assert evaluations(second) == {("raw/gsm8k", "has_rows"): (False, "main/test"), ("raw/gsm8k", "row_count"): (False, "main/test")}
    assert second.get_asset_materialization_events() == []
    assert partition_status(instance, "raw/gsm8k", "row_count") == {"main/train": "SUCCEEDED", "main/test": "FAILED"}
    # Readers see the previous version, byte for byte, and nothing else in the folder.
    assert data_root.read_bytes(path) == good
    assert dp.load("gsm8k", "main", "test", layer="raw").num_rows == 1319
    assert data_root.listdir("raw/gsm8k/main") == ["test.arrow", "train.arrow"]


def test_all_answers_unparseable_fails_cookbook_and_keeps_the_previous_rows(hub_server, hf_env, data_root):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    instance = dg.DagsterInstance.ephemeral()
    first = run(instance, ["raw/gsm8k", "cookbook/gsm8k"], "main/test")
    assert first.success, failure_message(first)
    before = dp.load("gsm8k", "main", "test").to_pylist()
    assert len(before) == 1319

    rows = [{"question": r["question"], "answer": r["answer"].replace("####", "answer:")} for r in gsm8k_rows("main")]
    files = gsm8k_repo_files()
    files[TEST_FILE] = parquet_bytes(gsm8k_table(rows))
    hub_server.update_repo(REPO, files)
    second = run(instance, ["raw/gsm8k", "cookbook/gsm8k"], "main/test")

    assert not second.success
    message = failure_message(second)
    assert "cookbook/gsm8k: blocking check row_count: 0 rows where the published version has 1,319" in message
    assert "[dataset 'gsm8k', config 'main', split 'test']" in message
    checks = evaluations(second)
    assert checks[("raw/gsm8k", "row_count")] == (True, "main/test")  # the raw mirror itself is fine: 1,319 rows
    assert checks[("cookbook/gsm8k", "row_count")] == (False, "main/test")
    assert checks[("cookbook/gsm8k", "family_rules")] == (True, "main/test")
    assert dp.load("gsm8k", "main", "test", layer="raw").column("answer")[0].as_py().count("answer:") == 1
    assert dp.load("gsm8k", "main", "test").to_pylist() == before  # the previous cookbook rows
    assert data_root.listdir("cookbook/gsm8k/main") == ["test.arrow"]


def test_row_loss_threshold_is_configurable(hub_server, hf_env, data_dir, monkeypatch):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    instance = dg.DagsterInstance.ephemeral()
    assert run(instance, ["raw/gsm8k"], "main/test").success
    files = gsm8k_repo_files()
    files[TEST_FILE] = parquet_bytes(gsm8k_table(gsm8k_rows("main")[:600]))  # 54.5% of the rows lost
    hub_server.update_repo(REPO, files)

    blocked = run(instance, ["raw/gsm8k"], "main/test")
    assert not blocked.success
    assert "600 rows where the published version has 1,319 (55% lost, more than the 50% allowed" in failure_message(blocked)
    assert dp.load("gsm8k", "main", "test", layer="raw").num_rows == 1319

    monkeypatch.setenv("DATASETS_PIPELINE_MAX_ROW_LOSS", "0.6")
    allowed = run(instance, ["raw/gsm8k"], "main/test")
    assert allowed.success, failure_message(allowed)
    assert dp.load("gsm8k", "main", "test", layer="raw").num_rows == 600


@pytest.mark.parametrize(
    "name, content, reason",
    [("test.jsonl", b"", "empty (0 bytes)"), ("test.jsonl", b"\n\n", "empty (no rows and no columns)"),
     ("test.parquet", b"", "empty (0 bytes)")],
    ids=["jsonl-0-bytes", "jsonl-blank-lines", "parquet-0-bytes"],
)
def test_an_empty_source_file_is_an_error_naming_it(hub_server, hf_env, data_dir, name, content, reason):
    hub_server.add_repo("HuggingFaceH4/MATH-500", {"README.md": card({"default": {"test": name}}), name: content})
    result = run(dg.DagsterInstance.ephemeral(), ["raw/math500"], "default/test")
    assert not result.success
    message = failure_message(result)
    for part in (f"the source file is {reason}", f"file '{name}'", "dataset 'math500'", "config 'default'", "split 'test'"):
        assert part in message, (part, message)
    assert not (data_dir / "raw" / "math500").exists()


def test_cookbook_records_the_hub_revision_and_source_sha256s(hub_server, hf_env, data_dir):
    files = gsm8k_repo_files()
    sha = hub_server.add_repo(REPO, files)
    result = run(dg.DagsterInstance.ephemeral(), ["raw/gsm8k", "cookbook/gsm8k"], "main/test")
    assert result.success, failure_message(result)
    meta = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == "cookbook/gsm8k":
            meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["revision_sha"] == sha and meta["repo_id"] == REPO and meta["revision"] == "main"
    assert [(f["path"], f["sha256"]) for f in meta["source_files"]] == [
        (TEST_FILE, hashlib.sha256(files[TEST_FILE]).hexdigest())
    ]
    # The lineage travels with the raw file itself (its schema metadata), not with the run.
    raw_schema = read_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow").schema
    assert json.loads(raw_schema.metadata[b"datasets_pipeline.lineage"])["revision_sha"] == sha


def test_dataset_dict_missing_a_split_fails_and_keeps_the_published_folder(hub_server, hf_env, data_root):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    instance = dg.DagsterInstance.ephemeral()
    assert run(instance, ["raw/gsm8k", "cookbook/gsm8k"], "main/test").success

    incomplete = run(instance, ["dataset_dict/gsm8k"], "main")
    assert not incomplete.success
    message = failure_message(incomplete)
    assert "dataset_dict/gsm8k: blocking check complete_splits: upstream splits not materialized: main/train" in message
    assert "[dataset 'gsm8k', config 'main']" in message
    assert evaluations(incomplete) == {("dataset_dict/gsm8k", "complete_splits"): (False, "main")}
    with pytest.raises(NotMaterializedError):
        dp.dataset_dict_path("gsm8k")

    assert run(instance, ["raw/gsm8k", "cookbook/gsm8k"], "main/train").success
    complete = run(instance, ["dataset_dict/gsm8k"], "main")
    assert complete.success, failure_message(complete)
    assert evaluations(complete) == {("dataset_dict/gsm8k", "complete_splits"): (True, "main"),
                                     ("dataset_dict/gsm8k", "split_rows"): (True, "main"),
                                     ("dataset_dict/gsm8k", "loadable"): (True, "main")}
    version = dp.dataset_dict_path("gsm8k")
    published = data_root.listdir("dataset_dict/gsm8k")

    data_root.remove("cookbook/gsm8k/main/train.arrow")  # the train split disappears upstream
    again = run(instance, ["dataset_dict/gsm8k"], "main")
    assert not again.success
    assert dp.dataset_dict_path("gsm8k") == version  # the published version is still the one readers open
    assert data_root.listdir("dataset_dict/gsm8k") == published  # and no other version was left behind
    relative = str(version).removeprefix(data_root.url + "/")
    assert json.loads(data_root.read_bytes(f"{relative}/dataset_dict.json")) == {"splits": ["train", "test"]}
    assert partition_status(instance, "dataset_dict/gsm8k", "complete_splits") == {"main": "FAILED"}


def test_math_rl_without_its_inputs_fails_naming_them(hub_server, hf_env, data_root):
    schema = pa.schema([("problem", pa.string()), ("solution", pa.string()), ("answer", pa.string()),
                        ("subject", pa.string()), ("level", pa.int64()), ("unique_id", pa.string())])
    rows = [{"problem": "What is $1+1$?", "solution": "$\\boxed{2}$", "answer": "2", "subject": "Prealgebra", "level": 1,
             "unique_id": "test/prealgebra/1.json"}]
    hub_server.add_repo("HuggingFaceH4/MATH-500", {"README.md": card({"default": {"test": "test.parquet"}}),
                                                    "test.parquet": parquet_bytes(pa.Table.from_pylist(rows, schema=schema))})
    instance = dg.DagsterInstance.ephemeral()
    assert run(instance, ["raw/math500", "cookbook/math500"], "default/test").success
    result = run(instance, ["dataset_dict/math_rl"], None)
    assert not result.success
    message = failure_message(result)
    assert "dataset_dict/math_rl: blocking check complete_splits: upstream splits not materialized: cookbook/hendrycks_math:algebra/train" in message
    assert evaluations(result) == {("dataset_dict/math_rl", "complete_splits"): (False, None)}
    assert data_root.listdir("dataset_dict/math_rl") == []


def test_code_versions_follow_what_the_assets_run():
    from dataclasses import replace

    from datasets_pipeline.catalog import get_spec
    from datasets_pipeline.catalog.spec import held_out
    from datasets_pipeline.defs.cookbook import build_cookbook_asset
    from datasets_pipeline.defs.dataset_dict import build_dataset_dict_asset
    from datasets_pipeline.definitions import defs

    def version(key: str) -> str:
        asset_key = dg.AssetKey.from_user_string(key)
        return defs.resolve_assets_def(asset_key).code_versions_by_key[asset_key]

    assert version("dataset_dict/tulu3_sft") == "writer-1-train=train-shuffle0-skip1024-takeNone+test=train-shuffle0-skip0-take1024"
    assert version("dataset_dict/helpsteer2") == (
        "writer-1-train=train-shuffle0-skiphelpsteer2_test_size-takeNone-converted"
        "+test=train-shuffle0-skip0-takehelpsteer2_test_size-converted"
    )
    assert version("dataset_dict/gsm8k") == "writer-1-train=train-shuffle0-skip0-takeNone+test=test-shuffleNone-skip0-takeNone"
    assert version("dataset_dict/humaneval") == "writer-1-splits"
    assert version("dataset_dict/math_rl") == "writer-1-recipe-23b0d9098d40"  # a hash of the mixtures.yaml entry
    assert version("raw/gsm8k").startswith("reader-")
    assert version("cookbook/gsm8k").endswith("-xxh3-128/nfkc-canonical-v1") and version("cookbook/gsm8k").startswith("math-")
    # another seed or test size is another code version; so is another converter version
    tulu = get_spec("tulu3_sft")
    reseeded = build_dataset_dict_asset(replace(tulu, dataset_dict=held_out(1024, seed=1)))
    resized = build_dataset_dict_asset(replace(tulu, dataset_dict=held_out(512, seed=0)))
    key = dg.AssetKey(["dataset_dict", "tulu3_sft"])
    assert {reseeded.code_versions_by_key[key], resized.code_versions_by_key[key]} == {
        "writer-1-train=train-shuffle1-skip1024-takeNone+test=train-shuffle1-skip0-take1024",
        "writer-1-train=train-shuffle0-skip512-takeNone+test=train-shuffle0-skip0-take512",
    }
    gsm8k = get_spec("gsm8k")
    bumped = replace(gsm8k, converter=replace(gsm8k.converter, version="99"))
    assert build_cookbook_asset(bumped).code_versions_by_key[dg.AssetKey(["cookbook", "gsm8k"])] == "math-99-xxh3-128/nfkc-canonical-v1"


def test_the_io_manager_computes_the_paths_assets_write_and_load_reads(data_dir):
    from upath import UPath

    from datasets_pipeline.defs.io_manager import ArrowIOManager
    from datasets_pipeline.paths import data_root, local_path, split_relpath

    manager = ArrowIOManager(base_path=UPath(data_root()))
    expected = local_path(data_root(), split_relpath("cookbook", "gsm8k", "main", "test"))
    assert expected == data_dir / "cookbook" / "gsm8k" / "main" / "test.arrow"
    assert str(manager.split_path(["cookbook", "gsm8k"], "main/test")) == str(expected)
    assert str(manager.split_path(["dataset_dict", "gsm8k"], "main")) == str(data_dir / "dataset_dict" / "gsm8k" / "main.arrow")
    with pytest.raises(ValueError):
        manager.split_path(["cookbook", ".."], "main/test")
