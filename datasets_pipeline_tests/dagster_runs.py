"""Running the real code location in tests: in-process ``materialize`` and the ``dagster`` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

import dagster as dg

from datasets_pipeline_tests.servers import stop_process_group

REPO_ROOT = Path(__file__).resolve().parent.parent


def materialize(selection: Sequence[str], partition: str | None, *, raise_on_error: bool = False) -> dg.ExecuteInProcessResult:
    """Materialize ``selection`` (asset key strings) for one partition in this process."""
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.definitions import resources

    return dg.materialize(
        catalog_assets(),
        selection=list(selection),
        partition_key=partition,
        resources=resources(),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """All step failure texts of a run (error messages and their causes)."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None:
                texts.append(error.message)
                error = error.cause
    return "\n".join(texts)


def cli_env(hub_url: str, tmp_path: Path, data_dir: Path, executor: str = "in_process") -> dict[str, str]:
    """The environment of a ``dagster`` CLI run against the loopback Hub: its own HF_HOME and
    DAGSTER_HOME under ``tmp_path``, data in ``data_dir``, no token."""
    env = {
        **os.environ,
        "HF_ENDPOINT": hub_url,
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DATASETS_PIPELINE_DATA": str(data_dir),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "DATASETS_PIPELINE_EXECUTOR": executor,
    }
    env.pop("HF_TOKEN", None)
    return env


# A process writing an Arrow file slowly through the atomic writer: argv = path, batches, rows per batch, sleep.
SLOW_WRITER = r"""
import sys, time
import pyarrow as pa
from datasets_pipeline.engine.ipc import write_batches
n, rows, pause = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def batches():
    for i in range(n):
        yield pa.record_batch({"x": pa.array(range(i * rows, (i + 1) * rows))})
        print("batch", i, flush=True)
        time.sleep(pause)
write_batches(sys.argv[1], batches())
"""


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """End a process started with ``start_new_session=True`` and its children: SIGTERM, then SIGKILL."""
    stop_process_group(proc, timeout=timeout)


def run_cli(args: Sequence[str], env: Mapping[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    """Run the ``dagster`` CLI of this environment with ``env`` added to the current environment."""
    dagster = Path(sys.executable).with_name("dagster")
    full_env = {**os.environ, "DATASETS_PIPELINE_EXECUTOR": "in_process", **env}
    return subprocess.run(
        [str(dagster), *args], cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_python(code: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -c code`` in a fresh interpreter with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout
    )
