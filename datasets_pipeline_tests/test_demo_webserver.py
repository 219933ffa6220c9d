"""The main job: the offline demo materializes bundled real data, then serves the Dagster UI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from datasets_pipeline_tests.dagster_runs import REPO_ROOT, stop_group

QUERY = """
{
  assetNodes(assetKeys: [{path: ["raw", "gsm8k"]}, {path: ["cookbook", "humaneval"]}]) {
    assetKey { path }
    groupName
    partitionKeys
  }
  assetOrError(assetKey: {path: ["cookbook", "gsm8k"]}) {
    ... on Asset { assetMaterializations(limit: 10) { partition } }
  }
  runsOrError { ... on Runs { results { jobName status tags { key value } } } }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, data: bytes | None = None) -> dict:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_offline_demo_materializes_and_serves_the_ui(tmp_path: Path):
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "DATASETS_PIPELINE_DATA": str(tmp_path / "data"),
        "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing listens: the demo must fall back to the bundled mirror
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    env.pop("DATASETS_PIPELINE_HUB_MIRROR", None)
    log = open(tmp_path / "demo.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "datasets_pipeline", "demo", "--port", str(port)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            try:
                info = _get(f"http://127.0.0.1:{port}/server_info")
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "demo.log").read_text()[-3000:]
                time.sleep(1)
        assert "dagster_webserver_version" in info
        out = (tmp_path / "demo.log").read_text()
        assert "bundled offline mirror" in out
        assert "load('gsm8k', 'main', 'test') -> 1319 rows; first answer '18'" in out
        assert "load('gsm8k', 'main', 'test', layer='tokenized', profile='demo') -> 1319 rows, " in out
        assert "load('gsm8k_test_mix', layer='mixture') -> 2638 rows from 2 sources" in out

        deadline = time.monotonic() + 60
        while True:  # the code location loads a moment after the server answers
            data = _get(f"http://127.0.0.1:{port}/graphql", json.dumps({"query": QUERY}).encode())
            if data.get("data") and data["data"]["assetNodes"]:
                break
            assert time.monotonic() < deadline, data
            time.sleep(1)
        nodes = {"/".join(n["assetKey"]["path"]): n for n in data["data"]["assetNodes"]}
        assert nodes["raw/gsm8k"]["partitionKeys"] == ["main/train", "main/test", "socratic/train", "socratic/test"]
        assert nodes["raw/gsm8k"]["groupName"] == "math"
        assert nodes["cookbook/humaneval"]["partitionKeys"] == ["openai_humaneval/test"]
        partitions = {m["partition"] for m in data["data"]["assetOrError"]["assetMaterializations"]}
        assert partitions == {"main/test", "socratic/test"}
        runs = data["data"]["runsOrError"]["results"]
        assert sorted((r["jobName"], r["status"]) for r in runs) == [  # findable under named jobs
            ("dataset_dict_humaneval_job", "SUCCESS"), ("mixture_gsm8k_test_mix_job", "SUCCESS"),
            ("refresh_gsm8k_job", "SUCCESS"), ("refresh_gsm8k_job", "SUCCESS"), ("refresh_humaneval_job", "SUCCESS"),
            ("tokenize_gsm8k_job", "SUCCESS"), ("tokenizer_demo_job", "SUCCESS"),
        ]
        home = tmp_path / "dagster_home"
        assert (home / "dagster.yaml").resolve() == (REPO_ROOT / "dagster.yaml").resolve()  # the repository's settings
        assert "will not be used to configure Dagster" not in (tmp_path / "demo.log").read_text()
    finally:
        stop_group(proc, timeout=30)
        log.close()
    assert (tmp_path / "data" / "dataset_dict" / "humaneval" / "openai_humaneval" / "dataset_dict.json").exists()
    from datasets_pipeline.engine.ipc import read_table

    tokens = read_table(tmp_path / "data" / "tokenized" / "gsm8k" / "demo" / "main" / "test.arrow")
    assert tokens.num_rows == 1319 and tokens.column("source_row").to_pylist() == list(range(1319))
    mixed = read_table(tmp_path / "data" / "mixture" / "gsm8k_test_mix" / "train.arrow")
    assert mixed.num_rows == 2638
    assert sorted(mixed.column("source").value_counts().to_pylist(), key=lambda c: c["values"]) == [
        {"values": "cookbook/gsm8k@main/test", "counts": 1319}, {"values": "cookbook/gsm8k@socratic/test", "counts": 1319},
    ]
    assert not (tmp_path / "data" / "dataset_dict" / "gsm8k").exists()  # its train split is not bundled
