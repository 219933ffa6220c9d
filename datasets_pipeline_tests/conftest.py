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
def redis_server() -> Iterator[object]:
    """Debian's redis-server on 127.0.0.1 (free port, temporary folder), stopped after the test."""
    from datasets_pipeline_tests.servers.redis import RedisServer, find_redis_server

    if find_redis_server() is None:
        pytest.skip("redis-server is not installed (scripts/install_servers.sh installs Debian's redis-server)")
    with RedisServer() as server:
        yield server


@pytest.fixture
def postgres_server() -> Iterator[object]:
    """Debian's PostgreSQL on 127.0.0.1 (free port, cluster in a temporary folder), stopped after the test."""
    from datasets_pipeline_tests.servers.postgres import PostgresServer, find_postgres_bin

    if find_postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/install_servers.sh installs Debian's postgresql)")
    with PostgresServer() as server:
        yield server
