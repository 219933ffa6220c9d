"""What the UI shows before and after a run: layers, owners, tags, columns, sizes, the mirror, errors."""

from __future__ import annotations

import dagster as dg
import pytest

from datasets_pipeline.catalog import get_spec
from datasets_pipeline.cli import DEMO_DATA
from datasets_pipeline.steps.checks import loadable
from datasets_pipeline.steps.presentation import human_bytes, mirror_partitions
from datasets_pipeline_tests.dagster_runs import failure_message, materialize


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from datasets_pipeline.definitions import defs

    return defs


def _spec(defs: dg.Definitions, key: str) -> dg.AssetSpec:
    return next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey.from_user_string(key))


@pytest.mark.parametrize(
    "key, kinds, partitions",
    [
        ("raw/gsm8k", {"raw", "huggingface", "arrow"}, 4),
        ("cookbook/gsm8k", {"cookbook", "arrow"}, 4),
        ("dataset_dict/gsm8k", {"dataset_dict", "huggingface", "arrow"}, 2),
        ("dataset_dict/hendrycks_math", {"dataset_dict", "huggingface", "arrow"}, 7),
        ("cookbook/hendrycks_math", {"cookbook", "arrow"}, 14),
    ],
)
def test_every_asset_shows_its_layer_owner_and_partition_count(defs, key, kinds, partitions):
    spec = _spec(defs, key)
    layer = key.split("/")[0]
    assert spec.kinds == kinds
    assert spec.owners == ["team:datasets"]
    assert spec.tags["layer"] == layer and spec.tags["family"] == "math"
    assert spec.metadata["layer"] == layer
    assert spec.metadata["partitions"] == partitions
    assert spec.description.startswith(f"{layer} layer: ")
    card = get_spec(key.split("/")[1]).description
    assert spec.description.count(card) == 1 and "about" not in spec.metadata  # the card text once


def test_every_asset_has_an_owner_and_a_layer_kind(defs):
    for spec in defs.resolve_all_asset_specs():
        layer = spec.key.path[0]
        assert spec.owners == ["team:datasets"], spec.key
        assert layer in spec.kinds and spec.tags["layer"] == layer, spec.key


def test_cookbook_and_dataset_dict_columns_are_described(defs):
    for key in ("cookbook/gsm8k", "dataset_dict/gsm8k"):
        columns = {c.name: c for c in getattr(_spec(defs, key).metadata["dagster/column_schema"], "schema", _spec(defs, key).metadata["dagster/column_schema"]).columns}
        assert {"problem", "answer", "solution", "subject", "level", "uid"} <= set(columns)
        assert all(c.description for c in columns.values()), {n: c.description for n, c in columns.items()}


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 999, 1000, 715_226, 2_300_000, 5 * 10**12)] == [
        "0 B", "999 B", "1.0 kB", "715.2 kB", "2.3 MB", "5.0 TB"
    ]


def test_the_offline_mirror_serves_only_its_partitions(monkeypatch):
    assert mirror_partitions(get_spec("gsm8k"), DEMO_DATA) == ["main/test", "socratic/test"]
    assert mirror_partitions(get_spec("humaneval"), DEMO_DATA) == ["openai_humaneval/test"]
    assert mirror_partitions(get_spec("math500"), DEMO_DATA) == []
    monkeypatch.setenv("DATASETS_PIPELINE_HUB_MIRROR", str(DEMO_DATA))
    from datasets_pipeline.defs.raw import build_raw_asset
    from datasets_pipeline.defs.dataset_dict import build_dataset_dict_asset

    raw = build_raw_asset(get_spec("gsm8k")).specs_by_key[dg.AssetKey(["raw", "gsm8k"])]
    assert raw.metadata["data_source"] == f"offline mirror {DEMO_DATA}"
    assert raw.metadata["mirror_partitions"].value == ["main/test", "socratic/test"]
    assert f"**Offline mirror** `{DEMO_DATA}`: raw data comes from this folder, not the Hub; it can serve partitions main/test, socratic/test" in raw.description
    dd = build_dataset_dict_asset(get_spec("humaneval")).specs_by_key[dg.AssetKey(["dataset_dict", "humaneval"])]
    assert "it can serve configs openai_humaneval" in dd.description


def test_a_missing_upstream_partition_fails_like_load(data_dir):
    result = materialize(["cookbook/gsm8k"], "main/test")
    assert not result.success
    location = data_dir / "raw" / "gsm8k" / "main" / "test.arrow"
    assert (
        f"raw/gsm8k is not materialized at {location} [dataset 'gsm8k', config 'main', split 'test']. materialize it "
        "with: dagster asset materialize -m datasets_pipeline.definitions --select raw/gsm8k --partition main/test"
    ) in failure_message(result)


def test_loadable_check():
    assert loadable({"train": 3, "test": 1}, {"train": 3, "test": 1}).passed
    bad = loadable({"train": 3, "test": 1}, {"train": 2, "test": 1})
    assert not bad.passed and bad.blocking and bad.description == "read back {'train': {'planned': 3, 'read': 2}}"
    assert loadable({"train": 3}, {"train": 3, "extra": 1}).description == "unplanned splits ['extra']"
    broken = loadable({"train": 3}, FileNotFoundError("dataset_dict.json"))
    assert not broken.passed and broken.description == "the reader cannot open the written folder: dataset_dict.json"


def test_named_jobs_and_stopped_automation(defs):
    assert defs.resolve_job_def("refresh_gsm8k_job").name == "refresh_gsm8k_job"
    assert defs.resolve_job_def("dataset_dict_gsm8k_job").name == "dataset_dict_gsm8k_job"
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {"hub_revision_sensor", "datasets_automation_sensor"}
    assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in sensors.values())
    assert all(s.default_status == dg.DefaultScheduleStatus.STOPPED for s in defs.schedules)
    assert _spec(defs, "raw/gsm8k").automation_condition is None
    for key in ("cookbook/gsm8k", "dataset_dict/gsm8k", "dataset_dict/math_rl"):
        assert _spec(defs, key).automation_condition.get_label() == "follow_upstream (eager on upstream data changes)"


def test_dagster_home_uses_the_repository_instance_settings(tmp_path, monkeypatch):
    from datasets_pipeline.cli import REPO_ROOT, link_instance_config

    source = REPO_ROOT / "dagster.yaml"
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")  # an old copy, edited by hand
    link_instance_config(home)
    assert (home / "dagster.yaml").is_symlink() and (home / "dagster.yaml").read_bytes() == source.read_bytes()
    assert (home / "dagster.yaml.previous").read_text() == "telemetry:\n  enabled: true\n"
    link_instance_config(home)  # idempotent
    assert (home / "dagster.yaml").resolve() == source.resolve()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert instance.get_settings("nux") == {"enabled": False}  # read through the link
    finally:
        instance.dispose()
