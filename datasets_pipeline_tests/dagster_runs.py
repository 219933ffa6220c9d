"""Running the real code location in tests: in-process ``materialize`` and the ``dagster`` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

import dagster as dg

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
