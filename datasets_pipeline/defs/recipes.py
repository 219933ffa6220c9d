"""``dataset_dict/<recipe>``: one asset per entry of the ``recipes:`` section of ``mixtures.yaml``.

The asset's inputs are exactly its upstream partitions (cookbook and raw of each source, and each
``exclude`` partition), so lineage shows in the UI; rows are planned by
:func:`datasets_pipeline.steps.recipe.plan_recipe` and written through the stage → check →
publish path of :func:`~datasets_pipeline.steps.dataset_dict.write_dataset_dict`.

A broken entry does not fail the code location: it becomes an asset of the same key without
inputs whose description is the error (file, line, entry, field) and whose materialization
fails with that message; the error is also logged when the code location loads.
"""

import json
import logging
import re
from collections import defaultdict

import dagster as dg

from ..catalog import CATALOG, get_spec
from ..mixtures.recipes import CONFIG, Recipe, RecipeError, load_recipes
from ..steps.checks import DATASET_DICT_CHECKS, complete_splits
from ..steps.dataset_dict import WRITER_VERSION, write_dataset_dict
from ..steps.presentation import LAYER_KINDS, OWNER
from ..steps.recipe import plan_recipe
from .automation_conditions import follow_upstream
from .checks import check_specs, gated
from .dataset_dict import _by_partition, _result, dataset_dict_folder
from .spec_metadata import spec_metadata
from .placeholders import broken_asset

log = logging.getLogger(__name__)
_ASSET_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _input_name(asset: str) -> str:
    return asset.replace("/", "__")


def build_recipe_asset(recipe: Recipe) -> dg.AssetsDefinition:
    """The DatasetDict asset of ``recipe`` (one config, ``default``)."""
    key = dg.AssetKey(["dataset_dict", recipe.name])
    by_asset: dict[str, list[str]] = defaultdict(list)
    for asset, partition in recipe.upstream:
        by_asset[asset].append(partition)
    needed = [f"{asset}:{p}" for asset, p in recipe.upstream]
    first = get_spec(recipe.splits[0].sources[0].dataset)

    @dg.asset(
        key=key,
        ins={
            _input_name(asset): dg.AssetIn(
                key=asset.split("/"),
                partition_mapping=dg.SpecificPartitionsPartitionMapping(partitions),
                metadata={"allow_missing_partitions": True},
            )
            for asset, partitions in by_asset.items()
        },
        group_name=first.group,
        kinds=set(LAYER_KINDS["dataset_dict"]),
        owners=[OWNER],
        tags={"family": first.family, "layer": "dataset_dict", "recipe": recipe.name},
        description=f"dataset_dict layer: the recipe `{recipe.name}` of {recipe.file}"
        + (f": {recipe.description}." if recipe.description else "."),
        metadata={k: v for k, v in spec_metadata(first, "dataset_dict").items() if k != "partitions"}
        | {"recipe": recipe.name, "recipe_file": str(recipe.file), "recipe_line": recipe.line or 0,
           "recipe_definition": dg.MetadataValue.json(json.loads(recipe.canonical()))},
        automation_condition=follow_upstream(),
        code_version=f"writer-{WRITER_VERSION}-recipe-{recipe.version()}",
        required_resource_keys={"arrow_io_manager"},
        check_specs=check_specs(key, DATASET_DICT_CHECKS),
    )
    def _recipe(context: dg.AssetExecutionContext, **inputs):
        tables = {
            (asset, p): t
            for asset in by_asset
            for p, t in _by_partition(context, _input_name(asset), inputs[_input_name(asset)]).items()
        }
        path = dataset_dict_folder(context.resources.arrow_io_manager.root, recipe.name, CONFIG)

        def run():
            complete = complete_splits(needed, (f"{asset}:{p}" for asset, p in tables))
            planned = plan_recipe(recipe, tables) if complete.passed else {}
            return planned, write_dataset_dict(path, planned, checks=[complete])

        planned, written = yield from gated(run, key.to_user_string(), dataset=recipe.name, config=CONFIG)
        yield _result(path, written, {name: p.num_rows for name, p in planned.items()})

    return _recipe


def build_broken_recipe_asset(error: RecipeError) -> dg.AssetsDefinition:
    """An asset that shows ``error`` in the UI and fails with it when materialized."""
    return broken_asset(
        ["dataset_dict", error.name], error.message, title="INVALID RECIPE", group="recipes_invalid",
        kinds=set(LAYER_KINDS["dataset_dict"]), tags={"layer": "dataset_dict", "recipe": error.name},
        metadata={"recipe": error.name},
    )


def recipe_assets() -> list[dg.AssetsDefinition]:
    """An asset per recipe of the mixtures file; broken entries as failing assets (and a logged error)."""
    recipes = load_recipes()
    assets = []
    for name in recipes.names:
        if name in recipes.recipes:
            assets.append(build_recipe_asset(recipes.recipes[name]))
        elif name in recipes.errors:
            log.error("%s", recipes.errors[name].message)
            if _ASSET_NAME.match(name) and name not in CATALOG:  # else the key is not free: the log is all there is
                assets.append(build_broken_recipe_asset(recipes.errors[name]))
    return assets
