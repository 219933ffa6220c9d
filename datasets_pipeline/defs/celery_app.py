"""The Celery app the project's workers run: ``celery -A datasets_pipeline.defs.celery_app worker``.

It is dagster-celery's app (its ``execute_plan`` task runs one step of a run) with the broker and result
backend of :mod:`.executors` (``DATASETS_PIPELINE_CELERY_BROKER`` / ``_BACKEND``) and the same settings as
the runs that publish to it. Importing it loads the code location once in the worker's main process, so
each forked pool process starts with it imported. A worker needs the run's environment: the instance
(``DAGSTER_HOME``, whose ``dagster.yaml`` points at the shared PostgreSQL), ``DATASETS_PIPELINE_DATA``
(a root every worker reaches) and the Hub variables. For example, one step at a time per worker::

    celery -A datasets_pipeline.defs.celery_app worker --concurrency 1 --hostname w1@%h --loglevel INFO
"""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from .executors import CELERY_SETTINGS, celery_backend, celery_broker

app = make_app(
    CeleryExecutor.for_cli(broker=celery_broker(), backend=celery_backend(), config_source=dict(CELERY_SETTINGS)).app_args()
)
execute_plan = create_task(app)

from .. import definitions  # noqa: E402,F401 - preload the code location before the pool forks
