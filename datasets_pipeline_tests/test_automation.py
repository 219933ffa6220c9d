"""Schedules and the Hub revision sensor, evaluated against the real definitions and a loopback Hub."""

from __future__ import annotations

import json

import dagster as dg

from datasets_pipeline.defs.resources import HubResource
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files


def test_hub_revision_sensor_requests_a_refresh_when_the_commit_moves(hub_server, hf_env, no_backoff_sleep):
    from datasets_pipeline.definitions import defs

    sensor = defs.resolve_sensor_def("hub_revision_sensor")
    first_sha = hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    with dg.build_sensor_context(resources={"hub": HubResource()}, repository_def=defs.get_repository_def()) as ctx:
        first = sensor.evaluate_tick(ctx)
    assert first.run_requests == []  # the first tick only records the shas it sees, and says so
    assert first.skip_message == (
        "First tick: recorded the current Hub revisions of 1 dataset(s) (gsm8k); a later move of a revision requests a refresh."
    )
    cursor = json.loads(first.cursor)
    assert cursor == {"gsm8k": first_sha}  # datasets the Hub does not have are skipped with a warning

    with dg.build_sensor_context(cursor=first.cursor, resources={"hub": HubResource()}, repository_def=defs.get_repository_def()) as ctx:
        unchanged = sensor.evaluate_tick(ctx)
    assert unchanged.run_requests == []
    assert unchanged.skip_message == "No Hub revision moved (1 dataset(s) watched)."

    new_sha = hub_server.update_repo("openai/gsm8k", {"README.md": gsm8k_repo_files()["README.md"] + b"\nnew card text\n"})
    with dg.build_sensor_context(cursor=first.cursor, resources={"hub": HubResource()}, repository_def=defs.get_repository_def()) as ctx:
        moved = sensor.evaluate_tick(ctx)
    assert [(r.partition_key, r.job_name) for r in moved.run_requests] == [
        (key, "refresh_gsm8k_job") for key in ("main/train", "main/test", "socratic/train", "socratic/test")
    ]
    assert moved.run_requests[0].run_key == f"gsm8k-main/train-{new_sha}"
    assert {tuple(r.asset_selection) for r in moved.run_requests} == {(dg.AssetKey(["raw", "gsm8k"]),)}  # raw only
    tags = moved.run_requests[0].tags
    assert {k: tags[k] for k in ("family", "dataset", "layer", "trigger")} == {
        "family": "math", "dataset": "gsm8k", "layer": "raw", "trigger": "hub_revision"
    }
    assert json.loads(moved.cursor) == {"gsm8k": new_sha}


def test_weekly_schedule_refreshes_the_raw_layer_only():
    import datetime

    from datasets_pipeline.definitions import defs

    schedule = defs.resolve_schedule_def("refresh_gsm8k_weekly")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    when = datetime.datetime(2026, 12, 7, 3, 0, tzinfo=datetime.timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def()) as ctx:
        requests = list(schedule.evaluate_tick(ctx).run_requests)
    assert [(r.partition_key, r.run_key, r.tags["trigger"]) for r in requests] == [
        (key, f"gsm8k-{key}-2026-12-07", "schedule") for key in ("main/train", "main/test", "socratic/train", "socratic/test")
    ]
    assert all(list(r.asset_selection) == [dg.AssetKey(["raw", "gsm8k"])] for r in requests)
