"""Refresh through every layer: a Hub revision change flows raw → cookbook → dataset_dict.

The acceptance runs the real ``dagster-daemon`` on a temporary ``DAGSTER_HOME`` against the loopback
Hub: the sensor requests exactly the changed dataset's raw partitions, the automation sensor then
materializes ``cookbook/`` and ``dataset_dict/``, and ``load()`` returns the new rows. A run whose
inputs did not change rewrites nothing and starts no downstream run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from datasets_pipeline.cli import link_instance_config
from datasets_pipeline_tests.dagster_runs import REPO_ROOT, failure_message, run_cli, stop_group

MATH500_CARD = """---
configs:
- config_name: default
  data_files:
  - split: test
    path: test.jsonl
---
# MATH-500
"""


def math500_files(n: int) -> dict[str, bytes]:
    """HuggingFaceH4/MATH-500 as on the Hub (a card and ``test.jsonl``), with ``n`` problems."""
    rows = [
        {"problem": f"Compute ${i}+{i}$.", "solution": f"${i}+{i}=\\boxed{{{2 * i}}}$", "answer": str(2 * i),
         "subject": "Prealgebra", "level": 1 + i % 5, "unique_id": f"test/prealgebra/{i}.json"}
        for i in range(1, n + 1)
    ]
    return {"README.md": MATH500_CARD.encode(), "test.jsonl": "".join(json.dumps(r) + "\n" for r in rows).encode()}


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def _sensor_cursors(instance: dg.DagsterInstance) -> dict[str, str | None]:
    from dagster._core.scheduler.instigation import InstigatorType

    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    return {s.name: getattr(s.instigator_data, "cursor", None) for s in states}


def _wait(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{log.read_text()[-4000:]}"
        time.sleep(2)


def _runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(reversed(instance.get_runs()))  # oldest first


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_unchanged_inputs_recompute_nothing(hub_server, hf_env, data_dir, no_backoff_sleep):
    """Raw and cookbook runs with the same Hub files keep their files and data versions, marked unchanged."""
    from datasets_pipeline import load
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.definitions import resources

    hub_server.add_repo("HuggingFaceH4/MATH-500", math500_files(3))
    with dg.instance_for_test() as instance:
        def run() -> dg.ExecuteInProcessResult:
            return dg.materialize(catalog_assets(), selection=["raw/math500", "cookbook/math500"], partition_key="default/test",
                                  resources=resources(), instance=instance)

        first = run()
        raw_file, cookbook_file = data_dir / "raw/math500/default/test.arrow", data_dir / "cookbook/math500/default/test.arrow"
        before = _stat(raw_file), _stat(cookbook_file)
        versions = {e.asset_key.to_user_string(): e.materialization.tags["dagster/data_version"] for e in first.get_asset_materialization_events()}
        second = run()
        assert (_stat(raw_file), _stat(cookbook_file)) == before  # nothing rewritten
        events = {e.asset_key.to_user_string(): e.materialization for e in second.get_asset_materialization_events()}
        assert {k: m.tags["dagster/data_version"] for k, m in events.items()} == versions
        for materialization in events.values():
            assert materialization.metadata["unchanged"].value == "inputs unchanged since the published version: nothing was recomputed"
            assert materialization.metadata["dagster/row_count"].value == 3
        assert load("math500", "default", "test").num_rows == 3

        hub_server.update_repo("HuggingFaceH4/MATH-500", math500_files(4))
        third = run()
        events = {e.asset_key.to_user_string(): e.materialization for e in third.get_asset_materialization_events()}
        assert all("unchanged" not in m.metadata for m in events.values())
        assert all(m.tags["dagster/data_version"] != versions[k] for k, m in events.items())
        assert load("math500", "default", "test").num_rows == 4


@pytest.mark.slow
def test_hub_revision_change_flows_to_every_layer_under_the_daemon(
    hub_server, hf_env, data_dir, tmp_path, no_backoff_sleep, monkeypatch
):
    from datasets_pipeline import dataset_dict_path, load
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.definitions import resources
    from datasets_pipeline.engine import load_dataset_dict

    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    link_instance_config(home)  # the repository's instance settings, as the demo uses them
    assert (home / "dagster.yaml").resolve() == (REPO_ROOT / "dagster.yaml").resolve()
    hub_server.add_repo("HuggingFaceH4/MATH-500", math500_files(3))
    env = {
        "DAGSTER_HOME": str(home),
        "DATASETS_PIPELINE_DATA": str(data_dir),
        "HF_ENDPOINT": hf_env.endpoint,
        "HF_HOME": str(hf_env.hf_home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DATASETS_PIPELINE_EXECUTOR": "in_process",
        "DATASETS_PIPELINE_HUB_POLL_SECONDS": "5",
        "DATASETS_PIPELINE_AUTOMATION_SECONDS": "5",
        "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }

    # The published state before the Hub moves: 3 problems through every layer.
    with _instance(home) as instance:
        for selection, partition in ((["raw/math500", "cookbook/math500"], "default/test"), (["dataset_dict/math500"], "default")):
            assert dg.materialize(catalog_assets(), selection=selection, partition_key=partition, resources=resources(),
                                  instance=instance).success
    assert load("math500", "default", "test").num_rows == 3

    started = run_cli(["sensor", "start", "--start-all", "-w", str(REPO_ROOT / "workspace.yaml")], env)
    assert started.returncode == 0, started.stderr[-3000:]
    with _instance(home) as instance:  # one command turned on everything that refreshes by itself (no schedule)
        from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

        running = {s.name for s in instance.all_instigator_state() if s.status == InstigatorStatus.RUNNING}
        assert running == {"hub_revision_sensor", "datasets_automation_sensor"}

    log_path = tmp_path / "daemon.log"
    log = open(log_path, "w")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=home, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        with _instance(home) as instance:
            # Both sensors have ticked once: the Hub sensor recorded the current revision, nothing more.
            _wait(lambda: all(_sensor_cursors(instance).get(n) for n in ("hub_revision_sensor", "datasets_automation_sensor")),
                  180, "the first ticks", log_path)
            assert "HuggingFaceH4" not in json.dumps([r.tags for r in _runs(instance)])
            runs_before = len(_runs(instance))
            assert json.loads(_sensor_cursors(instance)["hub_revision_sensor"]).keys() == {"math500"}

            new_sha = hub_server.update_repo("HuggingFaceH4/MATH-500", math500_files(5))

            def refreshed() -> bool:
                try:
                    folder = dataset_dict_path("math500", "default")
                    return load_dataset_dict(folder)["test"].num_rows == 5
                except (FileNotFoundError, KeyError, OSError):
                    return False

            _wait(refreshed, 420, "dataset_dict/math500 with the new rows", log_path)
            _wait(lambda: all(r.is_finished for r in _runs(instance)[runs_before:]), 120, "the runs to finish", log_path)
            new_runs = _runs(instance)[runs_before:]
            assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in new_runs), [(r.job_name, r.status) for r in new_runs]
            by_layer = {}
            for r in new_runs:
                keys = sorted(k.to_user_string() for k in (r.asset_selection or []))
                by_layer.setdefault(tuple(keys), []).append(r)
            # The sensor asked for exactly math500's raw partition, in its named job.
            raw_runs = by_layer[("raw/math500",)]
            assert [(r.job_name, r.tags["dagster/partition"], r.tags["trigger"], r.tags["layer"]) for r in raw_runs] == [
                ("refresh_math500_job", "default/test", "hub_revision", "raw")
            ]
            assert raw_runs[0].tags["dagster/sensor_name"] == "hub_revision_sensor"
            assert new_sha in raw_runs[0].tags["dagster/run_key"]
            # Automation materialized the layers below, each once.
            for key, partition in (("cookbook/math500", "default/test"), ("dataset_dict/math500", "default")):
                runs = by_layer[(key,)]
                assert [(r.tags["dagster/partition"], r.tags.get("dagster/from_automation_condition"), r.tags["trigger"]) for r in runs] == [
                    (partition, "true", "automation")
                ]
            assert set(by_layer) == {("raw/math500",), ("cookbook/math500",), ("dataset_dict/math500",)}
            rows = load("math500", "default", "test")
            assert rows.num_rows == 5 and rows.column("answer").to_pylist() == ["2", "4", "6", "8", "10"]

            # The same Hub files again: raw is marked unchanged, and automation starts nothing below it.
            cookbook_file = data_dir / "cookbook/math500/default/test.arrow"
            before = _stat(cookbook_file)
            again = dg.materialize(catalog_assets(), selection=["raw/math500"], partition_key="default/test",
                                   resources=resources(), instance=instance)
            [event] = again.get_asset_materialization_events()
            assert "unchanged" in event.materialization.metadata
            runs_after = len(_runs(instance))
            time.sleep(25)  # several automation ticks
            assert len(_runs(instance)) == runs_after
            assert _stat(cookbook_file) == before
    finally:
        stop_group(daemon, timeout=60)
        log.close()


def _raw_math500(hub, instance) -> dg.ExecuteInProcessResult:
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.defs.io_manager import ArrowIOManagerFactory
    from datasets_pipeline.defs.resources import HubResource

    return dg.materialize(catalog_assets(), selection=["raw/math500"], partition_key="default/test", instance=instance,
                          resources={"hub": HubResource(max_attempts=1), "arrow_io_manager": ArrowIOManagerFactory()},
                          raise_on_error=False)


def test_a_transient_hub_fault_is_retried_by_the_step_and_others_are_not(hub_server, hf_env, data_dir, no_backoff_sleep,
                                                                          monkeypatch):
    from datasets_pipeline_tests.hub_server import Fault

    monkeypatch.setenv("DATASETS_PIPELINE_HUB_RETRY_DELAY", "0.2")
    hub_server.add_repo("HuggingFaceH4/MATH-500", math500_files(3))
    fault = hub_server.add_fault(Fault(path=r"^/api/datasets/HuggingFaceH4/MATH-500/revision/", status=503, times=1))
    with dg.instance_for_test() as instance:
        retried = _raw_math500(hub_server, instance)
        assert retried.success
        assert fault.hits == 1
        kinds = [e.event_type_value for e in retried.all_events]
        assert kinds.count("STEP_UP_FOR_RETRY") == 1 and kinds.count("STEP_RESTARTED") == 1

        # A split the repo does not have fails at once: no retry of an error that would repeat.
        hub_server.update_repo("HuggingFaceH4/MATH-500", {"test.jsonl": None, "train.jsonl": math500_files(3)["test.jsonl"]})
        failed = _raw_math500(hub_server, instance)
        assert not failed.success
        kinds = [e.event_type_value for e in failed.all_events]
        assert "STEP_UP_FOR_RETRY" not in kinds and kinds.count("STEP_FAILURE") == 1
        assert "raw/math500: data file 'test.jsonl' named in the card is not in the repo" in failure_message(failed)
