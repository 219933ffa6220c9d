"""The Dagster code location: ``dagster dev`` (via workspace.yaml) and ``-m datasets_pipeline.definitions``.

``DATASETS_PIPELINE_EXECUTOR`` picks how steps of a run execute: ``multiprocess`` (default, one
process per step, at most ``DATASETS_PIPELINE_MAX_CONCURRENT`` at once) or ``in_process``. Either is
wrapped by :func:`~datasets_pipeline.defs.run_health.with_run_health`: runs are tagged with their
worker process (so a killed run is detected and its pool slots freed) and a step waiting for a pool
slot logs a warning.
"""

from __future__ import annotations

import os

import dagster as dg

from .defs.assets import catalog_assets
from .defs.automation import automation_defs
from .defs.io_manager import ArrowIOManagerFactory
from .defs.resources import HubResource
from .defs.run_health import with_run_health


def _executor() -> dg.ExecutorDefinition:
    kind = os.environ.get("DATASETS_PIPELINE_EXECUTOR", "multiprocess")
    if kind == "in_process":
        return with_run_health(dg.in_process_executor)
    if kind != "multiprocess":
        raise ValueError(f"DATASETS_PIPELINE_EXECUTOR must be 'multiprocess' or 'in_process', not {kind!r}")
    max_concurrent = int(os.environ.get("DATASETS_PIPELINE_MAX_CONCURRENT", "2"))
    return with_run_health(dg.multiprocess_executor).configured({"max_concurrent": max_concurrent})


def resources() -> dict[str, object]:
    """The resources every asset uses (all configured from the environment at run time)."""
    return {"hub": HubResource(), "arrow_io_manager": ArrowIOManagerFactory()}


def build_defs() -> dg.Definitions:
    """Assemble assets, checks, automation and resources into one Definitions object."""
    assets = catalog_assets()
    jobs, schedules, sensors = automation_defs()
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=resources(),
        executor=_executor(),
    )


defs = build_defs()
