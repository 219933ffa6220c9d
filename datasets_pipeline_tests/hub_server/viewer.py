"""Dataset-viewer-like listings derived from a ``refs/convert/parquet`` commit.

Only the current shard layout is understood: ``{config}/{split}/{NNNN}.parquet``
and, for partial conversions, ``{config}/partial-{split}/{NNNN}.parquet``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .repos import Commit

SHARD_RE = re.compile(r"^(?P<config>[^/]+)/(?P<folder>(?P<partial>partial-)?(?P<split>[^/]+))/(?P<n>\d{4})\.parquet$")
SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}
CONVERT_REF = quote("refs/convert/parquet", safe="")


@dataclass(frozen=True)
class Shard:
    config: str
    split: str
    folder: str  # the split's folder: the split name, or partial-<split>
    index: int
    path: str
    size: int

    @property
    def partial(self) -> bool:
        return self.folder != self.split


def shards(commit: Commit) -> list[Shard]:
    """The parquet shards of a convert commit, by config, then split, then index."""
    found = []
    for path, blob in commit.files.items():
        m = SHARD_RE.match(path)
        if m:
            found.append(Shard(m["config"], m["split"], m["folder"], int(m["n"]), path, blob.size))
    return sorted(found, key=lambda s: (s.config, SPLIT_ORDER.get(s.split, 3), s.split, s.index))


def splits_payload(dataset: str, commit: Commit | None) -> dict[str, Any]:
    seen: dict[tuple[str, str], None] = {}
    for s in shards(commit) if commit else []:
        seen.setdefault((s.config, s.split))
    return {
        "splits": [{"dataset": dataset, "config": c, "split": s} for c, s in seen],
        "pending": [],
        "failed": [],
    }


def parquet_payload(dataset: str, commit: Commit | None, base_url: str, config: str | None) -> dict[str, Any]:
    files = [s for s in (shards(commit) if commit else []) if config is None or s.config == config]
    return {
        "parquet_files": [
            {
                "dataset": dataset,
                "config": s.config,
                "split": s.split,
                "url": f"{base_url}/datasets/{dataset}/resolve/{CONVERT_REF}/{quote(s.path)}",
                "filename": s.path.rsplit("/", 1)[1],
                "size": s.size,
            }
            for s in files
        ],
        "pending": [],
        "failed": [],
        "partial": any(s.partial for s in files),
    }


def is_valid_payload(commit: Commit | None) -> dict[str, bool]:
    ok = bool(commit and shards(commit))
    return {"preview": ok, "viewer": ok, "search": ok, "filter": ok, "statistics": ok}


def hub_parquet_index(
    dataset: str, commit: Commit | None, base_url: str, narrow: tuple[str, ...]
) -> dict[str, Any] | list[str] | None:
    """``/api/datasets/{id}/parquet[/{config}[/{split}]]``: shard URLs keyed by config and split
    folder; None when the config or split does not exist."""
    index: dict[str, dict[str, list[str]]] = {}
    for s in shards(commit) if commit else []:
        url = f"{base_url}/api/datasets/{dataset}/parquet/{quote(s.config)}/{quote(s.folder)}/{s.index}.parquet"
        index.setdefault(s.config, {}).setdefault(s.folder, []).append(url)
    if not narrow:
        return index
    by_split = index.get(narrow[0])
    if by_split is None or len(narrow) == 1:
        return by_split
    return by_split.get(narrow[1])


def shard_redirect(
    dataset: str, commit: Commit | None, base_url: str, config: str, folder: str, name: str
) -> str | None:
    """Where ``/api/datasets/{id}/parquet/{config}/{split}/{n}.parquet`` redirects, if the shard exists."""
    m = re.fullmatch(r"(\d+)\.parquet", name)
    if commit is None or m is None:
        return None
    path = f"{config}/{folder}/{int(m[1]):04d}.parquet"
    if path not in commit.files:
        return None
    return f"{base_url}/datasets/{dataset}/resolve/{CONVERT_REF}/{quote(path)}"
