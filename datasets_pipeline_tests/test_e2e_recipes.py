"""End to end: a recipe declared in a mixtures file becomes ``dataset_dict/<name>`` through Dagster.

The references are the same operations in ``datasets`` on the raw Hub rows (the cookbook's order:
shuffle/cut/filter the Hub rows, convert afterwards), so rows the converter drops are dropped after
the steps.
"""

from __future__ import annotations

import logging
import textwrap

import dagster as dg
import datasets
import pyarrow as pa
import pytest

import datasets_pipeline as dp
from datasets_pipeline.errors import NotMaterializedError
from datasets_pipeline.layout import storage_options
from datasets_pipeline.mixtures.recipes import InvalidRecipe
from datasets_pipeline_tests.dagster_runs import failure_message, materialize, run_cli
from datasets_pipeline_tests.fixtures_data import parquet_bytes
from datasets_pipeline_tests.test_e2e_families import card

CONFIGS = ["algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory", "prealgebra", "precalculus"]

RECIPES = """\
recipes:
  algebra_small:
    description: a shuffled window of algebra train; algebra train+test minus the test problems
    splits:
      train:
        sources: [{asset: cookbook/hendrycks_math, partition: algebra/train}]
        steps: [{shuffle: {seed: 3}}, {skip: 4}, {take: 20}]
      validation:
        sources: [{asset: cookbook/hendrycks_math, partition: algebra}]
        steps:
          - concatenate
          - exclude: {field: problem, in: {asset: cookbook/hendrycks_math, partition: algebra/test}}
          - take: 9
"""


def _rows(split: str, n: int) -> list[dict]:
    """Hendrycks MATH rows; every fourth has no ``\\boxed{}`` answer, so its converter drops it."""
    return [{"problem": f"algebra {split} problem {i}", "level": f"Level {1 + i % 5}", "type": "Algebra",
             "solution": f"so $\\boxed{{{i}}}$" if i % 4 else "no box here"} for i in range(n)]


def _serve(hub_server) -> dict[str, list[dict]]:
    rows = {"train": _rows("train", 40), "test": _rows("test", 10)}
    # the test split repeats two train problems: exclude drops train row 3 (test row 1 is in the cookbook
    # column); test row 0 has no box, so it is not in the cookbook column and train row 1 stays
    rows["test"][0]["problem"], rows["test"][1]["problem"] = rows["train"][1]["problem"], rows["train"][3]["problem"]
    files = {"README.md": card({c: {"train": f"{c}/train-*", "test": f"{c}/test-*"} for c in CONFIGS})}
    for split, split_rows in rows.items():
        files[f"algebra/{split}-00000-of-00001.parquet"] = parquet_bytes(pa.Table.from_pylist(split_rows))
    hub_server.add_repo("EleutherAI/hendrycks_math", files)
    return rows


def _converted(rows: datasets.Dataset) -> list[tuple[str, str]]:
    """(problem, answer) of the rows the cookbook keeps: those with a boxed answer."""
    kept = rows.filter(lambda r: "\\boxed" in r["solution"])
    return [(r["problem"], r["solution"].split("\\boxed{")[1].split("}")[0]) for r in kept]


def test_recipe_equals_the_same_ops_in_datasets(hub_server, hf_env, data_root, tmp_path, monkeypatch):
    rows = _serve(hub_server)
    (tmp_path / "recipes.yaml").write_text(RECIPES)
    monkeypatch.setenv("DATASETS_PIPELINE_MIXTURES", str(tmp_path / "recipes.yaml"))
    for split in ("train", "test"):
        result = materialize(["raw/hendrycks_math", "cookbook/hendrycks_math"], f"algebra/{split}")
        assert result.success, failure_message(result)
    result = materialize(["dataset_dict/algebra_small"], None)
    assert result.success, failure_message(result)

    path = str(dp.dataset_dict_path("algebra_small"))
    loaded = datasets.load_from_disk(path, storage_options=storage_options(path) or None)
    assert list(loaded) == ["train", "validation"]
    train, test = datasets.Dataset.from_list(rows["train"]), datasets.Dataset.from_list(rows["test"])
    want_train = _converted(train.shuffle(seed=3).skip(4).take(20))
    banned = {p for p, _ in _converted(test)}  # the cookbook column: test rows without a box are not in it
    want_validation = _converted(datasets.concatenate_datasets([train, test]).filter(lambda r: r["problem"] not in banned).take(9))
    assert list(zip(loaded["train"]["problem"], loaded["train"]["answer"])) == want_train
    assert list(zip(loaded["validation"]["problem"], loaded["validation"]["answer"])) == want_validation
    assert (len(want_train), len(want_validation)) == (14, 6)  # 20 and 9 raw rows, minus the boxless ones among them
    # whole rows are the cookbook rows, uid and source_row included
    cook = data_root.read_table("cookbook/hendrycks_math/algebra/train.arrow")
    by_problem = {r["problem"]: r for r in cook.to_pylist()}
    assert loaded["train"].data.table.to_pylist() == [by_problem[p] for p, _ in want_train]
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["splits"].data == {"train": 14, "validation": 6}


def test_code_location_with_a_bad_recipe_loads_the_others(tmp_path, monkeypatch, caplog, data_dir):
    (tmp_path / "recipes.yaml").write_text(RECIPES + textwrap.indent(textwrap.dedent("""\
        broken:
          splits:
            train:
              sources: [{asset: cookbook/hendrycks_math, partition: algebra/train}]
              steps: [{shuffle: {seed: zero}}]
        """), "  "))
    monkeypatch.setenv("DATASETS_PIPELINE_MIXTURES", str(tmp_path / "recipes.yaml"))
    from datasets_pipeline.definitions import build_defs

    expected = (f"{tmp_path / 'recipes.yaml'}:14: recipe 'broken' is invalid: splits.train.steps[0].shuffle.seed "
                "(line 18): must be a non-negative integer, got a string ('zero')")
    with caplog.at_level(logging.ERROR, logger="datasets_pipeline.defs.recipes"):
        defs = build_defs()
    assert [r.getMessage() for r in caplog.records] == [expected]
    graph = defs.resolve_asset_graph()
    good = dg.AssetKey(["dataset_dict", "algebra_small"])
    assert {k.to_user_string() for k in graph.get(good).parent_keys} == {"cookbook/hendrycks_math", "raw/hendrycks_math"}
    recipe = defs.resolve_assets_def(good)
    for upstream in ("cookbook", "raw"):  # exactly the source partitions
        mapping = recipe.get_partition_mapping(dg.AssetKey([upstream, "hendrycks_math"]))
        assert isinstance(mapping, dg.SpecificPartitionsPartitionMapping)
        assert list(mapping.partition_keys) == ["algebra/train", "algebra/test"]
    assert dg.AssetKey(["cookbook", "gsm8k"]) in graph.get_all_asset_keys()
    broken = defs.resolve_assets_def(dg.AssetKey(["dataset_dict", "broken"]))
    assert broken.descriptions_by_key[broken.key] == f"INVALID RECIPE: {expected}"
    result = materialize(["dataset_dict/broken"], None)
    assert not result.success and failure_message(result).strip() == f"dagster._core.definitions.events.Failure: {expected}"
    assert not (data_dir / "dataset_dict" / "broken").exists()
    # the training-side API resolves recipe names from the same file
    with pytest.raises(InvalidRecipe, match=r"recipe 'broken' is invalid: splits.train.steps\[0\].shuffle.seed"):
        dp.dataset_dict_path("broken")
    with pytest.raises(NotMaterializedError, match="dataset_dict/algebra_small is not materialized"):
        dp.dataset_dict_path("algebra_small")
    with pytest.raises(ValueError, match=r"algebra_small has no config 'main'; configs: default"):
        dp.dataset_dict_path("algebra_small", "main")


def test_dagster_cli_loads_the_code_location_with_a_bad_recipe(tmp_path):
    bad = tmp_path / "recipes.yaml"
    bad.write_text(
        "recipes:\n"
        "  broken:\n"
        "    splits: {train: {sources: [{asset: cookbook/gsm8k, partition: main/train}], steps: [{shuffle: {seed: zero}}]}}\n"
        "  ok:\n"
        "    splits: {test: {sources: [{asset: cookbook/math500, partition: default/test}]}}\n"
    )
    done = run_cli(["asset", "list", "-m", "datasets_pipeline.definitions"], {"DATASETS_PIPELINE_MIXTURES": str(bad)})
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split()
    assert {"dataset_dict/ok", "dataset_dict/broken", "cookbook/gsm8k"} <= set(listed) and "dataset_dict/math_rl" not in listed
    assert (f"{bad}:2: recipe 'broken' is invalid: splits.train.steps[0].shuffle.seed (line 3): must be a non-negative "
            "integer, got a string ('zero')") in done.stderr
