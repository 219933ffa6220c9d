"""Debian's PostgreSQL in its own process on 127.0.0.1, its cluster in a temporary folder.

``PostgresServer`` runs ``initdb`` (user ``dagster``, trust authentication on the loopback only) in a
new temporary folder, starts ``postgres`` on a free loopback port (its socket in that folder, fsync off:
a test database), creates the database ``dagster``, and at exit stops the server (fast shutdown, then
SIGKILL of its process group) and removes the folder. ``url`` is the ``postgresql://`` URL of it.

PostgreSQL refuses to run as root: when the tests run as root, ``initdb`` and ``postgres`` run as the
unprivileged user ``postgres`` (Debian's package creates it) or else ``nobody``, owning the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from datasets_pipeline_tests.servers import stop_process_group
from datasets_pipeline_tests.servers.s3 import free_port

USER = "dagster"
DATABASE = "dagster"


def find_postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``postgres`` (PATH, then Debian's newest version), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if os.access(f"{folder}/initdb", os.X_OK) and os.access(f"{folder}/postgres", os.X_OK):
            return Path(folder)
    return None


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None (this one) unless this process is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("PostgreSQL cannot run as root and neither user 'postgres' nor 'nobody' exists")


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1; use as a context manager."""

    def __init__(self, bin_dir: Path | None = None, startup_timeout: float = 60.0) -> None:
        found = bin_dir or find_postgres_bin()
        if found is None:
            raise FileNotFoundError("PostgreSQL's initdb/postgres not found (Debian: apt-get install postgresql; scripts/install_servers.sh)")
        self.bin_dir = found
        self.port = free_port()
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"
        self.startup_timeout = startup_timeout
        self.folder: Path | None = None
        self.proc: subprocess.Popen | None = None

    def _as_server(self) -> dict:
        account = _server_account()
        return {} if account is None else {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def start(self) -> PostgresServer:
        self.folder = Path(tempfile.mkdtemp(prefix="postgres-"))
        account = _server_account()
        if account is not None:
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        data = self.folder / "data"
        init = subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True, timeout=120, **self._as_server(),
        )  # fmt: skip
        if init.returncode != 0:
            self.stop()
            raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr[-2000:]}")
        args = [str(self.bin_dir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port),
                "-k", str(self.folder), "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off"]  # fmt: skip
        with open(self.folder / "postgres.log", "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, **self._as_server())  # fmt: skip
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg2

        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres", connect_timeout=2)
                break
            except psycopg2.OperationalError:
                if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.log_text()
                    self.stop()
                    raise RuntimeError(f"postgres did not start on 127.0.0.1:{self.port}: {log[-2000:]}") from None
                time.sleep(0.1)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            conn.close()

    def log_text(self) -> str:
        log = self.folder / "postgres.log" if self.folder is not None else None
        return log.read_text(errors="replace") if log is not None and log.exists() else ""

    @property
    def dagster_url(self) -> str:
        """The URL for ``dagster-postgres`` (``postgres_url``): SQLAlchemy 2.1 reads a bare ``postgresql://`` as
        psycopg 3, so it names the installed driver, psycopg2."""
        return self.url.replace("postgresql://", "postgresql+psycopg2://", 1)

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL of the process group after 20 s, remove the folder; idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:  # backends still exiting after the postmaster are swept
            stop_process_group(proc, signal.SIGINT, timeout=20, sweep=True, leader_only=True)
        folder, self.folder = self.folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
