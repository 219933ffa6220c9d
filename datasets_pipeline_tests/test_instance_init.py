"""A fresh ``DAGSTER_HOME`` initialized by the project's init step takes concurrent first runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline_tests.dagster_runs import REPO_ROOT
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files


OPEN_INSTANCE = """
import dagster as dg
with dg.DagsterInstance.get() as instance:
    instance.get_runs(limit=1)
    instance.event_log_storage.get_concurrency_keys()
print("ok")
"""


def test_two_concurrent_first_runs_on_a_fresh_instance_after_init_both_succeed(hub_server, tmp_path, data_dir, monkeypatch):
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    home = tmp_path / "fresh" / "dagster_home"  # does not exist yet
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    env = {**os.environ, "HF_ENDPOINT": hub_server.url, "HF_HOME": str(tmp_path / "hf_home"),
           "HF_HUB_DISABLE_TELEMETRY": "1", "DATASETS_PIPELINE_DATA": str(data_dir), "DAGSTER_HOME": str(home),
           "DATASETS_PIPELINE_EXECUTOR": "in_process"}  # fmt: skip
    env.pop("HF_TOKEN", None)
    init = subprocess.run([sys.executable, "-m", "datasets_pipeline", "init"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert f"Dagster instance ready in {home}" in init.stdout
    assert (home / "dagster.yaml").read_text() == (REPO_ROOT / "dagster.yaml").read_text()
    assert (home / "history" / "runs.db").is_file() and (home / "schedules" / "schedules.db").is_file()

    dagster = str(Path(sys.executable).with_name("dagster"))
    procs = [
        subprocess.Popen([dagster, "asset", "materialize", "-m", "datasets_pipeline.definitions", "--select",
                          "raw/gsm8k", "--partition", partition], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
        for partition in ("main/test", "socratic/test")
    ]
    # and, at the same time, four more processes opening the instance for the first time (without the
    # init step, four such processes broke a fresh SQLite instance in 4 of 6 tries: "more than one head")
    procs += [
        subprocess.Popen([sys.executable, "-c", OPEN_INSTANCE], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
        for _ in range(4)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [out.strip() for _, (out, _) in zip(range(6), results)][2:] == ["ok"] * 4
    for proc, (_, err) in zip(procs, results):
        assert proc.returncode == 0, err[-3000:]
        assert "alembic" not in err.lower() and "already exists" not in err
    assert read_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow").num_rows == 1319
    assert read_table(data_dir / "raw" / "gsm8k" / "socratic" / "test.arrow").num_rows == 1319
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert [r.status for r in instance.get_runs()] == [dg.DagsterRunStatus.SUCCESS] * 2

    again = subprocess.run([sys.executable, "-m", "datasets_pipeline", "init"], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr  # idempotent: an initialized instance is kept as it is
