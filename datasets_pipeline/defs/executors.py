"""Where the steps of a run execute: one executor whose config selects ``multiprocess``, ``in_process`` or ``celery``.

The default comes from ``DATASETS_PIPELINE_EXECUTOR`` (``multiprocess`` when unset); a run's config
chooses another, e.g. ``execution: {config: {celery: {}}}``, and overrides its settings. Every process
that loads the code location (the run, a Celery worker) sees the same config schema, whatever its
environment, so a run configured for Celery validates on the workers too.

- ``multiprocess``: one process per step on this machine, at most ``max_concurrent`` at once (default
  ``DATASETS_PIPELINE_MAX_CONCURRENT``, 2).
- ``in_process``: every step in the run's process.
- ``celery``: each step is a task on a Celery broker (``dagster-celery``); worker processes, on this
  machine or others, run it. ``broker`` defaults to ``DATASETS_PIPELINE_CELERY_BROKER``
  (``redis://127.0.0.1:6379/0``), ``backend`` (where results go) to ``DATASETS_PIPELINE_CELERY_BACKEND``
  (the broker's URL). Start workers with the same variables:
  ``celery -A datasets_pipeline.defs.celery_app worker`` (see :mod:`.celery_app`). The instance and
  ``DATASETS_PIPELINE_DATA`` must be shared by the run and all workers (PostgreSQL, object storage).
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.executor.base import Executor

KIND_ENV = "DATASETS_PIPELINE_EXECUTOR"
BROKER_ENV = "DATASETS_PIPELINE_CELERY_BROKER"
BACKEND_ENV = "DATASETS_PIPELINE_CELERY_BACKEND"
KINDS = ("multiprocess", "in_process", "celery")
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"

#: Celery settings of the run's publisher and of the workers: a worker takes one task at a time and acks
#: it once done, so a busy worker holds no queued step that an idle one could run.
CELERY_SETTINGS: dict[str, Any] = {
    "worker_prefetch_multiplier": 1,
    "task_acks_late": True,
    "broker_connection_retry_on_startup": True,
}


def default_kind() -> str:
    """``DATASETS_PIPELINE_EXECUTOR`` (default ``multiprocess``), checked."""
    kind = os.environ.get(KIND_ENV, "").strip() or "multiprocess"
    if kind not in KINDS:
        raise ValueError(f"{KIND_ENV} must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    return kind


def celery_broker() -> str:
    return os.environ.get(BROKER_ENV, "").strip() or DEFAULT_BROKER


def celery_backend() -> str:
    return os.environ.get(BACKEND_ENV, "").strip() or celery_broker()


def _max_concurrent() -> int:
    return int(os.environ.get("DATASETS_PIPELINE_MAX_CONCURRENT", "2"))


def _celery_config() -> dg.Field:
    return dg.Field(
        {
            "broker": dg.Field(dg.StringSource, is_required=False, description=f"Broker URL; default ${BROKER_ENV}."),
            "backend": dg.Field(dg.StringSource, is_required=False, description=f"Result backend URL; default ${BACKEND_ENV}."),
            "include": dg.Field([str], is_required=False, description="Modules every worker imports."),
            "config_source": dg.Field(dg.Permissive(), is_required=False, description="More Celery settings."),
            "retries": get_retries_config(),
        },
        description="Run each step as a Celery task on workers (dagster-celery).",
    )


def _config_schema(default: str) -> dg.Field:
    return dg.Field(
        dg.Selector(
            {
                "multiprocess": dg.multiprocess_executor.config_schema.as_field(),
                "in_process": dg.in_process_executor.config_schema.as_field(),
                "celery": _celery_config(),
            }
        ),
        default_value={default: {}},
        description=f"multiprocess, in_process or celery (default: ${KIND_ENV}).",
    )


def _requirements(config: dict[str, Any]) -> list[Any]:
    return [] if "in_process" in config else list(dg.multiple_process_executor_requirements())


def _celery_executor(config: dict[str, Any]) -> Executor:
    try:
        from dagster_celery.executor import CeleryExecutor
    except ImportError as exc:  # the `scale` extra
        raise dg.DagsterInvariantViolationError(
            "the celery executor needs dagster-celery: pip install 'datasets_pipeline[scale]'"
        ) from exc
    return CeleryExecutor(
        retries=RetryMode.from_config(config["retries"]),
        broker=config.get("broker") or celery_broker(),
        backend=config.get("backend") or celery_backend(),
        include=config.get("include"),
        config_source={**CELERY_SETTINGS, **(config.get("config_source") or {})},
    )


def pipeline_executor(default: str | None = None) -> dg.ExecutorDefinition:
    """The executor of the code location; ``default`` (else ``DATASETS_PIPELINE_EXECUTOR``) when a run's config
    names none."""
    default = default or default_kind()

    def create(init_context: dg.InitExecutorContext) -> Executor:
        ((kind, config),) = init_context.executor_config.items()
        config = dict(config or {})
        if kind == "celery":
            return _celery_executor(config)
        if kind == "multiprocess" and config.get("max_concurrent") is None:
            config["max_concurrent"] = _max_concurrent()
        base = dg.multiprocess_executor if kind == "multiprocess" else dg.in_process_executor
        return base.executor_creation_fn(init_context._replace(executor_def=base, executor_config=config))

    return dg.ExecutorDefinition(
        name="datasets_pipeline",
        config_schema=_config_schema(default),
        requirements=_requirements,
        executor_creation_fn=create,
        description=__doc__.split("\n\n")[0],
    )
