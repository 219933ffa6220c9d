"""Static asset metadata of a catalog dataset: Hub link, license, family, converter."""

from __future__ import annotations

import dagster as dg

from ..catalog.spec import DatasetSpec


def spec_metadata(spec: DatasetSpec) -> dict[str, object]:
    """What the UI shows on every asset of ``spec`` before anything is materialized."""
    return {
        "hub_url": dg.MetadataValue.url(spec.hub_url),
        "repo_id": spec.repo_id,
        "license": spec.license,
        "family": spec.family,
        "default_config": spec.default_config,
        "partitions": len(spec.partition_keys),
        "about": dg.MetadataValue.md(spec.description),
    }
