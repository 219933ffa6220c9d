"""Killed runs must not hold the ``hf_hub`` pool for ever: real ``dagster`` CLI runs, kill -9, the daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline_tests.dagster_runs import REPO_ROOT, cli_env
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files
from datasets_pipeline_tests.hub_server import Fault

REPO = "openai/gsm8k"
BIN = Path(sys.executable).parent


def _env(hub_server, tmp_path: Path, data_dir: Path, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))  # the instance's yaml reads it
    return cli_env(hub_server.url, tmp_path, data_dir)


def _materialize_args(partition: str) -> list[str]:
    return [str(BIN / "dagster"), "asset", "materialize", "-m", "datasets_pipeline.definitions",
            "--select", "raw/gsm8k", "--partition", partition]  # fmt: skip


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def _wait(predicate, timeout: float, what: str, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(poll)


def _kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


def _start_killed_runs(hub_server, env: dict[str, str], home: Path) -> list[str]:
    """Two runs killed with SIGKILL while downloading: both stay STARTED, holding both ``hf_hub`` slots.

    Every file download stalls until both runs hold a slot (a run may retry its stalled request, so
    the number of stalled requests alone does not tell that both runs got there); then both are
    killed and the stall is lifted for the runs that follow.
    """
    stall = hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="delay", delay=600, times=None))
    procs = [
        subprocess.Popen(_materialize_args(p), cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        for p in ("main/test", "socratic/test")
    ]

    def both_downloading() -> bool:
        if any(p.poll() is not None for p in procs):
            return True
        if stall.hits < 2:
            return False
        with _instance(home) as instance:
            return len({s.run_id for s in instance.event_log_storage.get_concurrency_info("hf_hub").claimed_slots}) == 2

    try:
        _wait(both_downloading, 180, "two runs downloading", poll=0.5)
        assert all(p.poll() is None for p in procs), "a run ended before reaching the download"
    finally:
        for proc in procs:
            _kill_group(proc)
        hub_server.clear_faults()
    with _instance(home) as instance:
        runs = instance.get_runs()
        assert [r.status for r in runs] == [dg.DagsterRunStatus.STARTED] * 2
        info = instance.event_log_storage.get_concurrency_info("hf_hub")
        assert info.limit == 2 and {s.run_id for s in info.claimed_slots} == {r.run_id for r in runs}
        return [r.run_id for r in runs]


def _warnings(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    import logging

    return [e.user_message for e in instance.all_logs(run_id) if e.level == logging.WARNING]


def test_daemon_frees_the_pool_slots_of_killed_runs_and_a_new_run_gets_through(hub_server, tmp_path, data_dir, monkeypatch):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    env = _env(hub_server, tmp_path, data_dir, monkeypatch)
    home = tmp_path / "dagster_home"
    init = subprocess.run([sys.executable, "-m", "datasets_pipeline", "init"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert (home / "dagster.yaml").read_text() == (REPO_ROOT / "dagster.yaml").read_text()

    dead = _start_killed_runs(hub_server, env, home)

    # A third run now waits on the pool, and says so at WARNING level, naming the pool, the dead
    # holders and how to free them.
    third = subprocess.Popen(_materialize_args("main/test"), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    daemon = None
    try:
        with _instance(home) as instance:
            def third_run_id() -> str | None:
                ids = [r.run_id for r in instance.get_runs() if r.run_id not in dead]
                return ids[0] if ids else None

            _wait(lambda: third_run_id() is not None and _warnings(instance, third_run_id()), 120, "the pool warning")
            run_id = third_run_id()
            warning = next(w for w in _warnings(instance, run_id) if "pool" in w)
            assert "waiting for a free slot of pool 'hf_hub' (limit 2)" in warning
            assert all(d in warning for d in dead) and "dead or finished but still hold slots" in warning
            assert "python -m datasets_pipeline free-dead-runs" in warning and "dagster-daemon run" in warning
            time.sleep(3)
            assert third.poll() is None  # still blocked: nothing frees the slots without the daemon

            # The daemon's run monitoring (the project's dagster.yaml) marks the dead runs failed and frees
            # their slots; the waiting run then gets through.
            daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=REPO_ROOT,
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)  # fmt: skip
            out, _ = third.communicate(timeout=180)
            assert third.returncode == 0, out[-3000:]
            for run_id in dead:
                run = instance.get_run_by_id(run_id)
                assert run.status == dg.DagsterRunStatus.FAILURE
                failure = [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.is_run_failure]
                assert "run worker process" in failure[-1].dagster_event.message and "is gone" in failure[-1].dagster_event.message
            assert instance.get_run_by_id(third_run_id()).status == dg.DagsterRunStatus.SUCCESS
            assert instance.event_log_storage.get_concurrency_info("hf_hub").claimed_slots == []
    finally:
        if third.poll() is None:
            _kill_group(third)
        if daemon is not None:
            _kill_group(daemon, signal.SIGTERM)
    assert read_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow").num_rows == 1319


def test_free_dead_runs_command_frees_killed_runs_without_the_daemon(hub_server, tmp_path, data_dir, monkeypatch):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    env = _env(hub_server, tmp_path, data_dir, monkeypatch)
    home = tmp_path / "dagster_home"
    subprocess.run([sys.executable, "-m", "datasets_pipeline", "init"], cwd=REPO_ROOT, env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    dead = _start_killed_runs(hub_server, env, home)

    freed = subprocess.run([sys.executable, "-m", "datasets_pipeline", "free-dead-runs"], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert freed.returncode == 0, freed.stderr
    assert freed.stdout.endswith("2 run(s) freed\n")
    for run_id in dead:
        assert f"run {run_id}: its run worker process " in freed.stdout
    assert freed.stdout.count("is gone: marked failed, pool slots freed") == 2
    with _instance(home) as instance:
        assert [instance.get_run_by_id(d).status for d in dead] == [dg.DagsterRunStatus.FAILURE] * 2
        assert instance.event_log_storage.get_concurrency_info("hf_hub").claimed_slots == []
    again = subprocess.run(_materialize_args("main/test"), cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=240)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert read_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow").num_rows == 1319


def test_worker_liveness_sees_killed_zombie_and_reused_pids_and_leaves_other_hosts_alone():
    import socket

    from datasets_pipeline.defs.run_health import process_start, this_worker, worker_gone

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _wait(lambda: process_start(proc.pid) is not None, 10, "the process")
        tag = f"{socket.gethostname()}:{proc.pid}:{process_start(proc.pid)}"
        assert worker_gone(tag) is None
        assert worker_gone(f"{socket.gethostname()}:{proc.pid}:1").endswith("(the pid now belongs to another process)")
        os.kill(proc.pid, signal.SIGKILL)
        _wait(lambda: worker_gone(tag) is not None, 10, "the kill")
        assert worker_gone(tag) == f"its run worker process {proc.pid} on {socket.gethostname()} is gone (a zombie)"
    finally:
        proc.kill()
        proc.wait()
    assert worker_gone(tag) == f"its run worker process {proc.pid} on {socket.gethostname()} is gone"
    assert worker_gone(f"another-host:{proc.pid}:1") is None and worker_gone(None) is None
    assert worker_gone(this_worker()) is None
