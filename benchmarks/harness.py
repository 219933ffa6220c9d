"""Run each benchmark case in its own fresh interpreter and record wall time and peak memory.

A case is ``module:function`` called with JSON keyword arguments. The child imports the modules
named in ``preimport`` first (so library import time is not counted, on either side), then times
the call itself and prints the result. The parent records two memory figures:

- **peak RSS**: the child's ``VmHWM`` (``/proc/self/status``, read by the child after the call),
  the high-water mark of its resident set since it started. It counts every resident page,
  including pages of memory-mapped files (Arrow files read zero-copy). Those are page cache:
  clean, shared, reclaimable by the kernel at any time without swapping. (``ru_maxrss`` from
  ``wait4`` is not used: Linux carries the parent's high-water mark into a forked child, so
  it would report at least the parent's own RSS.)
- **peak anonymous RSS**: the highest ``RssAnon`` of ``/proc/<pid>/status``, sampled every
  ``POLL_S`` seconds by a thread of the parent. It is the memory the process really owns (heap,
  Arrow buffers, numpy arrays): what must fit in RAM. Sampling can miss a spike shorter than
  the interval, so it is a lower bound within a few milliseconds of allocation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.005

CHILD = r"""
import importlib, json, sys, time
module, function = sys.argv[1].split(":")
kwargs = json.loads(sys.argv[2])
for name in json.loads(sys.argv[3]):
    importlib.import_module(name)
fn = getattr(importlib.import_module(module), function)
start = time.perf_counter()
out = fn(**kwargs)
wall = time.perf_counter() - start
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
hwm_kb = int(status["VmHWM"].split()[0])
print("RESULT " + json.dumps({"wall_s": wall, "out": out, "vmhwm_kb": hwm_kb}), flush=True)
"""


@dataclass
class Measurement:
    name: str
    wall_s: float
    peak_rss_mb: float
    out: object
    peak_anon_mb: float = float("nan")
    cpu_s: float = float("nan")
    extra: dict = field(default_factory=dict)
    failed: str | None = None


def _status_kb(pid: int, keys: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in keys:
                    found[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return found


class _AnonSampler(threading.Thread):
    """Polls ``RssAnon`` of one process until stopped; keeps the maximum (in kB)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            kb = _status_kb(self.pid, ("RssAnon",)).get("RssAnon")
            if kb is None:
                break
            self.peak_kb = max(self.peak_kb, kb)
            self._stop_event.wait(POLL_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def measure(
    name: str,
    target: str,
    /,
    preimport: list[str] | tuple[str, ...] = (),
    allow_failure: bool = False,
    **kwargs: object,
) -> Measurement:
    """Run ``target`` (``module:function``) in a child process.

    Returns the wall time of the call, the child's peak RSS (``VmHWM``), its peak anonymous RSS
    (sampled) and its CPU time (user + system, whole process). ``preimport`` modules are imported
    before the clock starts. With ``allow_failure``, a failing case returns a Measurement whose
    ``failed`` holds the last line of the child's error (times and memory then NaN) instead of raising.
    """
    err_file = tempfile.TemporaryFile(mode="w+") if allow_failure else None
    os.sync()  # start from a clean page cache: no earlier case's dirty pages still being written back
    env = {**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, target, json.dumps(kwargs), json.dumps(list(preimport))],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=err_file if allow_failure else None,
        text=True,
    )
    load_before = os.getloadavg()[0]
    sampler = _AnonSampler(proc.pid)
    sampler.start()
    stdout = proc.stdout.read()
    # Sample until the child is a zombie (its /proc entry stays readable until reaped).
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    sampler.stop()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = ""
    if err_file is not None:
        err_file.seek(0)
        stderr = err_file.read()
        err_file.close()
    if proc.returncode != 0 and allow_failure:
        reason = next((l for l in reversed(stderr.strip().splitlines()) if l.strip()), f"exit code {proc.returncode}")
        print(f"  {name}: FAILED: {reason}", flush=True)
        nan = float("nan")
        return Measurement(
            name, nan, nan, None, sampler.peak_kb / 1024, usage.ru_utime + usage.ru_stime, failed=reason,
            extra={"stderr_tail": stderr[-3000:]},
        )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark case {name} failed with exit code {proc.returncode}:\n{stdout[-2000:]}")
    line = next(l for l in stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    m = Measurement(
        name,
        result["wall_s"],
        result["vmhwm_kb"] / 1024,
        result["out"],
        peak_anon_mb=sampler.peak_kb / 1024,
        cpu_s=usage.ru_utime + usage.ru_stime,
        extra={"loadavg_1min_before": load_before, "loadavg_1min_after": os.getloadavg()[0]},
    )
    print(
        f"  {name}: {m.wall_s:.2f} s wall, {m.cpu_s:.1f} s CPU, peak RSS {m.peak_rss_mb:.0f} MB, "
        f"peak anonymous RSS {m.peak_anon_mb:.0f} MB (load {load_before:.1f} → {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return m


def table(rows: list[tuple[str, Measurement, Measurement]]) -> str:
    """Markdown: one row per comparison, ``datasets`` vs ours, with speed-up and memory ratios."""
    lines = [
        "| case | datasets wall (s) | ours wall (s) | speed-up | datasets peak RSS (MB) | ours peak RSS (MB) "
        "| datasets peak anon (MB) | ours peak anon (MB) | anon ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, theirs, ours in rows:
        if ours.failed or theirs.failed:
            t = "failed" if theirs.failed else f"{theirs.wall_s:.2f}"
            o = f"failed: `{ours.failed}`" if ours.failed else f"{ours.wall_s:.2f}"
            lines.append(f"| {case} | {t} | {o} | – | {theirs.peak_rss_mb:.0f} | – | {theirs.peak_anon_mb:.0f} | – | – |")
            continue
        lines.append(
            f"| {case} | {theirs.wall_s:.2f} | {ours.wall_s:.2f} | {theirs.wall_s / ours.wall_s:.1f}× | "
            f"{theirs.peak_rss_mb:.0f} | {ours.peak_rss_mb:.0f} | "
            f"{theirs.peak_anon_mb:.0f} | {ours.peak_anon_mb:.0f} | {ours.peak_anon_mb / theirs.peak_anon_mb:.2f} |"
        )
    return "\n".join(lines)


def save(name: str, payload: dict) -> Path:
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(value: object) -> object:
    if isinstance(value, Measurement):
        return vars(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def machine() -> dict:
    """The machine and library versions, for the results files."""
    import platform

    import numpy
    import pyarrow

    info = {
        "nproc": os.cpu_count(),
        "mem_total_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "numpy": numpy.__version__,
    }
    try:
        from importlib.metadata import version

        info["datasets"] = version("datasets")
    except Exception:  # pragma: no cover - datasets is a benchmark-only dependency
        info["datasets"] = None
    return info


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
