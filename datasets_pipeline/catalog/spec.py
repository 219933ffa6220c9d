"""What a catalog entry is: a Hub dataset, its real (config, split) pairs, and its converter.

Families (schemas, groups, rules) are in :mod:`datasets_pipeline.families`; converters in
:mod:`datasets_pipeline.convert`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import pyarrow as pa

from ..convert.context import Converter
from ..families import FAMILIES


def family_schema(family: str) -> pa.Schema:
    """The cookbook-layer schema of a family, with the ``uid`` column last."""
    return FAMILIES[family].cookbook_schema


# --- the spec ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DerivedSplit:
    """How the cookbook derives a held-out split from train: ``shuffle(seed)``, first ``size`` rows.

    ``size`` may be a callable of the row count (HelpSteer2: ``min(1024, n // 10)``).
    """

    seed: int = 0
    size: int | Callable[[int], int] = 1024
    source_split: str = "train"

    def test_size(self, n: int) -> int:
        return self.size(n) if callable(self.size) else min(self.size, n)


@dataclass(frozen=True)
class DatasetSpec:
    """One catalog dataset.

    ``splits`` maps each real Hub config to its real split names, in the card's order.
    """

    name: str
    repo_id: str
    family: str
    splits: Mapping[str, tuple[str, ...]]
    converter: Converter
    description: str
    license: str
    revision: str = "main"
    default_config_name: str | None = None
    derived_split: DerivedSplit | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"dataset {self.name!r}: unknown family {self.family!r}; families: {', '.join(FAMILIES)}")

    @property
    def group(self) -> str:
        return FAMILIES[self.family].group

    @property
    def configs(self) -> tuple[str, ...]:
        return tuple(self.splits)

    @property
    def default_config(self) -> str:
        """``default`` when the dataset has one, else the first config the card lists."""
        if self.default_config_name:
            return self.default_config_name
        return "default" if "default" in self.splits else next(iter(self.splits))

    @property
    def partition_keys(self) -> list[str]:
        """``"<config>/<split>"`` for every real (config, split) pair."""
        return [f"{c}/{s}" for c, splits in self.splits.items() for s in splits]

    @property
    def hub_url(self) -> str:
        return f"https://huggingface.co/datasets/{self.repo_id}"

    @property
    def schema(self) -> pa.Schema:
        return family_schema(self.family)
