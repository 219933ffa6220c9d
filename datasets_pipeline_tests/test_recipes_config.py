"""The ``recipes:`` section of mixtures.yaml: the shipped math_rl entry, each invalid case's error, the engine's order."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from datasets_pipeline.mixtures.config import MixturesFileError, parse_mixtures
from datasets_pipeline.mixtures.recipes import Exclude, InvalidRecipe, RecipeError, Step, load_recipes, parse_recipes
from datasets_pipeline.steps.cookbook import RAW_ROWS_KEY
from datasets_pipeline.steps.recipe import plan_recipe

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
  good:
    splits:
      test:
        sources: [{asset: cookbook/math500, partition: default/test}]
"""


def parse(text: str):
    mf = parse_mixtures(textwrap.dedent(text), file="mixtures.yaml")
    return parse_recipes(mf.recipes, file="mixtures.yaml")


def entry_error(body: str, name: str = "bad") -> RecipeError:
    """The error of recipe ``bad`` in a file that also holds a good recipe (which must still load)."""
    recipes = parse("recipes:\n" + GOOD + textwrap.indent(textwrap.dedent(body), "  "))
    assert list(recipes.recipes) == ["good"]
    assert list(recipes.errors) == [name]
    return recipes.errors[name]


def test_shipped_math_rl_entry() -> None:
    recipe = load_recipes(ROOT / "mixtures.yaml").get("math_rl")
    train, test = recipe.splits
    assert (train.name, test.name) == ("train", "test")
    hendrycks = [f"{c}/{s}" for c in ("algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                                      "number_theory", "prealgebra", "precalculus") for s in ("train", "test")]
    assert [(s.asset, s.partitions) for s in train.sources] == [("cookbook/hendrycks_math", tuple(hendrycks))]
    assert train.steps[1] == Step("shuffle", 0)
    exclude = train.steps[0].value
    assert isinstance(exclude, Exclude) and (exclude.field, exclude.source.asset, exclude.source.partitions) == (
        "problem", "raw/math500", ("default/test",))
    assert [(s.asset, s.partitions) for s in test.sources] == [("cookbook/math500", ("default/test",))]
    assert recipe.asset_key == "dataset_dict/math_rl"
    assert len(recipe.upstream) == 2 * 14 + 2 and ("raw/math500", "default/test") in recipe.upstream


def test_version_follows_the_rows_deciding_fields_only() -> None:
    def version(seed: int, description: str = "x") -> str:
        text = f"recipes:\n  r:\n    description: {description}\n    splits:\n      train:\n" \
               f"        sources: [{{asset: cookbook/gsm8k, partition: main/train}}]\n        steps: [{{shuffle: {{seed: {seed}}}}}]\n"
        return parse(text).get("r").version()

    assert version(0) == version(0, "another description")
    assert version(0) != version(1)
    assert len(version(0)) == 12


@pytest.mark.parametrize(
    "body, message",
    [
        (  # unknown asset
            "bad:\n  splits:\n    train:\n      sources: [{asset: cookbook/gsm8kk, partition: main/train}]\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.sources[0].asset (line 9): unknown dataset 'gsm8kk' "
            "in 'cookbook/gsm8kk' (did you mean 'gsm8k'?); the catalog has: ",
        ),
        (  # unknown partition
            "bad:\n  splits:\n    train:\n      sources: [{asset: cookbook/gsm8k, partition: main/validation}]\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.sources[0].partition (line 9): unknown partition "
            "'main/validation' of cookbook/gsm8k (did you mean 'main/train'?); known: main/train, main/test, socratic/train, socratic/test "
            "(or a config: main, socratic, or '*')",
        ),
        (  # a source outside cookbook/
            "bad:\n  splits:\n    train:\n      sources: [{asset: raw/gsm8k, partition: main/train}]\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.sources[0].asset (line 9): 'raw/gsm8k' is not a "
            "recipe source; expected 'cookbook/<name>'",
        ),
        (  # unknown step
            "bad:\n  splits:\n    train:\n      sources: [{asset: cookbook/gsm8k, partition: main/train}]\n"
            "      steps: [{shufle: {seed: 0}}]\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.steps[0] (line 10): unknown step 'shufle' "
            "(did you mean 'shuffle'?); expected one of ['concatenate', 'exclude', 'shuffle', 'take', 'skip']",
        ),
        (  # bad seed type
            "bad:\n  splits:\n    train:\n      sources: [{asset: cookbook/gsm8k, partition: main/train}]\n"
            "      steps: [{shuffle: {seed: '0'}}]\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.steps[0].shuffle.seed (line 10): must be a "
            "non-negative integer, got a string ('0')",
        ),
        (  # exclude without field
            "bad:\n  splits:\n    train:\n      sources: [{asset: cookbook/gsm8k, partition: main/train}]\n"
            "      steps:\n        - exclude: {in: {asset: raw/math500, partition: default/test}}\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.steps[0].exclude.field (line 11): missing: the "
            "column whose values are compared",
        ),
        (  # exclude from an unknown partition
            "bad:\n  splits:\n    train:\n      sources: [{asset: cookbook/gsm8k, partition: main/train}]\n"
            "      steps:\n        - exclude: {field: question, in: {asset: raw/math500, partition: default/train}}\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.steps[0].exclude.in.partition (line 11): unknown "
            "partition 'default/train' of raw/math500 (did you mean 'default/test'?); known: default/test (or a config: default, or '*')",
        ),
        (  # take of a negative count
            "bad:\n  splits:\n    train:\n      sources: [{asset: cookbook/gsm8k, partition: main/train}]\n"
            "      steps: [{take: -1}]\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.steps[0].take (line 10): must be a non-negative "
            "integer (rows), got int (-1)",
        ),
        (  # concatenate not first
            "bad:\n  splits:\n    train:\n      sources: [{asset: cookbook/gsm8k, partition: main/train}]\n"
            "      steps: [{take: 1}, concatenate]\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits.train.steps[1].concatenate (line 10): concatenate is "
            "implicit and may only be the first step",
        ),
        (  # no splits
            "bad:\n  description: nothing\n",
            "mixtures.yaml:6: recipe 'bad' is invalid: splits (line 6): missing: map split names to "
            "{sources: [...], steps: [...]}",
        ),
        (  # a misspelled field of a split
            "bad:\n  splits:\n    train:\n      source: [{asset: cookbook/gsm8k, partition: main/train}]\n",
            "mixtures.yaml:6: recipe 'bad' is invalid:\n"
            "  - splits.train.source (line 9): unknown field (did you mean 'sources'?); expected one of ['sources', 'steps']\n"
            "  - splits.train.sources (line 8): missing: list at least one source ({asset: cookbook/<name>, partition: <config>/<split>})",
        ),
    ],
)
def test_each_invalid_recipe_names_entry_and_field(body: str, message: str) -> None:
    error = entry_error(body)
    assert error.message.startswith(message)
    if not message.endswith("the catalog has: "):
        assert error.message == message
    with pytest.raises(InvalidRecipe) as exc:
        parse("recipes:\n" + GOOD + textwrap.indent(body, "  ")).get("bad")
    assert str(exc.value) == error.message


def test_name_of_a_catalog_dataset_and_name_given_twice() -> None:
    error = entry_error("gsm8k:\n  splits:\n    test: {sources: [{asset: cookbook/math500, partition: default/test}]}\n", "gsm8k")
    assert error.message == ("mixtures.yaml:6: recipe 'gsm8k' is invalid: name (line 6): dataset_dict/gsm8k is the catalog "
                             "dataset's own DatasetDict; choose another name")
    twice = "twice:\n  splits: {t: {sources: [{asset: cookbook/math500, partition: default/test}]}}\n"
    error = entry_error(twice + twice, "twice")
    assert error.message == ("mixtures.yaml:6: recipe 'twice' is invalid: name (line 8): the name is defined twice "
                             "(lines 6 and 8); rename one")


def test_recipes_section_must_be_a_mapping_and_unknown_names_are_key_errors() -> None:
    with pytest.raises(MixturesFileError, match=r"'recipes' must map names to entries, got a list"):
        parse("recipes: [a]\n")
    with pytest.raises(KeyError, match="no recipe 'nope' in mixtures.yaml; defined: good"):
        parse("recipes:\n" + GOOD).get("nope")
    assert parse("mixtures: {}\n").recipes == {}


def _tables() -> dict:
    """gsm8k main/train: 6 raw rows, the converter dropped raw rows 1 and 4; math500 holds 'q2'."""
    raw = pa.table({"question": [f"q{i}" for i in range(6)]})
    kept = [0, 2, 3, 5]
    cook = pa.table({"question": [f"q{i}" for i in kept], "source_row": pa.array(kept, pa.int64())})
    cook = cook.replace_schema_metadata({RAW_ROWS_KEY: b"6"})
    return {("cookbook/gsm8k", "main/train"): cook, ("raw/gsm8k", "main/train"): raw,
            ("raw/math500", "default/test"): pa.table({"question": ["q2", "zz"], "problem": ["q2", "zz"]})}


def test_plan_recipe_runs_steps_on_raw_positions_then_drops_converter_rows() -> None:
    text = """\
    recipes:
      r:
        splits:
          train:
            sources: [{asset: cookbook/gsm8k, partition: main/train}]
            steps: [{exclude: {field: question, in: {asset: raw/math500, partition: default/test}}}, {skip: 1}, {take: 3}]
    """
    plan = plan_recipe(parse(text).get("r"), _tables())
    # raw positions 0..5 minus q2 -> [0, 1, 3, 4, 5]; skip 1, take 3 -> [1, 3, 4]; rows 1 and 4 were dropped -> q3
    assert plan["train"].table.take(pa.array(plan["train"].indices)).column("question").to_pylist() == ["q3"]


def test_plan_recipe_names_a_missing_exclude_column() -> None:
    text = """\
    recipes:
      r:
        splits:
          train:
            sources: [{asset: cookbook/gsm8k, partition: main/train}]
            steps: [{exclude: {field: problem, in: {asset: raw/math500, partition: default/test}}}]
    """
    with pytest.raises(ValueError, match=r"^recipe r split train step exclude: field 'problem' is not a column of raw/gsm8k:main/train$"):
        plan_recipe(parse(text).get("r"), _tables())
