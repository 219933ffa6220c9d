"""Every catalog dataset's assets (``raw/<name>``, ``cookbook/<name>``, ``dataset_dict/<name>``), each recipe's, tokenizer profile's and mixture's."""

from __future__ import annotations

import dagster as dg

from ..catalog import CATALOG
from .cookbook import build_cookbook_asset
from .dataset_dict import build_dataset_dict_asset
from .mixtures import mixture_assets
from .raw import build_raw_asset
from .recipes import recipe_assets
from .tokenized import tokenized_assets


def catalog_assets() -> list[dg.AssetsDefinition]:
    """All assets, in catalog order, then the recipes of ``mixtures.yaml`` (``dataset_dict/<recipe>``), the tokenizer
    profiles' assets (``tokenizer/<profile>``, ``tokenized/<name>``) and the mixtures (``mixture/<name>``)."""
    assets: list[dg.AssetsDefinition] = []
    for spec in CATALOG.values():
        assets += [build_raw_asset(spec), build_cookbook_asset(spec), build_dataset_dict_asset(spec)]
    return assets + recipe_assets() + tokenized_assets() + mixture_assets()
