"""End to end beyond one machine's defaults: an S3 server, Redis, two Celery worker processes and a
PostgreSQL-backed instance, all started by the test; raw -> cookbook -> dataset_dict for two datasets with
``DATASETS_PIPELINE_EXECUTOR=celery``; the results loaded from a fresh process; a worker process killed
with SIGKILL mid-step, the last good version intact, the next run recovering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import dagster as dg
import psutil
import pyarrow as pa
import pytest
from dagster._core.instance.ref import InstanceRef

from datasets_pipeline_tests.dagster_runs import REPO_ROOT, cli_env, run_python
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files, humaneval_rows, parquet_bytes
from datasets_pipeline_tests.hub_server import Fault
from datasets_pipeline_tests.servers.celery_workers import CeleryWorker
from datasets_pipeline_tests.test_e2e_families import card
from datasets_pipeline_tests.test_executors import celery_steps
from datasets_pipeline_tests.test_postgres_instance import init_postgres_instance

DAGSTER = str(Path(sys.executable).with_name("dagster"))
GSM8K = "openai/gsm8k"

# Runs per dataset, in order: each split's raw and cookbook, then the DatasetDict of the config.
GSM8K_RUNS = [("raw/gsm8k,cookbook/gsm8k", "main/train"), ("raw/gsm8k,cookbook/gsm8k", "main/test"), ("dataset_dict/gsm8k", "main")]
HUMANEVAL_RUNS = [("raw/humaneval,cookbook/humaneval", "openai_humaneval/test"), ("dataset_dict/humaneval", "openai_humaneval")]

LOAD_ALL = """
import json, datasets, datasets_pipeline as dp
from datasets_pipeline.layout import storage_options
out = {"gsm8k": {s: dp.load("gsm8k", "main", s).num_rows for s in ("train", "test")},
       "humaneval": dp.load("humaneval", split="test").num_rows,
       "raw_gsm8k_test": dp.load("gsm8k", "main", "test", layer="raw").num_rows,
       "first_answer": dp.load("gsm8k", "main", "test")["answer"][0].as_py()}
for name in ("gsm8k", "humaneval"):
    url = dp.dataset_dict_path(name)
    out[name + "_dict"] = {k: v.num_rows for k, v in datasets.load_from_disk(url, storage_options=storage_options(url)).items()}
    out[name + "_url"] = url
print(json.dumps(out))
"""

LOAD_RAW = """
import datasets_pipeline as dp
print(dp.load("gsm8k", "main", "test", layer="raw").num_rows)
"""


def _materialize(select: str, partition: str) -> list[str]:
    return [DAGSTER, "asset", "materialize", "-m", "datasets_pipeline.definitions", "--select", select, "--partition", partition]


def _run_all(runs: list[tuple[str, str]], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    done = []
    for select, partition in runs:
        proc = subprocess.run(_materialize(select, partition), cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        done.append(proc)
        if proc.returncode != 0:
            break
    return done


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _step_start(instance: dg.DagsterInstance, run_id: str, step_key: str) -> dg.EventLogEntry | None:
    starts = [e for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START) if e.step_key == step_key]
    return starts[0] if starts else None


@pytest.mark.slow
def test_celery_workers_s3_and_postgres_end_to_end_with_a_killed_worker(
    hub_server, redis_server, postgres_server, s3_server, tmp_path, monkeypatch
):
    hub_server.add_repo(GSM8K, gsm8k_repo_files(train_rows=40))
    hub_server.add_repo("openai/openai_humaneval", {
        "README.md": card({"openai_humaneval": {"test": "openai_humaneval/test-*"}}),
        "openai_humaneval/test-00000-of-00001.parquet": parquet_bytes(pa.Table.from_pylist(humaneval_rows())),
    })  # fmt: skip
    root = s3_server.url("data")
    env = cli_env(hub_server.url, tmp_path, tmp_path / "unused", executor="celery")
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    env.update(s3_server.env, DATASETS_PIPELINE_DATA=root, DATASETS_PIPELINE_CELERY_BROKER=redis_server.url,
               DAGSTER_PG_URL=postgres_server.dagster_url, PYTHONPATH=str(REPO_ROOT))  # fmt: skip
    env.pop("DATASETS_PIPELINE_HUB_MIRROR", None)
    data_env = {**s3_server.env, "DATASETS_PIPELINE_DATA": root}  # all a training process needs
    for name in ("DAGSTER_HOME", "DAGSTER_PG_URL"):
        monkeypatch.setenv(name, env[name])
    home = init_postgres_instance(env)
    workers = [CeleryWorker(name, env, tmp_path / f"{name}.log") for name in ("w1", "w2")]
    all_pids: set[int] = set()
    with ExitStack() as stack, dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        for worker in workers:
            stack.callback(worker.stop)
            worker.start()
        for worker in workers:
            worker.wait_ready()
        pool_of = {pid: w.hostname for w in workers for pid in w.pool_pids()}
        assert len(pool_of) == 2
        all_pids |= set(pool_of) | {w.pid for w in workers}

        # --- two datasets, raw -> cookbook -> dataset_dict, two streams of runs at once -----------------
        with ThreadPoolExecutor(2) as pool:
            results = [r for stream in pool.map(lambda runs: _run_all(runs, env), [GSM8K_RUNS, HUMANEVAL_RUNS]) for r in stream]
        assert len(results) == 5 and all(r.returncode == 0 for r in results), [r.stderr[-3000:] for r in results if r.returncode]
        runs = instance.get_runs()
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 5
        ran_on: dict[str, set[str]] = {}
        for run in runs:
            for step, hostname in celery_steps(instance, run.run_id).items():
                ran_on.setdefault(hostname, set()).add(step)
                start = _step_start(instance, run.run_id, step)
                assert pool_of[start.dagster_event.pid] == hostname  # the worker's own pool process ran it
        assert set(ran_on) == {w.hostname for w in workers}  # both workers ran steps
        assert sum(len(steps) for steps in ran_on.values()) >= 5
        assert set().union(*ran_on.values()) == {"raw__gsm8k", "cookbook__gsm8k", "dataset_dict__gsm8k",
                                                 "raw__humaneval", "cookbook__humaneval", "dataset_dict__humaneval"}  # fmt: skip
        assert not (tmp_path / "unused").exists() and not (REPO_ROOT / "s3:").exists()  # all data went to S3

        loaded = run_python(LOAD_ALL, data_env)  # a fresh process: only the data root and S3 credentials
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        out = json.loads(loaded.stdout.strip().splitlines()[-1])
        assert out["gsm8k"] == {"train": 40, "test": 1319} and out["humaneval"] == 164 and out["raw_gsm8k_test"] == 1319
        assert out["first_answer"] == "18"
        assert out["gsm8k_dict"] == {"train": 40, "test": 1319} and out["humaneval_dict"] == {"test": 164}
        assert out["gsm8k_url"].startswith(f"s3://{s3_server.bucket}/data/dataset_dict/gsm8k/.main.")

        # --- kill -9 the worker process running a step ----------------------------------------------------
        good_key = "data/raw/gsm8k/main/test.arrow"
        good = s3_server.client().get_object(Bucket=s3_server.bucket, Key=good_key)["Body"].read()
        keys_before = s3_server.keys("data/raw/gsm8k/")
        files = gsm8k_repo_files()  # a new revision: 1,000 test rows
        files["main/test-00000-of-00001.parquet"] = gsm8k_repo_files(train_rows=1000)["main/train-00000-of-00001.parquet"]
        new_sha = hub_server.update_repo(GSM8K, files)
        stall = hub_server.add_fault(Fault(path=rf"/resolve/{new_sha}/main/test-", method="GET", kind="delay", delay=60, times=1))
        proc = subprocess.Popen(_materialize("raw/gsm8k", "main/test"), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
        stack.callback(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        _wait(lambda: stall.hits == 1 or proc.poll() is not None, 120, "the step to reach the download")
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        run_id = next(r.run_id for r in instance.get_runs(limit=1))
        start = _step_start(instance, run_id, "raw__gsm8k")
        victim = start.dagster_event.pid
        victim_worker = next(w for w in workers if w.hostname == pool_of[victim])
        os.kill(victim, signal.SIGKILL)  # the process running the step, mid-download
        out_text, _ = proc.communicate(timeout=120)
        assert proc.returncode != 0
        failed = instance.get_run_by_id(run_id)
        assert failed.status == dg.DagsterRunStatus.FAILURE
        failure = next(e for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE))
        text = str(failure.dagster_event.event_specific_data.error) if failure.dagster_event.event_specific_data else ""
        assert "During celery execution errors occurred in workers" in text and "[raw__gsm8k]" in text
        assert "WorkerLostError" in text and "signal 9 (SIGKILL)" in text
        # The killed step never reported its end; its pool slot is freed when the run's executor is done.
        assert instance.event_log_storage.get_concurrency_info("hf_hub").claimed_slots == []
        assert any(e.user_message == "step raw__gsm8k ended without reporting success or failure (its worker process "
                   "died?): freed its slot of pool 'hf_hub'" for e in instance.all_logs(run_id))  # fmt: skip
        # The last good version is intact and loadable; nothing half-written is visible.
        assert s3_server.client().get_object(Bucket=s3_server.bucket, Key=good_key)["Body"].read() == good
        assert s3_server.keys("data/raw/gsm8k/") == keys_before
        reloaded = run_python(LOAD_RAW, data_env)
        assert reloaded.returncode == 0 and reloaded.stdout.strip() == "1319", reloaded.stderr[-3000:]
        # The worker itself lives on with a new pool process; the next run gets the new revision.
        assert victim_worker.proc.poll() is None
        _wait(lambda: len(victim_worker.pool_pids() - {victim}) == 1, 30, "a new pool process")
        all_pids |= victim_worker.pool_pids()
        hub_server.clear_faults()
        again = subprocess.run(_materialize("raw/gsm8k", "main/test"), cwd=REPO_ROOT, env=env, capture_output=True,
                               text=True, timeout=300)  # fmt: skip
        assert again.returncode == 0, again.stderr[-3000:]
        reloaded = run_python(LOAD_RAW, data_env)
        assert reloaded.returncode == 0 and reloaded.stdout.strip() == "1000", reloaded.stderr[-3000:]
        all_pids |= {pid for w in workers for pid in w.pool_pids()}
    # Every worker process (main and pool) is gone.
    assert all(w.proc is None for w in workers)
    assert not [pid for pid in all_pids if _alive(pid)]
