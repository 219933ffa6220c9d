"""The Dagster code location: ``dagster dev`` (via workspace.yaml) and ``-m datasets_pipeline.definitions``.

``DATASETS_PIPELINE_EXECUTOR`` picks how steps of a run execute when the run's config does not:
``multiprocess`` (default, one process per step, at most ``DATASETS_PIPELINE_MAX_CONCURRENT`` at once),
``in_process`` or ``celery`` (steps as tasks on Celery workers; see
:mod:`~datasets_pipeline.defs.executors`). Each is wrapped by
:func:`~datasets_pipeline.defs.run_health.with_run_health`: runs are tagged with their worker process
(so a killed run is detected and its pool slots freed) and a step waiting for a pool slot logs a
warning.
"""

from __future__ import annotations

import dagster as dg

from .defs.assets import catalog_assets
from .defs.automation import automation_defs, layer_jobs
from .defs.executors import pipeline_executor
from .defs.io_manager import ArrowIOManagerFactory
from .defs.resources import HubResource
from .defs.run_health import with_run_health


def _executor() -> dg.ExecutorDefinition:
    return with_run_health(pipeline_executor())


def resources() -> dict[str, object]:
    """The resources every asset uses (all configured from the environment at run time)."""
    return {"hub": HubResource(), "arrow_io_manager": ArrowIOManagerFactory()}


def build_defs() -> dg.Definitions:
    """Assemble assets, checks, automation and resources into one Definitions object."""
    assets = catalog_assets()
    jobs, schedules, sensors = automation_defs()
    jobs = [*jobs, *layer_jobs(assets)]
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=resources(),
        executor=_executor(),
    )


defs = build_defs()
