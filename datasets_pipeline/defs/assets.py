"""Every catalog dataset's assets: ``raw/<name>``, ``cookbook/<name>``, ``dataset_dict/<name>``."""

from __future__ import annotations

import dagster as dg

from ..catalog import CATALOG
from .cookbook import build_cookbook_asset
from .dataset_dict import build_dataset_dict_asset, build_math_rl_asset
from .raw import build_raw_asset


def catalog_assets() -> list[dg.AssetsDefinition]:
    """All assets, in catalog order."""
    assets: list[dg.AssetsDefinition] = []
    for spec in CATALOG.values():
        assets += [build_raw_asset(spec), build_cookbook_asset(spec), build_dataset_dict_asset(spec)]
    if "hendrycks_math" in CATALOG and "math500" in CATALOG:
        assets.append(build_math_rl_asset())
    return assets
