"""Static asset attributes of a catalog dataset per layer: kinds, owners, tags, description, metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg

from ..catalog.spec import DatasetSpec
from ..steps.presentation import LAYER_KINDS, column_docs, LAYER_SUMMARY, OWNER, layer_partitions, source_note
from .metadata import column_schema


def spec_metadata(spec: DatasetSpec, layer: str = "raw") -> dict[str, object]:
    """What the UI shows on ``<layer>/<name>`` before anything is materialized."""
    _, source = source_note(spec, layer)
    meta: dict[str, object] = {
        "layer": layer,
        "hub_url": dg.MetadataValue.url(spec.hub_url),
        "repo_id": spec.repo_id,
        "license": spec.license,
        "family": spec.family,
        "default_config": spec.default_config,
        "partitions": layer_partitions(spec, layer),
        **{k: dg.MetadataValue.json(v) if isinstance(v, list) else v for k, v in source.items()},
    }
    if layer != "raw":  # the family's columns and what each holds
        meta["dagster/column_schema"] = column_schema(spec.schema, column_docs(spec.family))
    return meta


def layer_attributes(spec: DatasetSpec, layer: str, description: str) -> dict[str, Any]:
    """Keyword arguments of ``@dg.asset`` every layer shares: group, kinds (the layer shows on graph nodes
    and in the page header), owners, tags, and a description that ends with the dataset's card text once."""
    note, _ = source_note(spec, layer)
    text = f"{layer} layer: {LAYER_SUMMARY[layer]}. {description}\n\n{spec.description}"
    if note:
        text += f"\n\n{note}"
    return {
        "group_name": spec.group,
        "kinds": set(LAYER_KINDS[layer]),
        "owners": [OWNER],
        "tags": {"family": spec.family, "layer": layer},
        "description": text,
        "metadata": spec_metadata(spec, layer),
    }
