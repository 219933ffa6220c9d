"""Jobs, schedules and sensors: refresh a dataset's raw mirror and cookbook rows.

- ``refresh_<name>_job``: ``raw/<name>`` + ``cookbook/<name>`` for one ``"<config>/<split>"`` partition.
- ``refresh_<name>_weekly``: every partition of the dataset once a week (stopped until turned on).
- ``hub_revision_sensor``: polls each dataset's Hub revision and, when its commit sha moves, asks for
  a refresh of every partition of that dataset (stopped until turned on; needs the Hub).
"""


import json

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from ..catalog import CATALOG, DatasetSpec
from ..errors import SourceError
from .resources import HubResource

WEEKLY_CRON = "0 3 * * 1"


def refresh_job(spec: DatasetSpec) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name=f"refresh_{spec.name}_job",
        selection=dg.AssetSelection.assets(["raw", spec.name], ["cookbook", spec.name]),
        description=f"Mirror {spec.repo_id} and convert it to {spec.family} rows, one (config, split) per run.",
        tags={"family": spec.family},
    )


def weekly_schedule(spec: DatasetSpec, job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"refresh_{spec.name}_weekly",
        cron_schedule=WEEKLY_CRON,
        job=job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Every partition of {spec.name}, weekly.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for key in spec.partition_keys:
            yield dg.RunRequest(run_key=f"{spec.name}-{key}-{stamp}", partition_key=key)

    return _schedule


def hub_revision_sensor(jobs: dict[str, UnresolvedAssetJobDefinition]) -> dg.SensorDefinition:
    @dg.sensor(
        name="hub_revision_sensor",
        jobs=list(jobs.values()),
        minimum_interval_seconds=3600,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Refreshes a dataset when its Hub revision moves to a new commit.",
    )
    def _sensor(context: dg.SensorEvaluationContext, hub: HubResource):
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        source = hub.source()
        requests = []
        for name, spec in CATALOG.items():
            try:
                sha = source.resolve_revision(spec.repo_id, spec.revision)
            except SourceError as exc:
                context.log.warning(f"{name}: cannot resolve {spec.repo_id}@{spec.revision}: {exc}")
                continue
            if seen.get(name) != sha:
                if name in seen:  # the first tick only records shas
                    requests += [
                        dg.RunRequest(run_key=f"{name}-{key}-{sha}", partition_key=key, job_name=jobs[name].name)
                        for key in spec.partition_keys
                    ]
                seen[name] = sha
        context.update_cursor(json.dumps(seen, sort_keys=True))
        return requests

    return _sensor


def automation_defs() -> tuple[list, list, list]:
    """``(jobs, schedules, sensors)`` for the whole catalog."""
    jobs = {name: refresh_job(spec) for name, spec in CATALOG.items()}
    schedules = [weekly_schedule(spec, jobs[name]) for name, spec in CATALOG.items()]
    return list(jobs.values()), schedules, [hub_revision_sensor(jobs)]
