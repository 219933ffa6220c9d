"""Where a (config, split)'s files are: the dataset card first, then the ``refs/convert/parquet`` branch.

The parquet branch holds ``{config}/{split}/NNNN.parquet`` shards, or ``{config}/partial-{split}/NNNN.parquet``
for a partial conversion (used only when no full conversion of that split exists). The older
``{config}/{dataset}-{split}.parquet`` layout of commits before August 2023 is not read.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

from ..errors import SplitNotFound
from .card import SPLIT_KEYWORDS, describe_ignored, ignored_for_extension

PARQUET_SHARD_RE = re.compile(r"^(?P<config>[^/]+)/(?P<dir>[^/]+)/(?P<shard>\d+)\.parquet$")
PARTIAL_PREFIX = "partial-"

Layout = dict[str, dict[str, list[str]]]


def _split_order(split: str) -> tuple[int, str]:
    known = list(SPLIT_KEYWORDS)
    return (known.index(split), "") if split in known else (len(known), split)


def parquet_branch_layout(paths: Iterable[str]) -> Layout:
    """Config -> split -> shard paths (numeric order) on the parquet branch; full conversions win over partial."""
    full: dict[tuple[str, str], list[tuple[int, str]]] = {}
    partial: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for path in paths:
        match = PARQUET_SHARD_RE.match(path)
        if match is None:
            continue
        folder, shard = match.group("dir"), int(match.group("shard"))
        if folder.startswith(PARTIAL_PREFIX):
            partial.setdefault((match.group("config"), folder[len(PARTIAL_PREFIX) :]), []).append((shard, path))
        else:
            full.setdefault((match.group("config"), folder), []).append((shard, path))
    chosen = {**{k: v for k, v in partial.items() if k not in full}, **full}
    layout: Layout = {}
    for config, split in sorted(chosen, key=lambda key: (key[0], _split_order(key[1]))):
        layout.setdefault(config, {})[split] = [path for _, path in sorted(chosen[(config, split)])]
    return layout


def merge_splits(
    card: Mapping[str, Mapping[str, list[str]]], branch: Mapping[str, Mapping[str, list[str]]]
) -> dict[str, list[str]]:
    """Config -> splits present by either rule: card configs and splits first, in card order."""
    out: dict[str, list[str]] = {config: list(splits) for config, splits in card.items()}
    for config, splits in branch.items():
        names = out.setdefault(config, [])
        names.extend(split for split in splits if split not in names)
    return out


def describe_available(splits: Mapping[str, list[str]]) -> str:
    """``"main/train, main/test, socratic/train"`` (or ``"none"``)."""
    pairs = [f"{config}/{split}" for config, names in splits.items() for split in names]
    return ", ".join(pairs) if pairs else "none"


def split_not_found(
    repo: str,
    card: Mapping[str, Any] | None,
    files: Sequence[str],
    config: str,
    split: str,
    from_card: Layout,
    from_branch: Layout,
) -> SplitNotFound:
    """The error for a (config, split) with no data files: ``repo`` describes the repo and revision;
    the files ignored for their extension are named, the available pairs hinted."""
    ignored = describe_ignored(ignored_for_extension(card, list(files), config, split))
    return SplitNotFound(
        f"{repo} has no data files for this config and split" + (f"; {ignored}" if ignored else ""),
        config=config,
        split=split,
        hint=f"available config/split pairs: {describe_available(merge_splits(from_card, from_branch))}",
    )
