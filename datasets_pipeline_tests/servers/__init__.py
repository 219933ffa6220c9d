"""Real servers started on 127.0.0.1 by tests (each in its own process, stopped at teardown)."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process_group(
    proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10, sweep: bool = False, leader_only: bool = False
) -> None:
    """End ``proc`` (started with ``start_new_session=True``) and its process group: ``sig`` (to the
    leader alone with ``leader_only``), SIGKILL to the group after ``timeout`` s; ``sweep`` then
    SIGKILLs what is left of the group (children that outlived their parent)."""
    try:
        (os.kill if leader_only else os.killpg)(proc.pid, sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        proc.wait(timeout=10)
    if sweep:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
