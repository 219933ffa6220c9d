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
    """The cookbook-layer schema of a family: its content columns, then ``source_row`` and ``uid``.

    ``source_row`` is the row's index in the raw split; ``uid`` hashes the content columns only.
    """
    return FAMILIES[family].cookbook_schema


# --- the spec ------------------------------------------------------------------------------------


Size = int | Callable[[int], int]


@dataclass(frozen=True)
class DerivedSplit:
    """One DatasetDict split as the cookbook's builder makes it from a real split.

    ``source_split.shuffle(seed=seed)`` (raw order when ``seed`` is None), then ``.skip(skip)``
    and ``.take(take)`` (None = all the rest), applied to the raw split's row positions; the rows
    the builder drops are removed afterwards. With ``after_convert`` the positions are those of
    the converted rows instead (HelpSteer2 builds its pairs first, then shuffles them).
    ``skip``/``take`` may be callables of the row count (HelpSteer2: ``min(1024, n // 10)``).
    """

    name: str
    source_split: str = "train"
    seed: int | None = 0
    skip: Size = 0
    take: Size | None = None
    after_convert: bool = False

    def bounds(self, n: int) -> tuple[int, int]:
        """``(start, stop)`` of the split in the (shuffled) positions ``0..n-1``."""
        size = lambda v: max(0, min(n, v(n) if callable(v) else v))  # noqa: E731
        start = size(self.skip)
        return start, n if self.take is None else min(n, start + size(self.take))


def held_out(size: Size = 1024, seed: int = 0, source_split: str = "train", *, after_convert: bool = False) -> tuple[DerivedSplit, ...]:
    """``shuffle(seed)``, first ``size`` rows as ``test``, the rest as ``train`` (``take``/``skip``)."""
    return (
        DerivedSplit("train", source_split, seed, skip=size, after_convert=after_convert),
        DerivedSplit("test", source_split, seed, take=size, after_convert=after_convert),
    )


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
    # The DatasetDict's splits as the cookbook's builder yields them; empty = the real splits as they are.
    dataset_dict: tuple[DerivedSplit, ...] = ()

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
