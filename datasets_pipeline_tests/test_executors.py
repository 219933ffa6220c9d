"""Where steps run is configuration: ``DATASETS_PIPELINE_EXECUTOR`` or the run's config picks multiprocess,
in_process or celery; a run configured for Celery runs its steps on a worker process with a real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline_tests.dagster_runs import REPO_ROOT, cli_env
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files
from datasets_pipeline_tests.servers.celery_workers import CeleryWorker


def _job_executor_config(monkeypatch, kind: str | None, run_config: dict | None = None) -> dict:
    from datasets_pipeline.definitions import build_defs

    if kind is None:
        monkeypatch.delenv("DATASETS_PIPELINE_EXECUTOR", raising=False)
    else:
        monkeypatch.setenv("DATASETS_PIPELINE_EXECUTOR", kind)
    job = build_defs().resolve_implicit_global_asset_job_def()
    return dg.validate_run_config(job, run_config or {})["execution"]["datasets_pipeline"]


def test_default_executor_is_multiprocess_and_env_or_run_config_selects_another(monkeypatch):
    from datasets_pipeline.defs.executors import pipeline_executor

    assert list(_job_executor_config(monkeypatch, None)) == ["multiprocess"]
    assert list(_job_executor_config(monkeypatch, "in_process")) == ["in_process"]
    assert list(_job_executor_config(monkeypatch, "celery")) == ["celery"]
    # A run's config chooses, whatever the environment's default: one schema in every process.
    chosen = _job_executor_config(monkeypatch, None, {"execution": {"config": {"celery": {"broker": "redis://h:1/0"}}}})
    assert chosen["celery"]["broker"] == "redis://h:1/0"
    assert list(_job_executor_config(monkeypatch, "celery", {"execution": {"config": {"in_process": {}}}})) == ["in_process"]
    assert pipeline_executor("multiprocess").name == "datasets_pipeline"
    monkeypatch.setenv("DATASETS_PIPELINE_EXECUTOR", "dask")
    with pytest.raises(ValueError, match="DATASETS_PIPELINE_EXECUTOR must be one of 'multiprocess', 'in_process', 'celery', not 'dask'"):
        pipeline_executor()


def test_celery_settings_come_from_the_environment(monkeypatch):
    from datasets_pipeline.defs.executors import celery_backend, celery_broker

    monkeypatch.delenv("DATASETS_PIPELINE_CELERY_BROKER", raising=False)
    monkeypatch.delenv("DATASETS_PIPELINE_CELERY_BACKEND", raising=False)
    assert (celery_broker(), celery_backend()) == ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("DATASETS_PIPELINE_CELERY_BROKER", "redis://broker:6379/3")
    assert (celery_broker(), celery_backend()) == ("redis://broker:6379/3", "redis://broker:6379/3")
    monkeypatch.setenv("DATASETS_PIPELINE_CELERY_BACKEND", "redis://results:6379/4")
    assert celery_backend() == "redis://results:6379/4"


def celery_steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """step key -> the Celery worker that ran it (the executor's ``Executing steps`` engine events)."""
    found = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event.message and "in celery worker" in event.message:
            found[event.step_key] = event.event_specific_data.metadata["Celery worker"].value
    return found


@pytest.mark.slow
def test_run_config_sends_the_steps_of_a_run_to_a_celery_worker(hub_server, redis_server, tmp_path, data_dir, monkeypatch):
    """The default executor stays multiprocess; ``--config-json`` picks Celery for one run, whose two steps
    run in the worker's pool process, not in the run's own process tree."""
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    env = cli_env(hub_server.url, tmp_path, data_dir, executor="multiprocess")
    env["PYTHONPATH"] = str(REPO_ROOT)
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])  # the instance's yaml reads it
    init = subprocess.run([sys.executable, "-m", "datasets_pipeline", "init"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert init.returncode == 0, init.stderr
    run_config = {"execution": {"config": {"celery": {"broker": redis_server.url, "backend": redis_server.url}}}}
    args = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "datasets_pipeline.definitions",
            "--select", "raw/gsm8k,cookbook/gsm8k", "--partition", "main/test", "--config-json", json.dumps(run_config)]  # fmt: skip
    with CeleryWorker("solo", {**env, "DATASETS_PIPELINE_CELERY_BROKER": redis_server.url}, tmp_path / "worker.log") as worker:
        pool = worker.pool_pids()
        done = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        log = worker.log_text()
    assert worker.proc is None and not any(Path(f"/proc/{pid}").exists() for pid in pool)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "dagster_home"))) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert celery_steps(instance, run.run_id) == {"raw__gsm8k": worker.hostname, "cookbook__gsm8k": worker.hostname}
        starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
        assert {e.dagster_event.step_key for e in starts} == {"raw__gsm8k", "cookbook__gsm8k"}
        assert {e.dagster_event.pid for e in starts} <= pool  # the worker's pool process ran both
    assert log.count("Task execute_plan[") >= 2 and "succeeded in" in log
    assert read_table(data_dir / "cookbook" / "gsm8k" / "main" / "test.arrow").num_rows == 1319
