"""Raw and cookbook assets from a local folder laid out like Hub repos (the offline mirror), local or fsspec roots."""

from __future__ import annotations

from pathlib import Path

import pytest

import datasets_pipeline as dp
from datasets_pipeline_tests.dagster_runs import failure_message, materialize
from datasets_pipeline_tests.fixtures_data import DEMO_DATA, gsm8k_rows, humaneval_rows


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATASETS_PIPELINE_HUB_MIRROR", str(DEMO_DATA))
    return DEMO_DATA


def test_bundled_mirror_materializes_gsm8k_and_humaneval(data_root, mirror):
    for selection, partition in ((["raw/gsm8k", "cookbook/gsm8k"], "socratic/test"),
                                 (["raw/humaneval", "cookbook/humaneval"], "openai_humaneval/test")):
        result = materialize(selection, partition)
        assert result.success, failure_message(result)
    assert dp.load("gsm8k", "socratic", "test", layer="raw").to_pylist() == gsm8k_rows("socratic")
    socratic = dp.load("gsm8k", "socratic", "test")
    assert socratic.num_rows == 1319 and socratic.column("answer")[0].as_py() == "18"
    assert dp.load("humaneval", split="test", layer="raw").to_pylist() == humaneval_rows()


def test_missing_split_in_the_mirror_is_a_clear_error(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("DATASETS_PIPELINE_DATA", str(tmp_path / "data"))
    result = materialize(["raw/gsm8k"], "main/train")
    assert not result.success
    message = failure_message(result)
    assert "openai/gsm8k" in message and "train" in message and "test" in message  # names what exists


def test_fsspec_data_root(mirror, monkeypatch):
    monkeypatch.setenv("DATASETS_PIPELINE_DATA", "memory://datasets-pipeline-test")
    result = materialize(["raw/gsm8k", "cookbook/gsm8k"], "main/test")
    assert result.success, failure_message(result)
    table = dp.load("gsm8k", "main", "test")
    assert table.num_rows == 1319 and table.column("answer")[0].as_py() == "18"
    import fsspec

    fs = fsspec.filesystem("memory")
    assert fs.exists("/datasets-pipeline-test/cookbook/gsm8k/main/test.arrow")
    assert not [p for p in fs.find("/datasets-pipeline-test") if ".tmp-" in p]
