"""Run each benchmark case in its own fresh interpreter and record wall time and peak memory.

A case is ``module:function`` called with JSON keyword arguments. The child imports the modules
named in ``preimport`` first (so library import time is not counted, on either side), then times
the call itself and prints the result.

The machine may be shared (other test runs). Before each case the parent calls ``os.sync()`` (so
no earlier case's dirty pages are still being written back), waits until other processes use
less than ``QUIET_BUSY_CORES`` cores (up to ``QUIET_TIMEOUT_S``, 180 s; the environment variable
``BENCH_QUIET_TIMEOUT_S`` sets it), and afterwards records how many
CPU seconds the rest of the machine used during the case (``extra["other_cpu_s"]``; it includes
kernel writeback of the case's own files). The kernel of the benchmark machine pages out page
cache untouched for about a minute, so the parent reads a case's input files (``warm``) right
before starting it: both sides start with their inputs in the page cache. The machine is a virtual
machine that hands free memory back to its host; the first touch of such a page costs a host-side
fault, which made writing 2.3 GB of fresh page cache take anywhere from 2.2 to 5.7 s for the same
code. So the parent also touches and frees ``PREFAULT_BYTES`` of memory (``prefault``) right before
each child starts, for both sides alike: the run then measures the software, not the host. The
parent records two memory figures:

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
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.005
QUIET_BUSY_CORES = 0.3
QUIET_TIMEOUT_S = float(os.environ.get("BENCH_QUIET_TIMEOUT_S", "180"))  # a busy machine: set it lower
PREFAULT_BYTES = 8 << 30

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


def _busy_cpu_s() -> float:
    """CPU seconds all processes of the machine have used since boot (``/proc/stat``, not idle/iowait)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_busy_cores: float = QUIET_BUSY_CORES, timeout_s: float = QUIET_TIMEOUT_S) -> float:
    """Wait (up to ``timeout_s``) until other processes use less than ``max_busy_cores`` cores over one
    second; return the busy cores seen last. Other work on this shared machine otherwise skews timings."""
    deadline = time.monotonic() + timeout_s
    while True:
        before = _busy_cpu_s()
        time.sleep(1.0)
        busy = _busy_cpu_s() - before
        if busy < max_busy_cores or time.monotonic() > deadline:
            return busy
        print(f"  (waiting: other processes busy on {busy:.1f} cores)", flush=True)
        time.sleep(4.0)


def warm_files(paths: list[str | os.PathLike] | tuple = ()) -> float:
    """Read ``paths`` (files, or folders recursively) once so their pages are in the page cache; seconds taken.

    The machine's kernel pages out page cache that has not been touched for about a minute, so an
    input written before a long case would otherwise be read back from disk by the next case only.
    """
    start = time.perf_counter()
    buf = bytearray(16 << 20)
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass
    return time.perf_counter() - start


def _available_bytes() -> int:
    with open("/proc/meminfo") as fh:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
    return info.get("MemAvailable", 0)


def prefault(nbytes: int = PREFAULT_BYTES) -> float:
    """Touch and free ``nbytes`` of memory (at most half of what is available); seconds taken.

    On a virtual machine that returns free pages to its host, a case that writes gigabytes would
    otherwise pay a host fault per fresh page, by an amount that varies from run to run.
    """
    import numpy as np

    start = time.perf_counter()
    nbytes = min(nbytes, _available_bytes() // 2)
    if nbytes > 0:
        block = np.ones(nbytes // 8)
        del block
    return time.perf_counter() - start


def summarize(name: str, runs: list[Measurement]) -> Measurement:
    """One Measurement for repeated runs: the run with the median wall time, with the highest peak
    RSS and peak anonymous RSS of all runs, and every run listed in ``extra["runs"]``."""
    if len(runs) == 1:
        return runs[0]
    median = sorted(runs, key=lambda r: r.wall_s)[(len(runs) - 1) // 2]
    summary = [
        {"wall_s": r.wall_s, "cpu_s": r.cpu_s, "peak_rss_mb": r.peak_rss_mb, "peak_anon_mb": r.peak_anon_mb,
         "other_cpu_s": r.extra.get("other_cpu_s")}
        for r in runs
    ]
    return Measurement(
        name,
        median.wall_s,
        max(r.peak_rss_mb for r in runs),
        median.out,
        peak_anon_mb=max(r.peak_anon_mb for r in runs),
        cpu_s=median.cpu_s,
        extra={**median.extra, "runs": summary},
    )


def measure(
    name: str,
    target: str,
    /,
    repeat: int = 1,
    before_each: Callable[[], object] | None = None,
    **options: object,
) -> Measurement:
    """Run a case ``repeat`` times in a row (see :func:`measure_once` for ``options``); see :func:`summarize`.

    ``before_each`` runs before every repetition (e.g. removes the previous output). A failing run
    ends the repetitions and is returned.
    """
    return measure_alternating([Case(name, target, before_each, options)], repeat)[0]


@dataclass
class Case:
    """One side of a comparison: ``target`` with ``options`` for :func:`measure_once`."""

    name: str
    target: str
    before_each: Callable[[], object] | None = None
    options: dict = field(default_factory=dict)


def measure_alternating(cases: list[Case], repeat: int) -> list[Measurement]:
    """Run the cases in turn, ``repeat`` rounds (A, B, A, B, …), so that slow phases of a shared
    machine and the order of the runs weigh on every side alike; one summary per case.

    A case whose run fails is not run again and its failed Measurement is returned."""
    runs: list[list[Measurement]] = [[] for _ in cases]
    failed: list[Measurement | None] = [None] * len(cases)
    for i in range(repeat):
        for k, case in enumerate(cases):
            if failed[k] is not None:
                continue
            if case.before_each is not None:
                case.before_each()
            label = case.name if repeat == 1 else f"{case.name} [{i + 1}/{repeat}]"
            m = measure_once(label, case.target, **case.options)
            if m.failed:
                failed[k] = m
            else:
                runs[k].append(m)
    return [failed[k] or summarize(case.name, runs[k]) for k, case in enumerate(cases)]


def measure_once(
    name: str,
    target: str,
    /,
    preimport: list[str] | tuple[str, ...] = (),
    allow_failure: bool = False,
    warm: list[str | os.PathLike] | tuple = (),
    python: str | None = None,
    **kwargs: object,
) -> Measurement:
    """Run ``target`` (``module:function``) in a child process.

    Returns the wall time of the call, the child's peak RSS (``VmHWM``), its peak anonymous RSS
    (sampled) and its CPU time (user + system, whole process). ``preimport`` modules are imported
    before the clock starts. ``warm`` files are read into the page cache just before the child
    starts (inputs in memory for both sides alike). With ``allow_failure``, a failing case returns
    a Measurement whose ``failed`` holds the last line of the child's error (times NaN) instead of
    raising. ``python`` runs the child with another interpreter (default: this one).
    """
    err_file = tempfile.TemporaryFile(mode="w+") if allow_failure else None
    os.sync()  # start from a clean page cache: no earlier case's dirty pages still being written back
    busy_before = wait_for_quiet()
    warm_s = warm_files(warm)
    prefault_s = prefault()
    env = {**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [python or sys.executable, "-c", CHILD, target, json.dumps(kwargs), json.dumps(list(preimport))],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=err_file if allow_failure else None,
        text=True,
    )
    load_before = os.getloadavg()[0]
    machine_cpu_before, own_cpu_before = _busy_cpu_s(), sum(os.times()[:2])
    sampler = _AnonSampler(proc.pid)
    sampler.start()
    stdout = proc.stdout.read()
    # Sample until the child is a zombie (its /proc entry stays readable until reaped).
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    sampler.stop()
    _, status, usage = os.wait4(proc.pid, 0)
    child_cpu = usage.ru_utime + usage.ru_stime
    own_cpu = sum(os.times()[:2]) - own_cpu_before
    # CPU time other processes of the machine used while the case ran (0 on a quiet machine).
    other_cpu = max(0.0, _busy_cpu_s() - machine_cpu_before - child_cpu - own_cpu)
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
        extra={
            "other_cpu_s": round(other_cpu, 2),
            "user_s": round(usage.ru_utime, 2),
            "system_s": round(usage.ru_stime, 2),
            "minor_faults": usage.ru_minflt,
            "major_faults": usage.ru_majflt,
            "warm_s": round(warm_s, 2),
            "prefault_s": round(prefault_s, 2),
            "busy_cores_before": round(busy_before, 2),
            "loadavg_1min_before": load_before,
            "loadavg_1min_after": os.getloadavg()[0],
        },
    )
    print(
        f"  {name}: {m.wall_s:.2f} s wall, {m.cpu_s:.1f} s CPU, peak RSS {m.peak_rss_mb:.0f} MB, "
        f"peak anonymous RSS {m.peak_anon_mb:.0f} MB (other processes: {other_cpu:.1f} CPU s)",
        flush=True,
    )
    return m


def disturbed(m: Measurement | dict) -> bool:
    """Whether other processes used more than a fifth of a core on average while the case ran."""
    extra, wall = (m.extra, m.wall_s) if isinstance(m, Measurement) else (m.get("extra", {}), m["wall_s"])
    other = extra.get("other_cpu_s", 0.0)
    return bool(wall == wall and other > 0.2 * max(wall, 1.0))


def wall(m: Measurement | dict) -> str:
    """Wall seconds, with the range over repetitions when there were several: ``7.19 (6.9–7.4)``."""
    wall_s, extra = (m.wall_s, m.extra) if isinstance(m, Measurement) else (m["wall_s"], m.get("extra", {}))
    runs = extra.get("runs")
    if not runs:
        return f"{wall_s:.2f}"
    walls = [r["wall_s"] for r in runs]
    return f"{wall_s:.2f} ({min(walls):.2f}–{max(walls):.2f})"


def table(rows: list[tuple[str, Measurement, Measurement]]) -> str:
    """Markdown: one row per comparison, ``datasets`` vs ours, with speed-up and memory ratios.

    Wall times are medians over the repetitions (range in parentheses); † marks a row where other
    processes of the machine were busy during a run."""
    lines = [
        "| case | datasets wall (s) | ours wall (s) | speed-up | datasets peak RSS (MB) | ours peak RSS (MB) "
        "| datasets peak anon (MB) | ours peak anon (MB) | anon ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, theirs, ours in rows:
        if disturbed(theirs) or disturbed(ours):
            case += " †"
        if ours.failed or theirs.failed:
            t = "failed" if theirs.failed else wall(theirs)
            o = f"failed: `{ours.failed}`" if ours.failed else wall(ours)
            lines.append(f"| {case} | {t} | {o} | – | {theirs.peak_rss_mb:.0f} | – | {theirs.peak_anon_mb:.0f} | – | – |")
            continue
        lines.append(
            f"| {case} | {wall(theirs)} | {wall(ours)} | {theirs.wall_s / ours.wall_s:.1f}× | "
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
