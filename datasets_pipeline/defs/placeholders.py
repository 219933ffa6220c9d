"""Placeholder assets for broken declarations (a recipe, mixture, tokenizer profile or sample entry).

The code location still loads: the placeholder keeps the key the entry would have had, shows the
error as its description and metadata, and every materialization fails with it.
"""

from typing import Any, Mapping

import dagster as dg

from ..steps.presentation import OWNER


def broken_asset(
    key: dg.AssetKey | list[str],
    message: str,
    *,
    title: str,
    group: str,
    kinds: set[str],
    tags: Mapping[str, str],
    metadata: Mapping[str, Any] | None = None,
    **asset_args: Any,
) -> dg.AssetsDefinition:
    """An asset ``key`` described as ``"<title>: <message>"`` whose materialization fails with ``message``.

    ``metadata`` is shown beside the error; ``asset_args`` (``ins``, ``partitions_def``) keep the
    shape of the asset the entry would have made.
    """
    key = key if isinstance(key, dg.AssetKey) else dg.AssetKey(key)

    @dg.asset(
        key=key,
        group_name=group,
        kinds=kinds,
        owners=[OWNER],
        tags=dict(tags),
        description=f"{title}: {message}",
        metadata={"layer": key.path[0], **(metadata or {}), "error": dg.MetadataValue.md(f"```\n{message}\n```")},
        **asset_args,
    )
    def _broken(context: dg.AssetExecutionContext) -> None:
        raise dg.Failure(description=message, allow_retries=False)

    return _broken
