"""Start and stop ``dagster dev`` on 127.0.0.1 for tests: a temporary DAGSTER_HOME, the offline mirror."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Mapping

from datasets_pipeline.cli import DEMO_DATA, link_instance_config
from datasets_pipeline_tests.dagster_runs import REPO_ROOT

# Reset SIGINT/SIGTERM (ignored when started from a background shell) before exec'ing dagster, so
# SIGTERM stops it cleanly.
_EXEC_WITH_DEFAULT_SIGNALS = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.signal(signal.SIGTERM, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=15) as resp:
        return json.loads(resp.read())


class DagsterDev:
    """``dagster dev`` in its own session, serving the code location on ``base``; ``stop()`` ends only it."""

    def __init__(self, folder: Path, env: Mapping[str, str] | None = None) -> None:
        self.home = folder / "dagster_home"
        self.data = folder / "data"
        self.log_path = folder / "dagster_dev.log"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.home.mkdir(parents=True, exist_ok=True)
        link_instance_config(self.home)
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "DATASETS_PIPELINE_DATA": str(self.data),
            "DATASETS_PIPELINE_HUB_MIRROR": str(DEMO_DATA),
            "DATASETS_PIPELINE_EXECUTOR": "in_process",
            "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing listens: only the mirror serves data
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 240) -> "DagsterDev":
        dagster = Path(sys.executable).with_name("dagster")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _EXEC_WITH_DEFAULT_SIGNALS, str(dagster), "dev",
             "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=self.home, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        query = '{ assetNodes(assetKeys: [{path: ["raw", "gsm8k"]}]) { assetKey { path } } }'
        while True:
            assert self.proc.poll() is None, self.log()[-3000:]
            try:
                if graphql(self.base, query).get("data", {}).get("assetNodes"):
                    return self
            except OSError:
                pass
            assert time.monotonic() < deadline, self.log()[-3000:]
            time.sleep(1)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
