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
    assert first.run_requests == []  # the first tick only records the shas it sees
    cursor = json.loads(first.cursor)
    assert cursor == {"gsm8k": first_sha}  # datasets the Hub does not have are skipped with a warning

    with dg.build_sensor_context(cursor=first.cursor, resources={"hub": HubResource()}, repository_def=defs.get_repository_def()) as ctx:
        unchanged = sensor.evaluate_tick(ctx)
    assert unchanged.run_requests == []

    new_sha = hub_server.update_repo("openai/gsm8k", {"README.md": gsm8k_repo_files()["README.md"] + b"\nnew card text\n"})
    with dg.build_sensor_context(cursor=first.cursor, resources={"hub": HubResource()}, repository_def=defs.get_repository_def()) as ctx:
        moved = sensor.evaluate_tick(ctx)
    assert [(r.partition_key, r.job_name) for r in moved.run_requests] == [
        (key, "refresh_gsm8k_job") for key in ("main/train", "main/test", "socratic/train", "socratic/test")
    ]
    assert moved.run_requests[0].run_key == f"gsm8k-main/train-{new_sha}"
    assert json.loads(moved.cursor) == {"gsm8k": new_sha}
