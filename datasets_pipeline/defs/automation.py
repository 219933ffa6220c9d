"""Jobs, schedules and sensors: what refreshes each layer, all stopped until turned on.

- ``refresh_<name>_job``: ``raw/<name>`` + ``cookbook/<name>`` for one ``"<config>/<split>"`` partition
  (the UI's and the demo's named job; schedules and the Hub sensor run only its raw step).
- ``dataset_dict_<name>_job``: ``dataset_dict/<name>`` for one config.
- ``tokenize_<name>_job``, ``tokenizer_<profile>_job``, ``mixture_<name>_job``: one named job per
  ``tokenized/``, ``tokenizer/`` and ``mixture/`` asset (:func:`layer_jobs`).
- ``refresh_<name>_weekly``: every raw partition of the dataset once a week.
- ``hub_revision_sensor``: polls each dataset's Hub revision (every ``DATASETS_PIPELINE_HUB_POLL_SECONDS``,
  default 3600) and, when its commit sha moves, requests that dataset's raw partitions. Its first tick
  only records the current revisions.
- ``datasets_automation_sensor``: evaluates the automation conditions of ``cookbook/`` and
  ``dataset_dict/`` (:mod:`.automation_conditions`): each follows its upstream when the upstream's
  data version changes (evaluated every ``DATASETS_PIPELINE_AUTOMATION_SECONDS``, default 30).
"""


import json
import os

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from ..catalog import CATALOG, DatasetSpec
from ..errors import SourceError
from .resources import HubResource

WEEKLY_CRON = "0 3 * * 1"
POLL_ENV = "DATASETS_PIPELINE_HUB_POLL_SECONDS"
AUTOMATION_INTERVAL_ENV = "DATASETS_PIPELINE_AUTOMATION_SECONDS"
AUTOMATION_SENSOR = "datasets_automation_sensor"


def refresh_job(spec: DatasetSpec) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name=f"refresh_{spec.name}_job",
        selection=dg.AssetSelection.assets(["raw", spec.name], ["cookbook", spec.name]),
        description=f"Mirror {spec.repo_id} and convert it to {spec.family} rows, one (config, split) per run.",
        tags={"family": spec.family, "dataset": spec.name, "layer": "raw+cookbook"},
    )


def dataset_dict_job(spec: DatasetSpec) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name=f"dataset_dict_{spec.name}_job",
        selection=dg.AssetSelection.assets(["dataset_dict", spec.name]),
        description=f"Write {spec.name}'s DatasetDict folder for one config from its cookbook splits.",
        tags={"family": spec.family, "dataset": spec.name, "layer": "dataset_dict"},
    )


def raw_request(spec: DatasetSpec, job: UnresolvedAssetJobDefinition, key: str, run_key: str, trigger: str) -> dg.RunRequest:
    """A run of ``job`` that materializes only ``raw/<name>`` for partition ``key``."""
    return dg.RunRequest(
        run_key=run_key,
        partition_key=key,
        job_name=job.name,
        asset_selection=[dg.AssetKey(["raw", spec.name])],
        tags={"family": spec.family, "dataset": spec.name, "layer": "raw", "trigger": trigger},
    )


def weekly_schedule(spec: DatasetSpec, job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"refresh_{spec.name}_weekly",
        cron_schedule=WEEKLY_CRON,
        job=job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Every raw partition of {spec.name}, weekly (cookbook/ and dataset_dict/ follow by automation).",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for key in spec.partition_keys:
            yield raw_request(spec, job, key, f"{spec.name}-{key}-{stamp}", "schedule")

    return _schedule


def hub_revision_sensor(jobs: dict[str, UnresolvedAssetJobDefinition]) -> dg.SensorDefinition:
    @dg.sensor(
        name="hub_revision_sensor",
        jobs=list(jobs.values()),
        minimum_interval_seconds=int(os.environ.get(POLL_ENV, "3600")),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests a dataset's raw partitions when its Hub revision moves to a new commit "
        "(the first tick only records the current revisions).",
    )
    def _sensor(context: dg.SensorEvaluationContext, hub: HubResource):
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        first_tick = not seen
        source = hub.source()
        requests: list[dg.RunRequest] = []
        moved: list[str] = []
        for name, spec in CATALOG.items():
            try:
                sha = source.resolve_revision(spec.repo_id, spec.revision)
            except SourceError as exc:
                context.log.warning(f"{name}: cannot resolve {spec.repo_id}@{spec.revision}: {exc}")
                continue
            if seen.get(name) != sha:
                if name in seen:  # a dataset seen for the first time is only recorded
                    moved.append(f"{name} {seen[name][:12]} -> {sha[:12]}")
                    requests += [
                        raw_request(spec, jobs[name], key, f"{name}-{key}-{sha}", "hub_revision")
                        for key in spec.partition_keys
                    ]
                seen[name] = sha
        cursor = json.dumps(seen, sort_keys=True)
        if requests:
            context.log.info(f"Hub revisions moved: {'; '.join(moved)}")
            return dg.SensorResult(run_requests=requests, cursor=cursor)
        if first_tick:
            reason = (
                f"First tick: recorded the current Hub revisions of {len(seen)} dataset(s) "
                f"({', '.join(sorted(seen)) or 'none reachable'}); a later move of a revision requests a refresh."
            )
        else:
            reason = f"No Hub revision moved ({len(seen)} dataset(s) watched)."
        return dg.SensorResult(skip_reason=reason, cursor=cursor)

    return _sensor


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=int(os.environ.get(AUTOMATION_INTERVAL_ENV, "30")),
        run_tags={"trigger": "automation"},
        description="Materializes cookbook/ and dataset_dict/ partitions when their upstream data changes "
        "(their automation condition: eager on upstream data-version changes).",
    )


_LAYER_JOBS = {"tokenized": "tokenize_{}_job", "tokenizer": "tokenizer_{}_job", "mixture": "mixture_{}_job"}


def layer_jobs(assets: list[dg.AssetsDefinition]) -> list[UnresolvedAssetJobDefinition]:
    """A named job per ``tokenized/<name>`` (one profile × split partition per run), ``tokenizer/<profile>``
    and ``mixture/<name>`` asset, so their runs are found by name in the UI."""
    jobs = []
    for asset in assets:
        for key in asset.keys:
            layer, name = key.path[0], key.path[-1]
            if layer in _LAYER_JOBS and len(key.path) == 2:
                jobs.append(dg.define_asset_job(
                    name=_LAYER_JOBS[layer].format(name), selection=dg.AssetSelection.assets(key),
                    description=f"Materialize {key.to_user_string()}.", tags={"layer": layer},
                ))  # fmt: skip
    return jobs


def automation_defs() -> tuple[list, list, list]:
    """``(jobs, schedules, sensors)`` for the whole catalog."""
    jobs = {name: refresh_job(spec) for name, spec in CATALOG.items()}
    dd_jobs = [dataset_dict_job(spec) for spec in CATALOG.values()]
    schedules = [weekly_schedule(spec, jobs[name]) for name, spec in CATALOG.items()]
    return [*jobs.values(), *dd_jobs], schedules, [hub_revision_sensor(jobs), automation_sensor()]
