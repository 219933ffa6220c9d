"""Shared pytest fixtures."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datasets_pipeline_tests.hub_server import HubServer
from datasets_pipeline_tests.servers.postgres import PostgresServer, find_postgres_bin
from datasets_pipeline_tests.servers.redis import RedisServer, find_redis_server
from datasets_pipeline_tests.servers.s3 import S3Server

# Step retries of transient Hub faults wait 0.1 s instead of 10 s (also in dagster CLI subprocesses).
os.environ.setdefault("DATASETS_PIPELINE_HUB_RETRY_DELAY", "0.1")


@pytest.fixture
def hub_server() -> Iterator[HubServer]:
    """A started loopback Hub on 127.0.0.1 (random port), stopped after the test."""
    with HubServer() as server:
        yield server


@dataclass(frozen=True)
class HfEnv:
    endpoint: str
    hf_home: Path
    cache_dir: Path  # the hub cache, HF_HOME/hub


@pytest.fixture
def hf_env(hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HfEnv:
    """Point the Hugging Face environment at ``hub_server`` with an empty HF_HOME and no token.

    ``huggingface_hub`` reads these variables at import, so the matching
    ``huggingface_hub.constants`` are set too, as if the variables had been set
    before the import (no request can leave for the public Hub).
    """
    from huggingface_hub import constants

    hf_home = tmp_path / "hf_home"
    cache_dir = hf_home / "hub"
    for name, value in {
        "HF_ENDPOINT": hub_server.url,
        "HF_HOME": str(hf_home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "ENDPOINT": hub_server.url,
        "HUGGINGFACE_CO_URL_TEMPLATE": hub_server.url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(cache_dir),
        "HUGGINGFACE_HUB_CACHE": str(cache_dir),
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(hf_home / ".agent_harnesses.json"),
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_PROGRESS_BARS": True,
        "HF_HUB_OFFLINE": False,
    }.items():
        monkeypatch.setattr(constants, name, value)
    return HfEnv(endpoint=hub_server.url, hf_home=hf_home, cache_dir=cache_dir)


class _RecordingTime:
    """The ``time`` module with a ``sleep`` that records the wait instead of sleeping."""

    def __init__(self, waits: list[float]) -> None:
        self._waits = waits

    def sleep(self, seconds: float) -> None:
        self._waits.append(seconds)

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


@pytest.fixture
def no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Skip huggingface_hub's retry and resume sleeps; yields the list of requested waits."""
    waits: list[float] = []
    stub = _RecordingTime(waits)
    for module in ("huggingface_hub.utils._http", "huggingface_hub.file_download"):
        monkeypatch.setattr(importlib.import_module(module), "time", stub)
    yield waits


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``DATASETS_PIPELINE_DATA`` folder, with no local Hub mirror configured."""
    folder = tmp_path / "data"
    monkeypatch.setenv("DATASETS_PIPELINE_DATA", str(folder))
    monkeypatch.delenv("DATASETS_PIPELINE_HUB_MIRROR", raising=False)
    return folder


@pytest.fixture
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server in its own process on 127.0.0.1 with an empty bucket, stopped after the test."""
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """``s3_server`` with the AWS variables of this process pointing at it (and no other AWS settings).

    fsspec caches one ``S3FileSystem`` per set of arguments, not per environment: the cache is
    cleared before and after, so no client of an earlier test's server is reused.
    """
    import s3fs

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    yield s3_server
    s3fs.S3FileSystem.clear_instance_cache()


@dataclass(frozen=True)
class DataRoot:
    """Where a test's materialized data lives: a local folder or an ``s3://`` prefix."""

    kind: str  # "local" or "s3"
    url: str  # the DATASETS_PIPELINE_DATA value
    s3: S3Server | None = None

    @property
    def is_remote(self) -> bool:
        return self.kind != "local"

    def env(self) -> dict[str, str]:
        """Variables a subprocess needs to reach this root."""
        return {"DATASETS_PIPELINE_DATA": self.url, **(self.s3.env if self.s3 else {})}

    def location(self, relpath: str) -> str:
        """``relpath`` under the root: a local path or an ``s3://`` URL."""
        return f"{self.url}/{relpath}" if self.is_remote else str(Path(self.url) / relpath)

    def _fs(self):
        import fsspec

        from datasets_pipeline.layout import storage_options

        if not self.is_remote:
            return fsspec.filesystem("file"), self.url
        fs = fsspec.filesystem("s3", skip_instance_cache=True, **storage_options(self.url))
        return fs, self.url.removeprefix("s3://")

    def read_bytes(self, relpath: str) -> bytes:
        fs, base = self._fs()
        return fs.cat_file(f"{base}/{relpath}")

    def read_table(self, relpath: str):
        import pyarrow as pa

        return pa.ipc.open_file(pa.py_buffer(self.read_bytes(relpath))).read_all()

    def exists(self, relpath: str) -> bool:
        fs, base = self._fs()
        return fs.exists(f"{base}/{relpath}")

    def listdir(self, relpath: str) -> list[str]:
        """Names directly under ``relpath`` (files and folders / common prefixes), sorted."""
        fs, base = self._fs()
        path = f"{base}/{relpath}".rstrip("/")
        if not fs.exists(path):
            return []
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False))

    def remove(self, relpath: str) -> None:
        fs, base = self._fs()
        fs.rm_file(f"{base}/{relpath}")


@pytest.fixture(params=["local", "s3"])
def data_root(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataRoot:
    """``DATASETS_PIPELINE_DATA`` on a local folder or on ``s3://<bucket>/data`` of a fresh S3 server,
    with no local Hub mirror configured (the test runs once per kind)."""
    monkeypatch.delenv("DATASETS_PIPELINE_HUB_MIRROR", raising=False)
    if request.param == "local":
        folder = tmp_path / "data"
        monkeypatch.setenv("DATASETS_PIPELINE_DATA", str(folder))
        return DataRoot("local", str(folder))
    server = request.getfixturevalue("s3_env")
    url = server.url("data")
    monkeypatch.setenv("DATASETS_PIPELINE_DATA", url)
    return DataRoot("s3", url, server)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """Debian's redis-server on 127.0.0.1 (free port, temporary folder), stopped after the test."""
    if find_redis_server() is None:
        pytest.skip("redis-server is not installed (scripts/install_servers.sh installs Debian's redis-server)")
    with RedisServer() as server:
        yield server


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """Debian's PostgreSQL on 127.0.0.1 (free port, cluster in a temporary folder), stopped after the test."""
    if find_postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/install_servers.sh installs Debian's postgresql)")
    with PostgresServer() as server:
        yield server
