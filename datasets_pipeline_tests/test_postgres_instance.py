"""A shared Dagster instance on PostgreSQL (``deploy/dagster.postgres.yaml``): real runs of the code location
store their runs, event logs, pool slots and schedule state in a PostgreSQL server the test starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._core.instance.ref import InstanceRef

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline_tests.dagster_runs import REPO_ROOT, cli_env
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files

POSTGRES_YAML = REPO_ROOT / "deploy" / "dagster.postgres.yaml"
BIN = Path(sys.executable).parent


def postgres_env(hub_url: str, tmp_path: Path, data_dir: Path, pg_url: str, executor: str = "multiprocess") -> dict[str, str]:
    """``cli_env`` plus the instance's database URL and this checkout on PYTHONPATH."""
    env = cli_env(hub_url, tmp_path, data_dir, executor=executor)
    env.update(DAGSTER_PG_URL=pg_url, PYTHONPATH=str(REPO_ROOT))
    return env


def init_postgres_instance(env: dict[str, str]) -> Path:
    init = subprocess.run([sys.executable, "-m", "datasets_pipeline", "init", "--config", str(POSTGRES_YAML)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert init.returncode == 0, init.stderr[-3000:]
    home = Path(env["DAGSTER_HOME"])
    assert (home / "dagster.yaml").resolve() == POSTGRES_YAML.resolve()
    return home


def test_postgres_yaml_keeps_the_projects_run_monitoring_launcher_and_pools():
    import yaml

    sqlite = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    postgres = yaml.safe_load(POSTGRES_YAML.read_text())
    assert postgres["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert {k: v for k, v in postgres.items() if k != "storage"} == {k: v for k, v in sqlite.items() if k != "storage"}


def test_init_refuses_a_missing_instance_config(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "datasets_pipeline", "init", "--config", str(tmp_path / "nope.yaml")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == f"init: instance config {tmp_path / 'nope.yaml'} not found"
    assert not (tmp_path / "home").exists()


@pytest.mark.slow
def test_runs_store_their_history_in_postgres(hub_server, postgres_server, tmp_path, data_dir, monkeypatch):
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    env = postgres_env(hub_server.url, tmp_path, data_dir, postgres_server.dagster_url)
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_server.dagster_url)
    home = init_postgres_instance(env)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        # init created the pool's slots: two first runs no longer race to insert them
        assert instance.event_log_storage.get_concurrency_info("hf_hub").slot_count == 2

    # Two runs at once (the default multiprocess executor), one process tree each, one database.
    runs = [
        subprocess.Popen([str(BIN / "dagster"), "asset", "materialize", "-m", "datasets_pipeline.definitions",
                          "--select", "raw/gsm8k,cookbook/gsm8k", "--partition", partition], cwd=REPO_ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        for partition in ("main/test", "socratic/test")
    ]
    for proc in runs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-4000:]
    started = subprocess.run([str(BIN / "dagster"), "schedule", "start", "refresh_gsm8k_weekly", "-w", "workspace.yaml"],
                             cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert started.returncode == 0, started.stderr[-3000:]

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_launcher).__name__ == "MonitoredRunLauncher" and instance.run_monitoring_enabled
        records = instance.get_run_records()
        assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * 2
        assert {r.dagster_run.tags["dagster/partition"] for r in records} == {"main/test", "socratic/test"}
        raw = instance.get_latest_materialization_event(dg.AssetKey(["raw", "gsm8k"]))
        assert raw.asset_materialization.partition in ("main/test", "socratic/test")
        assert sorted(instance.get_materialized_partitions(dg.AssetKey(["cookbook", "gsm8k"]))) == ["main/test", "socratic/test"]
        assert instance.event_log_storage.get_concurrency_info("hf_hub").slot_count == 2
        assert instance.event_log_storage.get_concurrency_info("hf_hub").claimed_slots == []
        assert [(s.name, s.status.value) for s in instance.all_instigator_state()] == [("refresh_gsm8k_weekly", "RUNNING")]

    # The same facts, straight from the database; no SQLite storage was created under DAGSTER_HOME.
    conn = psycopg2.connect(postgres_server.url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT status, count(*) FROM runs GROUP BY status")
            assert cursor.fetchall() == [("SUCCESS", 2)]
            cursor.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s",
                           ('["raw", "gsm8k"]',))  # fmt: skip
            assert cursor.fetchone() == (2,)
            cursor.execute("SELECT instigator_type, status FROM instigators")
            assert cursor.fetchall() == [("SCHEDULE", "RUNNING")]
    finally:
        conn.close()
    assert not list(home.rglob("*.db"))
    for config in ("main", "socratic"):
        assert read_table(data_dir / "cookbook" / "gsm8k" / config / "test.arrow").num_rows == 1319
