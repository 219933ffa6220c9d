"""What the UI says about a dataset's assets, as plain values: layer texts, sizes, mirror coverage.

The Dagster layer turns these into kinds, tags, descriptions and metadata; nothing here imports Dagster.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..catalog.spec import DatasetSpec

OWNER = "team:datasets"
MIRROR_ENV = "DATASETS_PIPELINE_HUB_MIRROR"

# Shown on every graph node and in the page header (as a kind), and in the asset's tags.
LAYER_KINDS: dict[str, tuple[str, ...]] = {
    "raw": ("raw", "huggingface", "arrow"),
    "cookbook": ("cookbook", "arrow"),
    "dataset_dict": ("dataset_dict", "huggingface", "arrow"),
    "tokenized": ("tokenized", "arrow"),
    "mixture": ("mixture", "arrow"),
}

LAYER_SUMMARY = {
    "raw": "exact Arrow mirror of one Hub (config, split), pinned to a commit sha",
    "cookbook": "rows normalized to the family's columns, each with a uid",
    "dataset_dict": "a `datasets.DatasetDict` folder per config (`save_to_disk` layout)",
    "tokenized": "token ids and loss weights of each cookbook split under a tokenizer profile",
    "mixture": "sources interleaved as `datasets.interleave_datasets` does, one Arrow file per split",
}


def human_bytes(n: int) -> str:
    """``2_300_000`` -> ``"2.3 MB"`` (decimal units, as ``max_shard_size`` counts them)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def layer_partitions(spec: DatasetSpec, layer: str) -> int:
    """How many partitions ``<layer>/<name>`` has: (config, split) pairs, or configs for a DatasetDict."""
    return len(spec.configs) if layer == "dataset_dict" else len(spec.partition_keys)


def mirror_root() -> str | None:
    """The offline mirror folder raw data comes from (``DATASETS_PIPELINE_HUB_MIRROR``), if one is set."""
    return os.environ.get(MIRROR_ENV) or None


def mirror_partitions(spec: DatasetSpec, root: str | os.PathLike) -> list[str]:
    """The ``"<config>/<split>"`` partitions of ``spec`` that the mirror under ``root`` has data files for.

    Reads only the repo's card and file names (no hashing), so it is cheap at code-location load.
    """
    from ..hub.card import card_layout, parse_card

    folder = Path(root).expanduser().joinpath(*spec.repo_id.split("/"))
    readme = folder / "README.md"
    if not readme.is_file():
        return []
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    try:
        layout = card_layout(parse_card(readme.read_text(encoding="utf-8-sig")), files)
    except Exception:  # noqa: BLE001 - an unreadable card serves nothing
        return []
    return [key for key in spec.partition_keys if layout.get(key.split("/", 1)[0], {}).get(key.split("/", 1)[1])]


def source_note(spec: DatasetSpec, layer: str) -> tuple[str, dict[str, object]]:
    """A Markdown line and metadata saying where raw data comes from, and what an offline mirror can serve."""
    root = mirror_root()
    if root is None:
        return "", {"data_source": "Hugging Face Hub (HF_ENDPOINT)"}
    served = mirror_partitions(spec, root)
    if layer == "dataset_dict":
        configs = [c for c in spec.configs if all(f"{c}/{s}" in served for s in spec.splits[c])]
        what = f"configs {', '.join(configs)}" if configs else "no config completely"
    else:
        what = f"partitions {', '.join(served)}" if served else "none of its partitions"
    text = (
        f"**Offline mirror** `{root}`: raw data comes from this folder, not the Hub; it can serve {what} "
        f"(other partitions fail with the list of what it has)."
    )
    return text, {"data_source": f"offline mirror {root}", "mirror_partitions": served}


def column_docs(family: str) -> dict[str, str]:
    """Column -> one line for the UI, from the family's record (with ``source_row`` and ``uid``)."""
    from ..families import FAMILIES

    return dict(FAMILIES[family].cookbook_docs)
