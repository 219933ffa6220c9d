"""Messages of Hub failures in real Dagster runs: a wait budget per step instead of hours of
``Retry-After``, and a split left without files names the files ignored for their extension."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from datasets_pipeline_tests.dagster_runs import failure_message, materialize
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files
from datasets_pipeline_tests.hub_server import Fault

REPO = "openai/gsm8k"
TEST_FILE = "main/test-00000-of-00001.parquet"


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Our retrier's waits, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("datasets_pipeline.hub.retry.time", SimpleNamespace(sleep=recorded.append, time=__import__("time").time))
    return recorded


def _file_gets(server) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and r.path.endswith(TEST_FILE))


def test_retry_after_longer_than_the_wait_budget_fails_at_once_naming_repo_file_and_wait(
    hub_server, hf_env, no_backoff_sleep, data_dir, waits
):
    sha = hub_server.add_repo(REPO, gsm8k_repo_files())
    hub_server.add_fault(Fault(path=r"/resolve/", method="GET", status=429, headers={"Retry-After": "3600"}, times=None))
    result = materialize(["raw/gsm8k"], "main/test")
    assert not result.success
    message = failure_message(result)
    assert (
        f"download of {hub_server.url}/datasets/{REPO}/resolve/{sha}/{TEST_FILE} failed (attempt 1, "
        "HfHubHTTPError: 429 Too Many Requests for url" in message
    )
    assert "the server asked to wait 3600 s (Retry-After), but this step has already waited 0 s of its total retry wait of 600 s" in message
    assert "DATASETS_PIPELINE_HUB_MAX_WAIT" in message and f"file '{TEST_FILE}'" in message and "dataset 'gsm8k'" in message
    assert waits == [] and no_backoff_sleep == []  # nothing slept: no pool slot held for an hour
    assert _file_gets(hub_server) == 1


def test_total_retry_wait_of_a_step_is_bounded_by_the_configured_budget(
    hub_server, hf_env, no_backoff_sleep, data_dir, waits, monkeypatch
):
    hub_server.add_repo(REPO, gsm8k_repo_files())
    monkeypatch.setenv("DATASETS_PIPELINE_HUB_MAX_WAIT", "5")
    hub_server.add_fault(Fault(path=r"/resolve/", method="GET", status=429, headers={"Retry-After": "2"}, times=None))
    result = materialize(["raw/gsm8k"], "main/test")
    assert not result.success
    message = failure_message(result)
    assert "failed (attempt 3, HfHubHTTPError" in message
    assert "asked to wait 2 s (Retry-After), but this step has already waited 4 s of its total retry wait of 5 s" in message
    assert waits == [2.0, 2.0] and _file_gets(hub_server) == 3

    hub_server.clear_faults()  # within the budget the retries get through
    hub_server.add_fault(Fault(path=r"/resolve/", method="GET", status=429, headers={"Retry-After": "2"}, times=2))
    waits.clear()
    assert materialize(["raw/gsm8k"], "main/test").success and waits == [2.0, 2.0]


def test_split_without_files_names_the_file_ignored_for_its_extension(hub_server, hf_env, no_backoff_sleep, data_dir):
    files = gsm8k_repo_files()
    files["main/test-00000-of-00001.xlsx"] = files.pop(TEST_FILE)
    hub_server.add_repo(REPO, files)
    result = materialize(["raw/gsm8k"], "main/test")
    assert not result.success
    message = failure_message(result)
    assert "has no data files for this config and split; files matched for this split but ignored for their " in message
    assert "extension: main/test-00000-of-00001.xlsx (not a data file extension this pipeline reads)" in message
    assert "dataset 'gsm8k', config 'main', split 'test'" in message


def test_local_mirror_names_the_ignored_file_too(tmp_path):
    from datasets_pipeline.errors import SplitNotFound
    from datasets_pipeline.hub import LocalFolderSource

    repo = tmp_path / "openai" / "gsm8k"
    for path, data in gsm8k_repo_files().items():
        target = repo / (path.replace(".parquet", ".txt.bak") if path == TEST_FILE else path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    with pytest.raises(SplitNotFound) as info:
        LocalFolderSource(tmp_path).fetch_split(REPO, "main", "test")
    assert "main/test-00000-of-00001.txt.bak (the config's files are parquet)" in str(info.value)
