"""The project's Celery workers as separate processes (``celery -A datasets_pipeline.defs.celery_app worker``).

``CeleryWorker`` starts one worker (``--concurrency 1``: its main process and one forked pool process
that runs one step at a time) in a new session with a given environment, waits until it logs
``ready``, and at exit stops its whole process group (warm shutdown, SIGKILL after a timeout).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Mapping

import psutil
from datasets_pipeline_tests.servers import stop_process_group

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
APP = "datasets_pipeline.defs.celery_app"


class CeleryWorker:
    """One worker named ``<name>@<host>``, logging to ``log_path``; use as a context manager."""

    def __init__(self, name: str, env: Mapping[str, str], log_path: Path, startup_timeout: float = 120.0) -> None:
        self.name = name
        self.hostname = f"{name}@{socket.gethostname()}"
        self.env = dict(env)
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    def start(self) -> CeleryWorker:
        celery = Path(sys.executable).with_name("celery")
        args = [str(celery), "-A", APP, "worker", "--concurrency", "1", "--hostname", self.hostname,
                "--loglevel", "INFO", "--without-mingle", "--without-gossip"]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while f"{self.hostname} ready." not in self.log_text():
            if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker {self.hostname} did not start: {self.log_text()[-3000:]}")
            time.sleep(0.1)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def pool_pids(self) -> set[int]:
        """The worker's pool processes (the ones that run steps), now."""
        if self.proc is None:
            return set()
        try:
            return {child.pid for child in psutil.Process(self.proc.pid).children()}
        except psutil.NoSuchProcess:
            return set()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the worker's process group (warm shutdown), SIGKILL after ``timeout``; idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:  # pool processes that outlived their parent are swept
            stop_process_group(proc, timeout=timeout, sweep=True)

    def __enter__(self) -> CeleryWorker:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
