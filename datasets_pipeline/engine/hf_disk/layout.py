"""The ``save_to_disk`` folder layout: its file names, and what a saved split or DatasetDict holds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from datasets_pipeline.engine.hf_features import Features
from datasets_pipeline.errors import UnsafePathError

DATASET_DICT_JSON = "dataset_dict.json"
STATE_JSON = "state.json"
INFO_JSON = "dataset_info.json"
SHARD_RE = re.compile(r"data-\d{5,}-of-\d{5,}\.arrow")
INFO_KEYS = frozenset({
    "builder_name", "citation", "config_name", "dataset_name", "dataset_size", "description",
    "download_checksums", "download_size", "homepage", "license", "post_processed",
    "post_processing_size", "size_in_bytes", "splits", "supervised_keys", "version",
})  # fmt: skip


@dataclass(frozen=True)
class SplitStats:
    """What one saved split (a ``Dataset`` folder) holds."""

    path: str
    split: str | None
    num_rows: int
    num_bytes: int  # total size of the shard files
    shard_rows: tuple[int, ...]
    files: tuple[str, ...]
    fingerprint: str
    features: Features = field(repr=False)


@dataclass(frozen=True)
class DatasetDictStats:
    """What one saved DatasetDict folder holds, split by split in save order."""

    path: str
    splits: dict[str, SplitStats]

    @property
    def num_rows(self) -> int:
        return sum(s.num_rows for s in self.splits.values())

    @property
    def num_bytes(self) -> int:
        return sum(s.num_bytes for s in self.splits.values())


def check_split_name(name: Any) -> str:
    """``name`` as a split folder name; :class:`UnsafePathError` unless it is one plain path segment."""
    text = str(name)
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\x00" in text:
        raise UnsafePathError(f"split name {text!r} is not a plain folder name", split=text)
    return text
