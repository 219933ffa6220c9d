"""Dead runs and pool waits: a killed run must not keep its ``hf_hub`` pool slot for ever.

A run killed with SIGKILL (or on an OOM, a reboot) never reports its end: it stays ``STARTED`` and
keeps the pool slots its steps claimed, so after two such runs every Hub download waits on the
``hf_hub`` pool (limit 2) for ever. Three parts fix that:

- **Who runs a run.** :class:`HealthReportingExecutor` wraps the job's executor: before any step it
  tags the run with its run worker, ``datasets_pipeline/run_worker = "<host>:<pid>:<start>"``
  (``<start>`` is the process start time, so a reused pid is not taken for the worker).
- **Is it alive.** :class:`MonitoredRunLauncher` (the instance's run launcher in ``dagster.yaml``)
  answers Dagster's run monitoring: a started run whose worker ran on this host and is gone is
  ``FAILED``. The daemon (``dagster dev`` or ``dagster-daemon run``; ``run_monitoring`` in
  ``dagster.yaml``) then marks the run failed and, ``free_slots_after_run_end_seconds`` later,
  frees its pool slots. Runs of another host, or without the tag, are left alone (reported running).
  :func:`free_dead_runs` does the same at once, without the daemon
  (``python -m datasets_pipeline free-dead-runs``).
- **Lost steps.** When the executor is done, slots that steps of the run still hold (a step whose process
  was killed, e.g. a Celery worker's pool process, never reports its end) are freed, with a warning.
- **Say so.** When a step waits for a pool slot, the executor logs a WARNING naming the pool, its
  limit, the runs holding its slots (and which of them are dead) and how to free them; Dagster's own
  "Step blocked by limit for pool" event is a debug-level engine event few users see.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.base import Executor
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

WORKER_TAG = "datasets_pipeline/run_worker"
FREE_COMMAND = "python -m datasets_pipeline free-dead-runs"
_BLOCKED_PREFIXES = ("Step blocked by limit for pool", "Step still blocked by limit for pool")


# --- the run worker's identity ---------------------------------------------------------------------


def _proc_stat(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), or None."""
    fields = _proc_stat(pid)
    return fields[19].decode() if fields is not None and len(fields) > 19 else None


def this_worker() -> str:
    """``"<host>:<pid>:<start>"`` of the current process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start(pid) or ''}"


def worker_gone(worker: str | None) -> str | None:
    """Why the worker ``"<host>:<pid>:<start>"`` is known to be dead, or None (alive, or cannot tell)."""
    if not worker:
        return None
    parts = worker.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    host, pid_text, start = parts
    if host != socket.gethostname():
        return None  # another machine: only a launcher that knows it can tell
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"its run worker process {pid} on {host} is gone"
    except PermissionError:
        pass  # exists, owned by another user
    fields = _proc_stat(pid)
    if fields and fields[0] in (b"Z", b"X"):
        return f"its run worker process {pid} on {host} is gone (a zombie)"
    if start and fields is not None and len(fields) > 19 and fields[19].decode() != start:
        return f"its run worker process {pid} on {host} is gone (the pid now belongs to another process)"
    return None


def run_worker(run: dg.DagsterRun) -> str | None:
    return run.tags.get(WORKER_TAG)


# --- run monitoring ---------------------------------------------------------------------------------


class MonitoredRunLauncher(DefaultRunLauncher):
    """The default run launcher, plus a health check that Dagster's run monitoring calls.

    Configured in ``dagster.yaml`` (``run_launcher: {module: datasets_pipeline.defs.run_health,
    class: MonitoredRunLauncher}``); launches runs exactly like :class:`DefaultRunLauncher`.
    """

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        reason = worker_gone(run_worker(run))
        if reason is not None:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run {run.run_id}: {reason} (killed?)")
        return CheckRunHealthResult(WorkerStatus.RUNNING, "")


def free_dead_runs(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    """Mark every started run whose worker is gone as failed, and free the pool slots of those runs and
    of finished runs that still hold some; now, without the daemon.

    Returns ``(run_id, what was done)`` per run freed. Only runs tagged with a worker of this host are judged
    dead (see :func:`worker_gone`).
    """
    freed = []
    storage = instance.event_log_storage
    for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        reason = worker_gone(run_worker(run))
        if reason is None:
            continue
        instance.report_run_failed(run, f"Run marked failed: {reason} (killed?); its pool slots were freed.")
        if storage.supports_global_concurrency_limits:
            storage.free_concurrency_slots_for_run(run.run_id)
        freed.append((run.run_id, f"{reason}: marked failed, pool slots freed"))
    if storage.supports_global_concurrency_limits:
        done = {run_id for run_id, _ in freed}
        for run_id in sorted(set(storage.get_concurrency_run_ids()) - done):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
                status = run.status.value if run is not None else "deleted"
                freed.append((run_id, f"ended ({status}) but still held pool slots: freed"))
    return freed


def free_lost_step_slots(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """Free the pool slots that steps of ``run_id`` still hold once its executor is done: a step whose process
    was killed (e.g. a Celery worker's pool process) never reports its end, so Dagster never frees its slot.
    Returns ``(step_key, pool)`` per slot freed."""
    storage = instance.event_log_storage
    try:
        if not storage.supports_global_concurrency_limits or run_id not in storage.get_concurrency_run_ids():
            return []
        held = [(slot.step_key, pool) for pool in sorted(storage.get_concurrency_keys())
                for slot in storage.get_concurrency_info(pool).claimed_slots if slot.run_id == run_id]  # fmt: skip
        storage.free_concurrency_slots_for_run(run_id)
    except Exception:  # noqa: BLE001 - the daemon's run monitoring frees them later
        return []
    return held


# --- the executor -----------------------------------------------------------------------------------


def pool_wait_message(instance: dg.DagsterInstance, step_key: str, pool: str) -> str:
    """What a user needs when ``step_key`` waits on ``pool``: who holds it, which holders are dead, the fix."""
    holders: list[str] = []
    dead: list[str] = []
    limit: int | None = None
    try:
        info = instance.event_log_storage.get_concurrency_info(pool)
        limit = info.limit if info.limit is not None else info.slot_count
        for run_id in dict.fromkeys(slot.run_id for slot in info.claimed_slots):
            holders.append(run_id)
            run = instance.get_run_by_id(run_id)
            if run is not None and (run.is_finished or worker_gone(run_worker(run))):
                dead.append(run_id)
    except Exception:  # noqa: BLE001 - the warning must not break the run
        pass
    text = f"step {step_key} is waiting for a free slot of pool {pool!r}"
    if limit is not None:
        text += f" (limit {limit})"
    if holders:
        text += f"; held by run(s) {', '.join(holders)}"
    if dead:
        text += (
            f"; run(s) {', '.join(dead)} are dead or finished but still hold slots: the Dagster daemon's run "
            "monitoring (`dagster dev` or `dagster-daemon run`, enabled in dagster.yaml) frees them within a "
            f"minute, or free them now with `{FREE_COMMAND}`"
        )
    else:
        text += (
            ". If a holding run was killed, the Dagster daemon's run monitoring (`dagster dev` or "
            f"`dagster-daemon run`) marks it failed and frees its slots, or run `{FREE_COMMAND}`"
        )
    return text


def _blocked_pool(event: DagsterEvent) -> str | None:
    if event.event_type != DagsterEventType.ENGINE_EVENT or not (event.message or "").startswith(_BLOCKED_PREFIXES):
        return None
    metadata = getattr(event.event_specific_data, "metadata", None) or {}
    pool = metadata.get("pool")
    value = getattr(pool, "value", None) or getattr(pool, "pool", None)
    return str(value) if value else (event.message or "").rsplit(" ", 1)[-1]


class HealthReportingExecutor(Executor):
    """Runs ``inner``; tags the run with its worker first and warns when a step waits for a pool slot."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def __getattr__(self, name: str) -> Any:
        """Everything else from the wrapped executor (e.g. the Celery executor's ``app_args``)."""
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[DagsterEvent]:
        instance = plan_context.instance
        try:
            instance.add_run_tags(plan_context.run_id, {WORKER_TAG: this_worker()})
        except Exception as exc:  # noqa: BLE001 - dead-run detection is best effort
            plan_context.log.warning(f"could not tag the run with its worker ({exc}); a kill will not be detected")
        try:
            for event in self._inner.execute(plan_context, execution_plan):
                yield event
                pool = _blocked_pool(event)
                if pool is not None:
                    plan_context.log.warning(pool_wait_message(instance, event.step_key or "?", pool))
        finally:
            for step_key, pool in free_lost_step_slots(instance, plan_context.run_id):
                plan_context.log.warning(
                    f"step {step_key} ended without reporting success or failure (its worker process died?): "
                    f"freed its slot of pool {pool!r}"
                )


def with_run_health(base: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """``base`` with the same name and config, its executor wrapped in :class:`HealthReportingExecutor`."""
    create = base.executor_creation_fn
    assert create is not None

    def creation_fn(init_context: Any) -> Executor:
        return HealthReportingExecutor(create(init_context))

    return dg.ExecutorDefinition(
        name=base.name,
        config_schema=base.config_schema,
        requirements=lambda config: base.get_requirements(config),
        executor_creation_fn=creation_fn,
        description=base.description,
    )
