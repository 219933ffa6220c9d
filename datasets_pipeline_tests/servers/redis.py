"""Debian's ``redis-server`` in its own process on 127.0.0.1, in a temporary folder.

``RedisServer`` starts ``redis-server`` on a free loopback port (no persistence, its working folder a
new temporary folder), waits until it answers ``PING``, and at exit stops its process group and
removes the folder. ``url`` is the ``redis://`` URL of database 0.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from datasets_pipeline_tests.servers import stop_process_group

CANDIDATES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_redis_server() -> str | None:
    """The ``redis-server`` binary on PATH or in Debian's place, or None."""
    found = shutil.which("redis-server")
    return found or next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A throw-away Redis on 127.0.0.1; use as a context manager."""

    def __init__(self, binary: str | None = None, startup_timeout: float = 30.0) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise FileNotFoundError("redis-server not found (Debian: apt-get install redis-server; scripts/install_servers.sh)")
        self.binary = found
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.startup_timeout = startup_timeout
        self.folder: Path | None = None
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.folder = Path(tempfile.mkdtemp(prefix="redis-"))
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
                "--logfile", str(self.folder / "redis.log")]  # fmt: skip
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + self.startup_timeout
        while not _ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log_text()
                self.stop()
                raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port}: {log[-2000:]}")
            time.sleep(0.05)
        return self

    def log_text(self) -> str:
        log = self.folder / "redis.log" if self.folder is not None else None
        return log.read_text(errors="replace") if log is not None and log.exists() else ""

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def stop(self) -> None:
        """SIGTERM the server, SIGKILL after 10 s, remove its folder; idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process_group(proc)
        folder, self.folder = self.folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
