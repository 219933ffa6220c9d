"""Command line of the project.

- ``python -m datasets_pipeline init [--config deploy/dagster.postgres.yaml]``: create ``$DAGSTER_HOME``
  (default ``./.dagster_home``) with the project's ``dagster.yaml`` (or the given instance config) and
  initialize its storage, once, before any run. Two first runs on a fresh SQLite ``DAGSTER_HOME`` would
  otherwise race to create the same tables and can leave it broken.
- ``python -m datasets_pipeline demo``: ``init``, materialize the demo datasets, serve the UI.
- ``python -m datasets_pipeline free-dead-runs``: mark started runs whose worker process is gone as
  failed and free their pool slots, and those ended runs still hold (what the daemon's run
  monitoring does, at once).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import urllib.request
from pathlib import Path

DEMO_DATA = Path(__file__).parent / "demo_data"
REPO_ROOT = Path(__file__).resolve().parent.parent

# (job, partition) pairs run by the demo, in order; the runs are listed under these job names in the
# UI. GSM8K's DatasetDict needs its train split too, which the offline mirror does not bundle: only
# HumanEval's is built.
DEMO_RUNS: list[tuple[str, str]] = [
    ("refresh_gsm8k_job", "main/test"),
    ("refresh_gsm8k_job", "socratic/test"),
    ("refresh_humaneval_job", "openai_humaneval/test"),
    ("dataset_dict_humaneval_job", "openai_humaneval"),
]
# Then the tokenized and mixture layers on the same data (profile ``demo`` of tokenizers.yaml, mixture
# ``gsm8k_test_mix`` of mixtures.yaml).
DEMO_LAYER_RUNS: list[tuple[str, str | None]] = [
    ("tokenizer_demo_job", None),
    ("tokenize_gsm8k_job", "demo|main/test"),
    ("mixture_gsm8k_test_mix_job", None),
]


def hub_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """True when the Hub answers an API request for a public dataset within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(f"{endpoint.rstrip('/')}/api/datasets/openai/gsm8k", timeout=timeout) as resp:
            return resp.status == 200
    except Exception:  # noqa: BLE001 - any failure means "use the offline mirror"
        return False


def link_instance_config(home: Path, source: Path = REPO_ROOT / "dagster.yaml") -> None:
    """Make ``home/dagster.yaml`` a link to the repository's ``dagster.yaml``: edits apply at the next start.

    A different regular file already there is kept as ``dagster.yaml.previous``.
    """
    target = home / "dagster.yaml"
    if not source.exists() or (target.is_symlink() and target.resolve() == source.resolve()):
        return
    if target.is_symlink():
        target.unlink()
    elif target.exists():
        if target.read_bytes() != source.read_bytes():
            shutil.copy2(target, home / "dagster.yaml.previous")
        target.unlink()
    target.symlink_to(source.resolve())


def init_instance(config: Path | None = None) -> Path:
    """Create ``$DAGSTER_HOME`` (default ``./.dagster_home``) whose ``dagster.yaml`` is a link to the project's
    (:func:`link_instance_config`), or to ``config`` (e.g. ``deploy/dagster.postgres.yaml``), and create or
    migrate its storage now, in this one process. Returns the folder."""
    os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / ".dagster_home"))
    home = Path(os.environ["DAGSTER_HOME"]).expanduser().resolve()  # as Dagster compares it with its working folder
    os.environ["DAGSTER_HOME"] = str(home)
    if config is not None and not config.is_file():
        raise SystemExit(f"init: instance config {config} not found")
    home.mkdir(parents=True, exist_ok=True)
    link_instance_config(home, config if config is not None else REPO_ROOT / "dagster.yaml")
    import dagster as dg

    from .defs.raw import HUB_POOL

    with dg.DagsterInstance.get() as instance:
        instance.upgrade()  # creates missing tables, applies pending migrations (`dagster instance migrate`)
        instance.get_runs(limit=1)
        # The pool's slots now, in one process: two runs creating them at once on PostgreSQL collide
        # (a unique-key violation fails one of the runs).
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.initialize_concurrency_limit_to_default(HUB_POOL)
    return home


def _prepare_environment(args: argparse.Namespace) -> str:
    init_instance()
    os.environ.setdefault("DATASETS_PIPELINE_DATA", str(REPO_ROOT / "data"))
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if os.environ.get("DATASETS_PIPELINE_HUB_MIRROR"):
        return f"local mirror {os.environ['DATASETS_PIPELINE_HUB_MIRROR']}"
    if args.offline or not hub_reachable(endpoint):
        os.environ["DATASETS_PIPELINE_HUB_MIRROR"] = str(DEMO_DATA)
        return f"bundled offline mirror {DEMO_DATA} (the Hub at {endpoint} was not used)"
    return f"the Hub at {endpoint}"


def _materialize_demo() -> None:
    import dagster as dg
    import pyarrow.compute as pc

    from . import api
    from .defs.run_health import WORKER_TAG, this_worker
    from .definitions import defs

    instance = dg.DagsterInstance.get()
    for job_name, partition in DEMO_RUNS + DEMO_LAYER_RUNS:
        result = defs.resolve_job_def(job_name).execute_in_process(
            partition_key=partition, instance=instance,  # a "<profile>|<config>/<split>" key for tokenize jobs
            tags={"source": "demo", WORKER_TAG: this_worker()},  # a killed demo run is detected as dead
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        status = "ok" if result.success else "FAILED"
        print(f"  {status:6} {job_name}" + (f" [{partition}]" if partition else ""), flush=True)
        if not result.success:
            raise SystemExit(1)
    tokens = api.load("gsm8k", "main", "test", layer="tokenized", profile="demo")
    print(f"\nload('gsm8k', 'main', 'test', layer='tokenized', profile='demo') -> {tokens.num_rows} rows, "
          f"{pc.sum(tokens['length']).as_py()} prompt tokens")
    mix = api.load("gsm8k_test_mix", layer="mixture")
    print(f"load('gsm8k_test_mix', layer='mixture') -> {mix.num_rows} rows from {pc.count_distinct(mix['source']).as_py()} sources")
    table = api.load("gsm8k", "main", "test")
    print(f"load('gsm8k', 'main', 'test') -> {table.num_rows} rows; first answer {table['answer'][0].as_py()!r}")
    print(f"dataset_dict_path('humaneval') -> {api.dataset_dict_path('humaneval')}")


def _free_dead_runs() -> int:
    import dagster as dg

    from .defs.run_health import free_dead_runs

    with dg.DagsterInstance.get() as instance:
        freed = free_dead_runs(instance)
    for run_id, what in freed:
        print(f"run {run_id}: {what}")
    print(f"{len(freed)} run(s) freed")
    return 0


def _serve(port: int) -> int:
    """Replace this process by ``dagster dev`` on 127.0.0.1 (SIGINT/SIGTERM reset so it shuts down cleanly).

    It runs in ``DAGSTER_HOME`` (whose ``dagster.yaml`` is the repository's), so Dagster finds no
    other instance file in its working folder to warn about; the repository is on ``PYTHONPATH``.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    dagster = Path(sys.executable).with_name("dagster")
    print(f"\nDagster UI: http://127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
    os.chdir(os.environ["DAGSTER_HOME"])
    workspace = str(REPO_ROOT / "workspace.yaml")
    os.execv(str(dagster), [str(dagster), "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port)])
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets_pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create $DAGSTER_HOME with this project's dagster.yaml and initialize its storage")
    init.add_argument("--config", type=Path, help="link this instance config instead (e.g. deploy/dagster.postgres.yaml)")
    sub.add_parser("free-dead-runs", help="mark runs whose worker process is gone as failed and free their pool slots")
    demo = sub.add_parser("demo", help="materialize the demo datasets, then serve the Dagster UI")
    demo.add_argument("--no-serve", action="store_true", help="stop after materializing")
    demo.add_argument("--offline", action="store_true", help="use the bundled mirror even if the Hub is reachable")
    demo.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    if args.command == "init":
        print(f"Dagster instance ready in {init_instance(args.config)}")
        return 0
    if args.command == "free-dead-runs":
        return _free_dead_runs()
    where = _prepare_environment(args)
    print(f"datasets_pipeline demo: data from {where}")
    print(f"  data folder {os.environ['DATASETS_PIPELINE_DATA']}, DAGSTER_HOME {os.environ['DAGSTER_HOME']}", flush=True)
    _materialize_demo()
    if args.no_serve:
        return 0
    return _serve(args.port)
