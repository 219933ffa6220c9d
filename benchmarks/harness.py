"""Run each benchmark case in its own fresh interpreter and record wall time and peak RSS.

A case is ``module:function`` called with JSON keyword arguments; the child reports its own wall
time for the measured work, and the parent reads the child's peak RSS from ``os.wait4``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import importlib, json, sys, time
module, function = sys.argv[1].split(":")
kwargs = json.loads(sys.argv[2])
fn = getattr(importlib.import_module(module), function)
start = time.perf_counter()
out = fn(**kwargs)
wall = time.perf_counter() - start
print("RESULT " + json.dumps({"wall_s": wall, "out": out}), flush=True)
"""


@dataclass
class Measurement:
    name: str
    wall_s: float
    peak_rss_mb: float
    out: object


def measure(name: str, target: str, **kwargs: object) -> Measurement:
    """Run ``target`` (``module:function``) in a child process; wall time of the call and the child's peak RSS."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, target, json.dumps(kwargs)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark case {name} failed with exit code {proc.returncode}:\n{stdout[-2000:]}")
    line = next(l for l in stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    return Measurement(name, result["wall_s"], usage.ru_maxrss / 1024, result["out"])


def table(rows: list[tuple[str, Measurement, Measurement]]) -> str:
    """Markdown: one row per comparison, ours vs ``datasets``, with speed-up and memory ratios."""
    lines = [
        "| case | datasets wall (s) | ours wall (s) | speed-up | datasets peak RSS (MB) | ours peak RSS (MB) | RSS ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, theirs, ours in rows:
        lines.append(
            f"| {case} | {theirs.wall_s:.2f} | {ours.wall_s:.2f} | {theirs.wall_s / ours.wall_s:.1f}× | "
            f"{theirs.peak_rss_mb:.0f} | {ours.peak_rss_mb:.0f} | {ours.peak_rss_mb / theirs.peak_rss_mb:.2f} |"
        )
    return "\n".join(lines)


def save(name: str, payload: dict) -> Path:
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
