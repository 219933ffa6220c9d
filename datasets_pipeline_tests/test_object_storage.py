"""Object storage roots (``s3://``) against a real S3 server on 127.0.0.1, and the one data layout.

Every layer either works on a remote root (raw, cookbook, dataset_dict and recipes: their end-to-end
tests run on both roots through the ``data_root`` fixture) or refuses it up front with a message
(tokenized, mixture, sample, tokenizer).
"""

from __future__ import annotations

import json
import time

import dagster as dg
import pyarrow as pa
import pytest

import datasets_pipeline as dp
from datasets_pipeline.engine.hf_disk import load_dataset_dict, save_dataset_dict
from datasets_pipeline.engine.ipc import remove_stale_temporaries, stage_batches, temporary_name, write_table
from datasets_pipeline.engine.versioned_dir import list_versions, publish_dir, resolve_dir
from datasets_pipeline.errors import UnsupportedStorageError
from datasets_pipeline.layout import DataLayout, storage_options
from datasets_pipeline_tests.dagster_runs import failure_message, materialize, run_python
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files
from datasets_pipeline_tests.servers.s3 import S3Server

LOCAL_ONLY = "a remote root is supported by the layers raw, cookbook, dataset_dict"


def _table(n: int) -> pa.Table:
    return pa.table({"x": pa.array(range(n), pa.int64()), "s": pa.array([f"row {i}" for i in range(n)], pa.string())})


def test_dataset_dict_on_s3_is_written_to_the_bucket_not_a_local_s3_folder(hub_server, hf_env, s3_env, tmp_path, monkeypatch):
    """Regression: an ``s3://`` root once made DatasetDicts land in ``./s3:/bucket/…`` on the local disk."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DATASETS_PIPELINE_DATA", s3_env.url("data"))
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files(train_rows=40))
    for split in ("train", "test"):
        result = materialize(["raw/gsm8k", "cookbook/gsm8k"], f"main/{split}")
        assert result.success, failure_message(result)
    result = materialize(["dataset_dict/gsm8k"], "main")
    assert result.success, failure_message(result)
    assert list(work.iterdir()) == []  # nothing written locally
    keys = s3_env.keys("data/dataset_dict/")
    pointer = s3_env.client().get_object(Bucket=s3_env.bucket, Key="data/dataset_dict/gsm8k/main.pointer")["Body"].read().decode().strip()
    assert pointer.startswith(".main.")
    assert sorted(k.removeprefix(f"data/dataset_dict/gsm8k/{pointer}/") for k in keys if pointer in k) == [
        "dataset_dict.json",
        "test/data-00000-of-00001.arrow", "test/dataset_info.json", "test/state.json",
        "train/data-00000-of-00001.arrow", "train/dataset_info.json", "train/state.json",
    ]
    assert "data/dataset_dict/gsm8k/main.pointer" in keys
    assert dp.dataset_dict_path("gsm8k") == f"s3://{s3_env.bucket}/data/dataset_dict/gsm8k/{pointer}"
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["path"].value == f"s3://{s3_env.bucket}/data/dataset_dict/gsm8k/main"


@pytest.mark.parametrize(
    "call, asset, layer",
    [
        (lambda l: l.tokenized("no_robots", "qwen3", "default", "train"), "tokenized/no_robots", "tokenized"),
        (lambda l: l.mixture("chat_mix", "train"), "mixture/chat_mix", "mixture"),
        (lambda l: l.sample("gsm8k", "main", "test"), "sample/gsm8k", "sample"),
        (lambda l: l.tokenizer("qwen3"), "tokenizer/qwen3", "tokenizer"),
        (lambda l: l.split("tokenized", "no_robots", "default", "train"), "tokenized/no_robots", "tokenized"),
    ],
)
def test_local_only_layers_refuse_a_remote_root(call, asset, layer):
    remote = DataLayout("s3://bucket/prefix/")
    with pytest.raises(UnsupportedStorageError) as info:
        call(remote)
    assert str(info.value) == (
        f"{asset}: the {layer} layer needs a local DATASETS_PIPELINE_DATA folder, not s3://bucket/prefix; {LOCAL_ONLY}"
    )
    local = DataLayout("/srv/data")
    assert call(local).startswith(f"/srv/data/{layer}/")


def test_io_manager_and_load_refuse_local_only_layers_on_a_remote_root(monkeypatch):
    from datasets_pipeline.defs.io_manager import ArrowIOManager

    monkeypatch.setenv("DATASETS_PIPELINE_DATA", "s3://bucket/prefix")
    manager = ArrowIOManager()
    assert manager.root == "s3://bucket/prefix"
    assert str(manager.split_path(["cookbook", "gsm8k"], "main/test")) == "s3://bucket/prefix/cookbook/gsm8k/main/test.arrow"
    with pytest.raises(UnsupportedStorageError, match="tokenized/no_robots: the tokenized layer needs a local"):
        manager.split_path(["tokenized", "no_robots"], "default/train")
    with pytest.raises(UnsupportedStorageError, match="tokenized/no_robots: the tokenized layer needs a local"):
        dp.load("no_robots", "default", "train", layer="tokenized", profile="default")


def test_io_manager_base_dir_other_than_the_data_root_is_refused(data_dir, tmp_path):
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.defs.io_manager import ArrowIOManagerFactory
    from datasets_pipeline.definitions import resources

    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(dg.DagsterResourceFunctionError) as info:
        dg.materialize(
            catalog_assets(), selection=["raw/gsm8k"], partition_key="main/test",
            resources={**resources(), "arrow_io_manager": ArrowIOManagerFactory(base_dir=str(elsewhere))},
            instance=dg.DagsterInstance.ephemeral(),
        )
    assert isinstance(info.value.__cause__, UnsupportedStorageError)
    assert str(info.value.__cause__) == (
        f"arrow_io_manager base_dir {str(elsewhere)!r} differs from the data root {str(data_dir)!r} "
        "(DATASETS_PIPELINE_DATA) that datasets_pipeline.load() reads; set DATASETS_PIPELINE_DATA to the folder or URL instead"
    )
    assert not elsewhere.exists() and not data_dir.exists()
    same = ArrowIOManagerFactory(base_dir=str(data_dir) + "/").create_io_manager(None)
    assert same.root == str(data_dir)


def test_storage_options_follow_the_aws_variables(s3_env: S3Server):
    options = storage_options("s3://bucket/x")
    assert options == {
        "key": "testing-access-key", "secret": "testing-secret-key",
        "client_kwargs": {"endpoint_url": s3_env.endpoint, "region_name": "us-east-1"},
    }
    assert storage_options("/local/folder") == {} and DataLayout("/local").storage_options() == {}


def test_split_files_publish_by_copy_and_readers_never_see_the_temporary(s3_env: S3Server):
    url = s3_env.url("data/raw/t/main/test.arrow")
    staged = stage_batches(url, [_table(3)])
    assert [k for k in s3_env.keys("data/") if ".tmp-test.arrow." in k] and "data/raw/t/main/test.arrow" not in s3_env.keys()
    with pytest.raises(FileNotFoundError):
        DataLayout(s3_env.url("data")).read(url)
    staged.publish()
    assert s3_env.keys("data/") == ["data/raw/t/main/test.arrow"]
    assert DataLayout(s3_env.url("data")).read(url).to_pydict() == _table(3).to_pydict()
    # a failed write leaves the published object as it was and no temporary
    def broken():
        yield _table(2).to_batches()[0]
        raise RuntimeError("source went away")
    with pytest.raises(RuntimeError, match="source went away"):
        stage_batches(url, broken(), schema=_table(0).schema)
    assert s3_env.keys("data/") == ["data/raw/t/main/test.arrow"]
    assert DataLayout(s3_env.url("data")).read(url).num_rows == 3


def test_stale_remote_temporaries_are_removed(s3_env: S3Server):
    url = s3_env.url("data/cookbook/t/main/test.arrow")
    write_table(url, _table(2))
    client = s3_env.client()
    dead = temporary_name("test.arrow").rsplit("-", 2)
    dead_name = f"{dead[0]}-999999999-{dead[2]}"  # this machine, a pid that does not run
    other = ".tmp-test.arrow.00000000-1-" + "a" * 32  # another machine: judged by age
    for name in (dead_name, other):
        client.put_object(Bucket=s3_env.bucket, Key=f"data/cookbook/t/main/{name}", Body=b"partial")
    assert remove_stale_temporaries(url, older_than=None) == [dead_name]
    assert remove_stale_temporaries(url, older_than=time.time() + 60) == [other]
    assert s3_env.keys("data/") == ["data/cookbook/t/main/test.arrow"]


def test_remote_versions_stay_for_the_grace_period(s3_env: S3Server, monkeypatch):
    target = s3_env.url("data/dataset_dict/t/default")
    versions = []
    for n in (1, 2):
        publish_dir(target, lambda d, n=n: save_dataset_dict({"train": _table(n)}, d))
        versions.append(str(resolve_dir(target)).rsplit("/", 1)[-1])
    assert list_versions(target) == versions  # the replaced version stays (default grace: one hour)
    old = f"{target.rsplit('/', 1)[0]}/{versions[0]}"
    assert load_dataset_dict(old)["train"].num_rows == 1
    time.sleep(2.1)  # the store's clock has one-second steps
    publish_dir(target, lambda d: save_dataset_dict({"train": _table(3)}, d), grace=1)
    third = str(resolve_dir(target)).rsplit("/", 1)[-1]
    assert list_versions(target) == [versions[1], third]  # replaced 2 s ago: gone; just replaced: kept
    monkeypatch.setenv("DATASETS_PIPELINE_VERSION_GRACE", "0")
    publish_dir(target, lambda d: save_dataset_dict({"train": _table(4)}, d))
    assert len(list_versions(target)) == 1 and load_dataset_dict(target)["train"].num_rows == 4


def test_dataset_dict_path_on_s3_opens_with_datasets_in_a_fresh_process(hub_server, hf_env, s3_env, monkeypatch):
    monkeypatch.setenv("DATASETS_PIPELINE_DATA", s3_env.url("data"))
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files(train_rows=40))
    for split in ("train", "test"):
        assert materialize(["raw/gsm8k", "cookbook/gsm8k"], f"main/{split}").success
    assert materialize(["dataset_dict/gsm8k"], "main").success
    code = (
        "import json, datasets, datasets_pipeline as dp\n"
        "from datasets_pipeline.layout import storage_options\n"
        "url = dp.dataset_dict_path('gsm8k')\n"
        "d = datasets.load_from_disk(url, storage_options=storage_options(url))\n"
        "t = dp.load('gsm8k', 'main', 'test')\n"
        "print(json.dumps({'url': url, 'splits': {k: v.num_rows for k, v in d.items()}, 'first': d['test'][0]['answer'],"
        " 'cookbook': t.num_rows}))\n"
    )
    proc = run_python(code, {**s3_env.env, "DATASETS_PIPELINE_DATA": s3_env.url("data")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["url"].startswith(f"s3://{s3_env.bucket}/data/dataset_dict/gsm8k/.main.")
    assert out["splits"] == {"train": 40, "test": 1319} and out["first"] == "18" and out["cookbook"] == 1319


def test_layout_locations_local_and_remote(tmp_path, monkeypatch):
    from datasets_pipeline.errors import UnsafePathError

    monkeypatch.setenv("DATASETS_PIPELINE_DATA", "s3://bucket/prefix/")
    remote = DataLayout.from_env()
    assert remote.remote and remote.root == "s3://bucket/prefix"
    assert remote.split("raw", "gsm8k", "main", "test") == "s3://bucket/prefix/raw/gsm8k/main/test.arrow"
    assert remote.dataset_dict("math_rl", "default") == "s3://bucket/prefix/dataset_dict/math_rl/default"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATASETS_PIPELINE_DATA", "rel/data")
    local = DataLayout.from_env()
    assert not local.remote and local.root == str(tmp_path / "rel" / "data")
    assert local.split("cookbook", "gsm8k", "main", "test") == str(tmp_path / "rel/data/cookbook/gsm8k/main/test.arrow")
    assert DataLayout("file://" + str(tmp_path)).root == str(tmp_path)
    for layout in (remote, local):
        with pytest.raises(UnsafePathError):
            layout.location("../outside")
        with pytest.raises(UnsafePathError):
            layout.split("raw", "..", "main", "test")
        with pytest.raises(UnsafePathError):
            layout.dataset_dict("gsm8k", "../main")


def test_remote_read_memory_stays_bounded_by_the_spool_block(s3_env: S3Server):
    """A remote split is copied in 8 MiB requests to a local spool file and memory-mapped, not held as bytes."""
    import tracemalloc

    import numpy as np

    from datasets_pipeline.engine.ipc import SPOOL_BLOCK

    rows = 6_000_000  # 48 MB of int64
    url = s3_env.url("data/raw/big/main/train.arrow")
    write_table(url, pa.table({"x": pa.array(np.arange(rows, dtype=np.int64))}), max_chunksize=1_000_000)
    allocated = pa.total_allocated_bytes()  # what earlier tests of this process still hold
    tracemalloc.start()
    try:
        table = DataLayout(s3_env.url("data")).read(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert table.num_rows == rows and table.column("x")[rows - 1].as_py() == rows - 1
    assert pa.total_allocated_bytes() - allocated < 1 << 20  # the columns are memory-mapped, not allocated
    assert peak < 4 * SPOOL_BLOCK < rows * 8, peak  # reading the whole object as bytes would peak above 48 MB


def test_a_damaged_remote_pointer_is_an_error_for_readers_and_replaced_by_the_next_publication(s3_env: S3Server):
    from datasets_pipeline.errors import DatasetsPipelineError

    target = s3_env.url("data/dataset_dict/t/default")
    s3_env.client().put_object(Bucket=s3_env.bucket, Key="data/dataset_dict/t/default.pointer", Body=b"../../elsewhere\n")
    with pytest.raises(DatasetsPipelineError, match="pointer file holds '../../elsewhere', not a version folder of 'default'"):
        resolve_dir(target)
    publish_dir(target, lambda d: save_dataset_dict({"train": _table(2)}, d))
    assert load_dataset_dict(str(resolve_dir(target)))["train"].num_rows == 2
    assert len(list_versions(target)) == 1
