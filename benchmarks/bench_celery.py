"""Throughput of Celery workers: the same runs with 1 and 2 workers (and the default multiprocess executor).

Set-up (all on this machine, started by the script and stopped at the end): the loopback Hub serving an
``openai/gsm8k`` whose four splits (main/socratic × train/test) hold ``--rows`` rows each (the real
1,319 test rows repeated), Redis (the broker and result backend), PostgreSQL (the instance, from
``deploy/dagster.postgres.yaml``), and 0, 1 or 2 worker processes
(``celery -A datasets_pipeline.defs.celery_app worker --concurrency 1``). The data root is a local
folder and the Hub cache (``HF_HOME``) an empty one, new for each case (every case downloads): object
storage speed is not what is measured.

Workload per case: the four partitions' runs of ``raw/gsm8k,cookbook/gsm8k`` (8 steps: download +
Parquet → Arrow, then the cookbook conversion), submitted as ``dagster asset materialize`` runs two
at a time (two run processes). Reported: the wall time of the whole workload, the sum of the steps'
own durations (STEP_START → STEP_SUCCESS in the event log) and steps per minute. Each case runs
``--repeat`` times, alternating; the median is reported.

    .venv/bin/python -m benchmarks.bench_celery [--rows 100000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.harness import machine, now, save

REPO_ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = ["main/train", "main/test", "socratic/train", "socratic/test"]


def gsm8k_files(rows: int) -> dict[str, bytes]:
    from datasets_pipeline_tests.fixtures_data import GSM8K_CARD, gsm8k_rows, gsm8k_table

    files = {"README.md": GSM8K_CARD.encode()}
    for config in ("main", "socratic"):
        base = gsm8k_table(gsm8k_rows(config))
        table = pa.concat_tables([base] * (rows // base.num_rows + 1)).slice(0, rows)
        copy = pc.cast(pa.array(np.arange(rows) // base.num_rows), pa.string())  # distinct rows: no duplicate uids
        question = pc.binary_join_element_wise(table.column("question"), copy, " #")
        table = table.set_column(0, table.schema.field(0), question)
        sink = io.BytesIO()
        pq.write_table(table, sink, row_group_size=50_000)
        for split in ("train", "test"):
            files[f"{config}/{split}-00000-of-00001.parquet"] = sink.getvalue()
    return files


def step_seconds(instance, run_ids: list[str]) -> float:
    import dagster as dg

    total = 0.0
    for run_id in run_ids:
        starts = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[event.step_key] = entry.timestamp
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                total += entry.timestamp - starts[event.step_key]
    return total


def run_case(kind: str, workers: int, env: dict[str, str], work: Path, instance) -> dict:
    from datasets_pipeline_tests.servers.celery_workers import CeleryWorker

    data = Path(tempfile.mkdtemp(prefix="data-", dir=work))
    hf_home = Path(tempfile.mkdtemp(prefix="hf_home-", dir=work))  # an empty Hub cache: every case downloads
    env = {**env, "DATASETS_PIPELINE_DATA": str(data), "DATASETS_PIPELINE_EXECUTOR": kind, "HF_HOME": str(hf_home)}
    dagster = str(Path(sys.executable).with_name("dagster"))
    before = {r.run_id for r in instance.get_runs()}
    load = os.getloadavg()[0]  # other work on the machine
    with ExitStack() as stack:
        started = [CeleryWorker(f"b{i}", env, work / f"worker-{kind}-{workers}-{i}.log") for i in range(workers)]
        for worker in started:
            stack.callback(worker.stop)
            worker.start()
        for worker in started:
            worker.wait_ready()

        def one(partition: str) -> int:
            args = [dagster, "asset", "materialize", "-m", "datasets_pipeline.definitions",
                    "--select", "raw/gsm8k,cookbook/gsm8k", "--partition", partition]  # fmt: skip
            done = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                print(done.stderr[-5000:], file=sys.stderr)
            return done.returncode

        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(one, PARTITIONS))
        wall = time.perf_counter() - t0
    assert codes == [0] * len(PARTITIONS), codes
    run_ids = [r.run_id for r in instance.get_runs() if r.run_id not in before]
    steps = step_seconds(instance, run_ids)
    sizes = {layer: (data / layer / "gsm8k" / "main" / "test.arrow").stat().st_size for layer in ("raw", "cookbook")}
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(hf_home, ignore_errors=True)
    return {"wall_s": wall, "step_s": steps, "steps_per_min": 8 / wall * 60, "bytes_main_test": sizes,
            "loadavg_before": load}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    from datasets_pipeline_tests.hub_server import HubServer
    from datasets_pipeline_tests.servers.postgres import PostgresServer
    from datasets_pipeline_tests.servers.redis import RedisServer

    work = Path(tempfile.mkdtemp(prefix="bench-celery-"))
    cases = [("multiprocess", 0), ("celery", 1), ("celery", 2)]
    results: dict[str, list[dict]] = {f"{k}-{w}": [] for k, w in cases}
    with HubServer() as hub, RedisServer() as redis, PostgresServer() as pg:
        hub.add_repo("openai/gsm8k", gsm8k_files(args.rows))
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1",
               "DAGSTER_HOME": str(work / "dagster_home"), "DAGSTER_PG_URL": pg.dagster_url,
               "DATASETS_PIPELINE_CELERY_BROKER": redis.url, "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
        env.pop("HF_TOKEN", None)
        subprocess.run([sys.executable, "-m", "datasets_pipeline", "init", "--config", "deploy/dagster.postgres.yaml"],
                       cwd=REPO_ROOT, env=env, check=True, capture_output=True)  # fmt: skip
        os.environ.update(DAGSTER_HOME=env["DAGSTER_HOME"], DAGSTER_PG_URL=pg.dagster_url)
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
            for _ in range(args.repeat):
                for kind, workers in cases:
                    result = run_case(kind, workers, env, work, instance)
                    results[f"{kind}-{workers}"].append(result)
                    print(kind, workers, json.dumps(result), flush=True)
    summary = {}
    for name, runs in results.items():
        summary[name] = {
            "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "wall_s_range": [min(r["wall_s"] for r in runs), max(r["wall_s"] for r in runs)],
            "step_s_median": statistics.median(r["step_s"] for r in runs),
            "steps_per_min_median": statistics.median(r["steps_per_min"] for r in runs),
        }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    out = {"machine": machine(), "date": now(), "commit": commit, "rows_per_split": args.rows, "partitions": PARTITIONS,
           "bytes_main_test": results["celery-1"][0]["bytes_main_test"], "runs": results, "summary": summary}  # fmt: skip
    save("celery", out)
    shutil.rmtree(work, ignore_errors=True)
    for name, s in summary.items():
        print(f"{name:16s} wall {s['wall_s_median']:6.1f} s  steps {s['step_s_median']:6.1f} s  {s['steps_per_min_median']:5.1f} steps/min")


if __name__ == "__main__":
    main()
