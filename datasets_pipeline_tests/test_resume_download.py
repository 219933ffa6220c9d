"""Partial downloads are resumed with a Range request: after a kill -9 of a real Dagster run, after a
failed transfer, from a partial a killed ``hf_hub_download`` left, and correctly when the server
ignores the range or the partial holds wrong bytes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline.hub import HubSource
from datasets_pipeline_tests.dagster_runs import REPO_ROOT
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files, gsm8k_rows
from datasets_pipeline_tests.hub_server import Fault

REPO = "openai/gsm8k"
TEST_FILE = "main/test-00000-of-00001.parquet"


def _file_gets(server, sha: str) -> list:
    return [r for r in server.requests if r.method == "GET" and r.path.endswith(f"/resolve/{sha}/{TEST_FILE}")]


def _blobs(cache_dir: Path) -> Path:
    return cache_dir / "datasets--openai--gsm8k" / "blobs"


def test_download_killed_with_its_dagster_run_resumes_at_the_partial_byte_count(hub_server, tmp_path, data_dir):
    sha = hub_server.add_repo(REPO, gsm8k_repo_files())
    data = hub_server.file_bytes(REPO, TEST_FILE)
    sha256 = hashlib.sha256(data).hexdigest()
    hf_home = tmp_path / "hf_home"
    (tmp_path / "dagster_home").mkdir()
    env = {**os.environ, "HF_ENDPOINT": hub_server.url, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1",
           "DATASETS_PIPELINE_DATA": str(data_dir), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "DATASETS_PIPELINE_EXECUTOR": "multiprocess"}  # fmt: skip
    env.pop("HF_TOKEN", None)
    args = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "datasets_pipeline.definitions",
            "--select", "raw/gsm8k", "--partition", "main/test"]  # fmt: skip
    sent = 150_000
    stall = hub_server.add_fault(Fault(path=r"/resolve/.*/main/test-", method="GET", kind="stall", nbytes=sent, delay=120))
    partial = _blobs(hf_home / "hub") / f"{sha256}.incomplete"
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (stall.hits and partial.exists() and partial.stat().st_size == sent):
            assert proc.poll() is None and time.monotonic() < deadline, "the run never wrote the partial download"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert partial.read_bytes() == data[:sent]  # what the killed run had received stays on disk

    again = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    gets = _file_gets(hub_server, sha)
    assert [(g.range, g.status) for g in gets] == [(None, 200), (f"bytes={sent}-", 206)]
    assert read_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow").to_pylist() == gsm8k_rows("main")
    assert (_blobs(hf_home / "hub") / sha256).read_bytes() == data
    assert not list(_blobs(hf_home / "hub").glob("*.incomplete"))


@pytest.fixture
def source(hub_server, hf_env, no_backoff_sleep) -> HubSource:
    return HubSource(endpoint=hub_server.url, cache_dir=str(hf_env.cache_dir), sleep=lambda s: None, max_attempts=3)


def test_failed_transfer_is_resumed_by_the_next_attempt(hub_server, hf_env, source):
    sha = hub_server.add_repo(REPO, gsm8k_repo_files())
    data = hub_server.file_bytes(REPO, TEST_FILE)
    cut = hub_server.add_fault(Fault(path=r"/resolve/.*/main/test-", method="GET", kind="truncate", nbytes=200_000))
    split = source.fetch_split(REPO, "main", "test")
    assert cut.hits == 1 and split.files[0].local_path.read_bytes() == data
    gets = _file_gets(hub_server, sha)
    assert [(g.range, g.status) for g in gets] == [(None, 200), ("bytes=200000-", 206)]


@pytest.mark.parametrize("leftover", ["hf_hub_download", "ours"])
def test_server_ignoring_range_still_gives_the_right_bytes(hub_server, hf_env, source, leftover):
    sha = hub_server.add_repo(REPO, gsm8k_repo_files())
    data = hub_server.file_bytes(REPO, TEST_FILE)
    sha256 = hashlib.sha256(data).hexdigest()
    blobs = _blobs(hf_env.cache_dir)
    blobs.mkdir(parents=True)
    name = f"{sha256}.1a2b3c4d.incomplete" if leftover == "hf_hub_download" else f"{sha256}.incomplete"
    (blobs / name).write_bytes(data[:100_000])  # what a killed download left
    (blobs / f"{sha256}.5e6f7a8b.incomplete").write_bytes(data[:1000])  # a smaller one: dropped
    ignore = hub_server.add_fault(Fault(path=r"/resolve/.*/main/test-", method="GET", kind="ignore_range"))
    split = source.fetch_split(REPO, "main", "test")
    assert ignore.hits == 1 and split.files[0].local_path.read_bytes() == data
    assert [(g.range, g.status) for g in _file_gets(hub_server, sha)] == [("bytes=100000-", 200)]
    assert sorted(p.name for p in blobs.iterdir()) == [sha256]


def test_partial_with_wrong_bytes_is_caught_by_the_checksum_and_downloaded_from_zero(hub_server, hf_env, source, caplog):
    sha = hub_server.add_repo(REPO, gsm8k_repo_files())
    data = hub_server.file_bytes(REPO, TEST_FILE)
    sha256 = hashlib.sha256(data).hexdigest()
    blobs = _blobs(hf_env.cache_dir)
    blobs.mkdir(parents=True)
    (blobs / f"{sha256}.incomplete").write_bytes(b"\0" * 100_000)  # not a prefix of the file
    split = source.fetch_split(REPO, "main", "test")
    assert split.files[0].local_path.read_bytes() == data
    assert [(g.range, g.status) for g in _file_gets(hub_server, sha)] == [("bytes=100000-", 206), (None, 200)]
    assert "sha256 of the downloaded copy is" in caplog.text


def test_partial_longer_than_the_file_is_discarded(hub_server, hf_env, source):
    sha = hub_server.add_repo(REPO, gsm8k_repo_files())
    data = hub_server.file_bytes(REPO, TEST_FILE)
    blobs = _blobs(hf_env.cache_dir)
    blobs.mkdir(parents=True)
    (blobs / f"{hashlib.sha256(data).hexdigest()}.incomplete").write_bytes(data + b"extra")
    assert source.fetch_split(REPO, "main", "test").files[0].local_path.read_bytes() == data
    assert [(g.range, g.status) for g in _file_gets(hub_server, sha)] == [(None, 200)]
