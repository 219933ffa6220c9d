"""Staged writes: temporaries left by killed writers are cleaned, a full disk names the file and partition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

import datasets_pipeline as dp
from datasets_pipeline.engine.ipc import HOST_TAG, read_table, remove_stale_temporaries, stage_batches, write_table
from datasets_pipeline.errors import StorageFullError
from datasets_pipeline.steps.checks import MAX_ROW_LOSS_ENV, cookbook_checks, max_row_loss, row_count
from datasets_pipeline_tests.dagster_runs import SLOW_WRITER, failure_message
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files
from datasets_pipeline_tests.test_e2e_publish import run
from datasets_pipeline_tests.tmpfs import small_tmpfs



def _start_writer(target: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target), "100000", "100", "0.02"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    for _ in range(5):  # well into its write: its temporary exists
        assert proc.stdout.readline().startswith("batch")
    return proc


def _temporaries(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".tmp-{name}."))


def test_next_write_of_a_partition_removes_temporaries_of_killed_writers_only(hub_server, hf_env, data_dir):
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    target = data_dir / "raw" / "gsm8k" / "main" / "test.arrow"
    target.parent.mkdir(parents=True)

    killed = _start_writer(target)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    left = _temporaries(target.parent, "test.arrow")
    assert len(left) == 1 and f".{HOST_TAG}-{killed.pid}-" in left[0]

    legacy_old = target.parent / f".tmp-test.arrow.{uuid.uuid4().hex}"  # the naming of earlier releases
    legacy_old.write_bytes(b"partial")
    os.utime(legacy_old, (time.time() - 3600, time.time() - 3600))
    other_target = target.parent / f".tmp-train.arrow.{HOST_TAG}-{killed.pid}-{uuid.uuid4().hex}"
    other_target.write_bytes(b"partial")

    live = _start_writer(target)  # a writer of the same file that is still running
    try:
        live_tmp = [n for n in _temporaries(target.parent, "test.arrow") if f"-{live.pid}-" in n]
        assert len(live_tmp) == 1
        result = run(dg.DagsterInstance.ephemeral(), ["raw/gsm8k"], "main/test")
        assert result.success, failure_message(result)
        assert _temporaries(target.parent, "test.arrow") == live_tmp  # only the live writer's is left
        assert other_target.exists()  # another partition's temporaries are not this write's business
        assert dp.load("gsm8k", "main", "test", layer="raw").num_rows == 1319
    finally:
        live.kill()
        live.wait(timeout=30)


def test_remove_stale_temporaries_unit(tmp_path):
    target = tmp_path / "t.arrow"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(done.stdout)
    dead = tmp_path / f".tmp-t.arrow.{HOST_TAG}-{dead_pid}-{uuid.uuid4().hex}"
    mine = tmp_path / f".tmp-t.arrow.{HOST_TAG}-{os.getpid()}-{uuid.uuid4().hex}"
    foreign = tmp_path / f".tmp-t.arrow.0badc0de-{dead_pid}-{uuid.uuid4().hex}"  # another machine: age decides
    for p in (dead, mine, foreign):
        p.write_bytes(b"x")
    os.utime(foreign, (100.0, 100.0))
    assert remove_stale_temporaries(target) == [dead.name]
    assert remove_stale_temporaries(target, older_than=50.0) == []
    assert remove_stale_temporaries(target, older_than=time.time()) == [foreign.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == [mine.name]


def test_staged_file_is_invisible_until_published_and_discard_keeps_the_old_file(tmp_path):
    target = tmp_path / "x" / "t.arrow"
    write_table(target, pa.table({"a": [1, 2, 3]}))
    staged = stage_batches(target, [pa.table({"a": [9]})])
    assert read_table(target).column("a").to_pylist() == [1, 2, 3]
    assert staged.read().column("a").to_pylist() == [9]
    staged.discard()
    assert sorted(p.name for p in target.parent.iterdir()) == ["t.arrow"]
    staged = stage_batches(target, [pa.table({"a": [7, 8]})])
    staged.publish()
    assert read_table(target).column("a").to_pylist() == [7, 8]
    assert sorted(p.name for p in target.parent.iterdir()) == ["t.arrow"]


def test_disk_full_names_the_path_and_partition_and_keeps_the_previous_file(hub_server, hf_env, data_dir):
    """A real full filesystem: a 256 KiB tmpfs as the data folder."""
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    with small_tmpfs(data_dir, "256k"):
        instance = dg.DagsterInstance.ephemeral()
        small = run(instance, ["raw/gsm8k"], "main/train")  # 40 rows: fits
        assert small.success, failure_message(small)
        good = (data_dir / "raw" / "gsm8k" / "main" / "train.arrow").read_bytes()
        big = run(instance, ["raw/gsm8k"], "main/test")  # 1,319 rows (~1 MB): does not
        assert not big.success
        message = failure_message(big)
        path = data_dir / "raw" / "gsm8k" / "main" / "test.arrow"
        for part in ("no space left on the device while writing", f"'{path}'", "dataset 'gsm8k'", "config 'main'",
                     "split 'test'", "the published version, if any, is kept"):
            assert part in message, (part, message)
        assert sorted(p.name for p in path.parent.iterdir()) == ["train.arrow"]  # the temporary is gone
        assert (data_dir / "raw" / "gsm8k" / "main" / "train.arrow").read_bytes() == good


def test_disk_full_while_writing_a_dataset_dict_names_the_folder_and_config(hub_server, hf_env, data_dir):
    """Raw and cookbook files (~1.6 MB) fit a 2 MiB tmpfs; the DatasetDict (~0.8 MB more) does not."""
    from datasets_pipeline.errors import NotMaterializedError

    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    with small_tmpfs(data_dir, "2m"):
        instance = dg.DagsterInstance.ephemeral()
        for partition in ("main/train", "main/test"):
            result = run(instance, ["raw/gsm8k", "cookbook/gsm8k"], partition)
            assert result.success, failure_message(result)
        full = run(instance, ["dataset_dict/gsm8k"], "main")
        assert not full.success
        message = failure_message(full)
        folder = data_dir / "dataset_dict" / "gsm8k" / "main"
        for part in ("no space left on the device while writing", f"'{folder}'", "dataset 'gsm8k'", "config 'main'"):
            assert part in message, (part, message)
        assert [p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock")] == []  # no version folder left
        with pytest.raises(NotMaterializedError):
            dp.dataset_dict_path("gsm8k")


def test_stage_batches_on_a_full_disk_raises_storage_full_and_leaves_nothing(tmp_path):
    with small_tmpfs(tmp_path / "tiny", "64k") as folder:
        target = folder / "t.arrow"
        write_table(target, pa.table({"a": [1]}))
        with pytest.raises(StorageFullError) as err:
            stage_batches(target, (pa.record_batch({"a": pa.array(range(i, i + 10_000))}) for i in range(0, 100_000, 10_000)))
        assert isinstance(err.value, OSError) and err.value.file == str(target)
        assert sorted(p.name for p in folder.iterdir()) == ["t.arrow"]
        assert read_table(target).column("a").to_pylist() == [1]


# --- the row-count rule and the cookbook checks ----------------------------------------------------


@pytest.mark.parametrize(
    "rows, previous, passed",
    [(0, None, True), (0, 0, True), (5, None, True), (0, 1319, False), (659, 1319, False), (660, 1319, True),
     (1319, 1319, True), (5000, 1319, True)],
)
def test_row_count_rule_default_half(rows, previous, passed, monkeypatch):
    monkeypatch.delenv(MAX_ROW_LOSS_ENV, raising=False)
    outcome = row_count(rows, previous)
    assert (outcome.passed, outcome.blocking) == (passed, True)
    assert outcome.metadata == {"rows": rows, "previous_rows": previous, "max_row_loss": 0.5}


def test_row_count_threshold_from_the_environment(monkeypatch):
    monkeypatch.setenv(MAX_ROW_LOSS_ENV, "0.9")
    assert max_row_loss() == 0.9
    assert row_count(132, 1319).passed and not row_count(131, 1319).passed
    assert not row_count(0, 1319).passed  # an empty result never replaces rows
    monkeypatch.setenv(MAX_ROW_LOSS_ENV, "half")
    with pytest.raises(ValueError, match="DATASETS_PIPELINE_MAX_ROW_LOSS must be a fraction between 0 and 1, not 'half'"):
        max_row_loss()


def test_quality_check_warns_with_counts_and_works_without_them():
    base = {"rule_violations": {"empty_answer": 0}, "duplicate_uids": 0}
    without = {o.name: o for o in cookbook_checks(base, 10, None)}
    assert without["quality"].passed and without["quality"].metadata == {"counts": {}}
    flagged = {o.name: o for o in cookbook_checks({**base, "quality": {"empty_answer": 2, "blank_problem": 0}}, 10, None)}
    assert not flagged["quality"].passed and not flagged["quality"].blocking
    assert flagged["quality"].metadata == {"counts": {"empty_answer": 2, "blank_problem": 0}}
    assert all(o.passed for name, o in flagged.items() if name != "quality")


def test_a_dagster_run_killed_mid_write_leaves_a_temporary_that_the_next_run_removes(tmp_path, data_dir):
    """SIGKILL a real ``dagster asset materialize`` of ``cookbook/gsm8k`` while it writes its file."""
    from datasets_pipeline_tests.dagster_runs import REPO_ROOT
    from datasets_pipeline_tests.fixtures_data import gsm8k_rows, gsm8k_table

    rows = gsm8k_rows("main")
    big = gsm8k_table(rows * 120)  # 158,280 rows: a write that takes a few seconds
    write_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow", big)
    folder = data_dir / "cookbook" / "gsm8k" / "main"
    (tmp_path / "dagster_home").mkdir()
    env = {**os.environ, "DATASETS_PIPELINE_DATA": str(data_dir), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "DATASETS_PIPELINE_EXECUTOR": "in_process"}
    args = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "datasets_pipeline.definitions",
            "--select", "cookbook/gsm8k", "--partition", "main/test"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (folder.is_dir() and _temporaries(folder, "test.arrow")):
            assert proc.poll() is None and time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    left = _temporaries(folder, "test.arrow")
    assert len(left) == 1 and not (folder / "test.arrow").exists()  # killed mid-write: nothing published

    again = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(p.name for p in folder.iterdir()) == ["test.arrow"]
    assert f"removed stale temporaries of {folder / 'test.arrow'}: {left}" in again.stderr
    assert dp.load("gsm8k", "main", "test").num_rows == len(rows) * 120


def test_a_family_rule_violation_blocks_publication_and_keeps_the_published_file(tmp_path):
    from datasets_pipeline.steps.checks import BlockingCheckFailed
    from datasets_pipeline.steps.staging import publish_checked, stage_split
    from datasets_pipeline.steps.stream import SplitStream

    target = tmp_path / "cookbook" / "x" / "default" / "train.arrow"
    write_table(target, pa.table({"answer": ["1", "2"]}))
    new = pa.table({"answer": ["3", " "]})
    stream = SplitStream(schema=new.schema, batches=new.to_batches())
    with stage_split(target, stream) as staged:
        outcomes = cookbook_checks({"rule_violations": {"empty_answer": 1}, "duplicate_uids": 0}, staged.stats.rows, staged.previous_rows)
        with pytest.raises(BlockingCheckFailed) as err:
            publish_checked(staged, outcomes)
    assert [o.name for o in err.value.failed] == ["family_rules"]
    assert "blocking check family_rules: rows break family rules {'empty_answer': 1}" in str(err.value)
    assert read_table(target).column("answer").to_pylist() == ["1", "2"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["train.arrow"]
