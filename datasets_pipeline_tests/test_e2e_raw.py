"""End to end: the raw layer against a loopback Hub, through real Dagster runs and real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace
from pathlib import Path

import pyarrow as pa
import pytest

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline.errors import UnsafePathError
from datasets_pipeline_tests.dagster_runs import REPO_ROOT, SLOW_WRITER, cli_env, failure_message, materialize, run_cli, run_python
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files, gsm8k_rows
from datasets_pipeline_tests.hub_server import Fault

REPO = "openai/gsm8k"


def test_cli_materializes_raw_gsm8k_equal_to_the_served_source(hub_server, tmp_path, data_root):
    sha = hub_server.add_repo(REPO, gsm8k_repo_files())
    env = {
        "HF_ENDPOINT": hub_server.url,
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        **data_root.env(),
    }
    (tmp_path / "dagster_home").mkdir()
    env.pop("HF_TOKEN", None)
    proc = run_cli(
        ["asset", "materialize", "-m", "datasets_pipeline.definitions", "--select", "raw/gsm8k", "--partition", "main/test"],
        env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RUN_SUCCESS" in proc.stderr

    table = data_root.read_table("raw/gsm8k/main/test.arrow")
    expected = gsm8k_rows("main")
    assert table.num_rows == 1319
    assert table.to_pylist() == expected
    assert table.column_names == ["question", "answer"]
    assert data_root.listdir("raw/gsm8k/main") == ["test.arrow"]  # no temporary file left behind

    # The lineage is in the materialization metadata of the instance the CLI used.
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "dagster_home"))) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "gsm8k"]))
        meta = event.asset_materialization.metadata
    assert event.asset_materialization.partition == "main/test"
    assert meta["revision_sha"].value == sha
    assert meta["dagster/row_count"].value == 1319
    files = meta["source_files"].value
    assert [f["path"] for f in files] == ["main/test-00000-of-00001.parquet"]
    assert files[0]["revision"] == sha and len(files[0]["sha256"]) == 64
    assert [c.name for c in meta["dagster/column_schema"].value.columns] == ["question", "answer"]
    assert "Janet" in meta["preview"].value

    # A new process, no Dagster instance: load() memory-maps the same rows (streams them from S3).
    code = (
        "import json, datasets_pipeline as dp; t = dp.load('gsm8k', 'main', 'test', layer='raw');"
        "print(json.dumps(t.to_pylist()))"
    )
    loaded = run_python(code, data_root.env())
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == expected


def test_load_names_the_command_when_not_materialized(data_dir):
    import datasets_pipeline as dp
    from datasets_pipeline.errors import NotMaterializedError

    with pytest.raises(NotMaterializedError) as err:
        dp.load("gsm8k", "main", "test", layer="raw")
    text = str(err.value)
    assert "dagster asset materialize -m datasets_pipeline.definitions --select raw/gsm8k --partition main/test" in text
    assert "'gsm8k'" in text and "'main'" in text and "'test'" in text


def _materialize_raw(partition: str = "main/test"):
    return materialize(["raw/gsm8k"], partition)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(path=r"/resolve/", method="GET", kind="truncate", times=None),
        Fault(path=r"/resolve/", method="GET", kind="corrupt", times=None),
        Fault(path=r"/resolve/", method="GET", kind="status", status=503, times=None),
    ],
    ids=["truncated", "corrupted-same-size", "persistent-503"],
)
def test_failed_download_keeps_the_last_good_version(hub_server, hf_env, no_backoff_sleep, data_dir, monkeypatch, fault):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    first = _materialize_raw()
    assert first.success, failure_message(first)
    path = data_dir / "raw" / "gsm8k" / "main" / "test.arrow"
    good = path.read_bytes()

    # The branch moves to a new commit with different rows; every download of it now fails.
    files = gsm8k_repo_files()
    files["main/test-00000-of-00001.parquet"] = gsm8k_repo_files(train_rows=7)["main/train-00000-of-00001.parquet"]
    hub_server.update_repo(REPO, files)
    hub_server.add_fault(fault)
    monkeypatch.setattr("datasets_pipeline.hub.retry.time", SimpleNamespace(sleep=lambda s: None))

    second = _materialize_raw()
    assert not second.success
    message = failure_message(second)
    assert "main/test-00000-of-00001.parquet" in message
    assert path.read_bytes() == good  # the previous version is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["test.arrow"]  # nothing partial visible
    assert read_table(path).num_rows == 1319


def test_transient_faults_are_retried(hub_server, hf_env, no_backoff_sleep, data_dir, monkeypatch):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    monkeypatch.setattr("datasets_pipeline.hub.retry.time", SimpleNamespace(sleep=lambda s: None))
    hub_server.add_fault(Fault(path=r"/api/datasets/openai/gsm8k", method="GET", kind="status", status=500, times=1))
    hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="status", status=429, headers={"Retry-After": "1"}, times=1))
    result = _materialize_raw()
    assert result.success, failure_message(result)
    assert read_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow").num_rows == 1319
    statuses = [r.status for r in hub_server.requests]
    assert 500 in statuses and 429 in statuses




def test_sigkill_mid_write_leaves_no_visible_partial_file(tmp_path):
    from datasets_pipeline.engine.ipc import write_table

    target = tmp_path / "raw" / "toy" / "default" / "train.arrow"
    write_table(target, pa.table({"x": [1, 2, 3]}))
    before = target.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target), "1000", "1000", "0.01"], stdout=subprocess.PIPE, text=True)
    for _ in range(20):  # wait until it is well into the write
        assert proc.stdout.readline().startswith("batch")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == before
    assert read_table(target).column("x").to_pylist() == [1, 2, 3]
    leftovers = [p.name for p in target.parent.iterdir() if p.name != "train.arrow"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-train.arrow.")  # hidden, never read


def _processes_with_env(value: str) -> list[int]:
    """Live processes whose environment mentions ``value`` (zombies have an empty environment)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if value.encode() in fh.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_killed_dagster_run_loses_nothing_and_the_next_run_recovers(hub_server, tmp_path, data_dir):
    """SIGKILL a whole ``dagster asset materialize`` run (CLI process and its step subprocess, the
    default multiprocess executor) while it is fetching a new revision: the last good file stays,
    nothing partial is visible, and the next run materializes the new revision."""
    hub_server.add_repo(REPO, gsm8k_repo_files())
    (tmp_path / "dagster_home").mkdir()
    env = cli_env(hub_server.url, tmp_path, data_dir, executor="multiprocess")
    args = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "datasets_pipeline.definitions",
            "--select", "raw/gsm8k", "--partition", "main/test"]  # fmt: skip
    first = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr[-3000:]
    path = data_dir / "raw" / "gsm8k" / "main" / "test.arrow"
    good = path.read_bytes()

    files = gsm8k_repo_files()  # the new revision: 1,000 rows (fewer, but within the allowed row loss)
    files["main/test-00000-of-00001.parquet"] = gsm8k_repo_files(train_rows=1000)["main/train-00000-of-00001.parquet"]
    new_sha = hub_server.update_repo(REPO, files)
    stall = hub_server.add_fault(Fault(path=r"/resolve/" + new_sha + r"/main/test-", method="GET", kind="delay", delay=60, times=1))
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    marker = str(tmp_path / "dagster_home")
    try:
        deadline = time.monotonic() + 120
        while stall.hits == 0:  # the run's step is now inside the download of the new revision
            assert proc.poll() is None and time.monotonic() < deadline, "the run never reached the download"
            time.sleep(0.05)
        assert len(_processes_with_env(marker)) >= 2  # the CLI and the step's own process
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _processes_with_env(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with_env(marker) == []  # no step left running to finish the write later
    assert path.read_bytes() == good
    assert sorted(p.name for p in path.parent.iterdir()) == ["test.arrow"]
    assert read_table(path).num_rows == 1319

    second = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    assert read_table(path).num_rows == 1000
    assert sorted(p.name for p in path.parent.iterdir()) == ["test.arrow"]


@pytest.mark.parametrize("key", ["../main/test", "main/../../etc", "/etc/passwd", "main/test/../../x", "main/..", "..\\x/test"])
def test_partition_keys_that_escape_the_data_folder_are_refused(key, data_dir):
    from upath import UPath

    from datasets_pipeline.defs.io_manager import ArrowIOManager
    from datasets_pipeline.paths import check_partition_key

    with pytest.raises(UnsafePathError):
        check_partition_key(key)
    with pytest.raises(UnsafePathError):
        ArrowIOManager(base_path=UPath(str(data_dir))).make_safe_partition_path(UPath(str(data_dir)) / "raw" / "gsm8k", key)


@pytest.mark.parametrize("config", ["../../etc", "/abs", "..", "a/b"])
def test_load_refuses_unsafe_config_names(config, data_dir):
    import datasets_pipeline as dp

    with pytest.raises((UnsafePathError, ValueError)):
        dp.load("gsm8k", config, "test")
    with pytest.raises((UnsafePathError, ValueError)):
        dp.dataset_dict_path("gsm8k", config)


def test_gated_repo_needs_the_token_and_the_token_is_never_recorded(hub_server, hf_env, no_backoff_sleep, data_dir, monkeypatch):
    hub_server.add_repo(REPO, gsm8k_repo_files(), gated=True)
    denied = _materialize_raw()
    assert not denied.success
    message = failure_message(denied)
    assert "HF_TOKEN" in message and "openai/gsm8k" in message and "gated" in message.lower()

    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    result = _materialize_raw()
    assert result.success, failure_message(result)
    assert read_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow").num_rows == 1319
    assert any(r.headers.get("authorization") == f"Bearer {hub_server.token}" for r in hub_server.requests)
    # Not in any event (logs, metadata, errors) of either run, nor in any file the project wrote.
    for run in (denied, result):
        for event in run.all_events:
            assert hub_server.token not in repr(event)
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert hub_server.token.encode() not in path.read_bytes(), path
