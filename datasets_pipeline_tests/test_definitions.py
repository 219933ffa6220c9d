"""The code location loads, and lists every catalog dataset with its exact partitions."""

from __future__ import annotations

import dagster as dg
import pytest

from datasets_pipeline.catalog import CATALOG

NAMES = [
    "gsm8k", "math500", "hendrycks_math", "deepmath", "polaris", "tulu3_sft", "no_robots", "openthoughts3",
    "hh_rlhf", "helpsteer3", "helpsteer2", "ultrafeedback", "arena140k", "tulu3_preference", "deepcoder",
    "caltech101", "oxford_flowers102", "oxford_iiit_pet", "stanford_cars", "mmlu", "humaneval",
]
GROUPS = {
    "math": ["gsm8k", "math500", "hendrycks_math", "deepmath", "polaris"],
    "chat": ["tulu3_sft", "no_robots", "openthoughts3"],
    "preference": ["hh_rlhf", "helpsteer3", "helpsteer2", "ultrafeedback", "arena140k", "tulu3_preference"],
    "code": ["deepcoder"],
    "vision": ["caltech101", "oxford_flowers102", "oxford_iiit_pet", "stanford_cars"],
    "eval": ["mmlu", "humaneval"],
}
MATH_CONFIGS = ["algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory", "prealgebra", "precalculus"]


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from datasets_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)
    return defs


def _partitions(defs: dg.Definitions, key: str) -> list[str]:
    spec = defs.resolve_assets_def(dg.AssetKey.from_user_string(key))
    return spec.partitions_def.get_partition_keys()


def test_catalog_has_exactly_the_contract_names():
    assert sorted(CATALOG) == sorted(NAMES)


def test_every_dataset_has_its_three_assets_in_its_group(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for group, names in GROUPS.items():
        for name in names:
            for layer in ("raw", "cookbook", "dataset_dict"):
                key = f"{layer}/{name}"
                assert key in keys
                assert graph.get(dg.AssetKey.from_user_string(key)).group_name == group, key
    assert "dataset_dict/math_rl" in keys


@pytest.mark.parametrize(
    "name, expected",
    [
        ("gsm8k", ["main/train", "main/test", "socratic/train", "socratic/test"]),
        ("math500", ["default/test"]),
        ("hendrycks_math", [f"{c}/{s}" for c in MATH_CONFIGS for s in ("train", "test")]),
        ("helpsteer3", ["preference/train", "preference/validation"]),
        ("humaneval", ["openai_humaneval/test"]),
        ("deepcoder", ["primeintellect/train", "taco/train", "lcbv5/train", "lcbv5/test", "codeforces/test"]),
        ("oxford_flowers102", ["default/train", "default/validation", "default/test"]),
        ("no_robots", ["default/train", "default/test"]),
    ],
)
def test_partitions_are_the_real_config_split_pairs(defs, name, expected):
    assert _partitions(defs, f"raw/{name}") == expected
    assert _partitions(defs, f"cookbook/{name}") == expected
    assert _partitions(defs, f"dataset_dict/{name}") == list(dict.fromkeys(k.split("/")[0] for k in expected))


def test_mmlu_partitions(defs):
    keys = _partitions(defs, "raw/mmlu")
    assert len(keys) == 57 * 3 + 4 + 1
    assert "all/auxiliary_train" in keys and "auxiliary_train/train" in keys and "abstract_algebra/dev" in keys
    assert CATALOG["mmlu"].default_config == "all"


PARTITION_COUNTS = {
    "gsm8k": 4, "math500": 1, "hendrycks_math": 14, "deepmath": 1, "polaris": 1, "tulu3_sft": 1, "no_robots": 2,
    "openthoughts3": 1, "hh_rlhf": 2, "helpsteer3": 2, "helpsteer2": 2, "ultrafeedback": 1, "arena140k": 1,
    "tulu3_preference": 1, "deepcoder": 5, "caltech101": 2, "oxford_flowers102": 3, "oxford_iiit_pet": 2,
    "stanford_cars": 2, "mmlu": 57 * 3 + 4 + 1, "humaneval": 1,
}  # fmt: skip
CONFIG_COUNTS = {"gsm8k": 2, "hendrycks_math": 7, "helpsteer3": 1, "deepcoder": 4, "mmlu": 59, "humaneval": 1}


def test_every_dataset_has_its_partition_count(defs):
    assert set(PARTITION_COUNTS) == set(NAMES)
    for name, count in PARTITION_COUNTS.items():
        keys = _partitions(defs, f"raw/{name}")
        assert len(keys) == count, name
        assert _partitions(defs, f"cookbook/{name}") == keys
        assert all(key.count("/") == 1 for key in keys)
        expected_configs = CONFIG_COUNTS.get(name, 1)
        assert len(_partitions(defs, f"dataset_dict/{name}")) == expected_configs, name


def test_assets_describe_their_dataset(defs):
    for name, spec in CATALOG.items():
        assets_def = defs.resolve_assets_def(dg.AssetKey(["cookbook", name]))
        key = dg.AssetKey(["cookbook", name])
        meta = assets_def.metadata_by_key[key]
        assert meta["repo_id"] == spec.repo_id
        assert meta["hub_url"].url == f"https://huggingface.co/datasets/{spec.repo_id}"
        assert meta["license"]
        assert spec.description and len(spec.description) > 40
        assert assets_def.descriptions_by_key[key]


def test_jobs_schedules_and_sensor_resolve(defs):
    job = defs.resolve_job_def("refresh_gsm8k_job")
    assert job.partitions_def.get_partition_keys() == ["main/train", "main/test", "socratic/train", "socratic/test"]
    schedule = defs.resolve_schedule_def("refresh_gsm8k_weekly")
    context = dg.build_schedule_context(
        scheduled_execution_time=__import__("datetime").datetime(2026, 11, 23, 3, 0),
        repository_def=defs.get_repository_def(),
    )
    requests = list(schedule.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == ["main/train", "main/test", "socratic/train", "socratic/test"]
    assert requests[0].run_key == "gsm8k-main/train-2026-11-23"
    assert defs.resolve_sensor_def("hub_revision_sensor")
