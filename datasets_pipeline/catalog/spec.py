"""What a catalog entry is: a Hub dataset, its real (config, split) pairs, and its converter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

import numpy as np
import pyarrow as pa

# --- family schemas (the cookbook-layer contract, see DESIGN.md) -------------------------------

MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
TEST_CASE = pa.struct(
    [
        pa.field("input", pa.string()),
        pa.field("output", pa.string()),
        pa.field("testtype", pa.string()),
        pa.field("fn_name", pa.string()),
        pa.field("metadata", pa.string()),  # the case's metadata dict as a JSON string
    ]
)
IMAGE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])

FAMILY_SCHEMAS: dict[str, pa.Schema] = {
    "math": pa.schema(
        [
            pa.field("problem", pa.string()),
            pa.field("answer", pa.string()),
            pa.field("solution", pa.string()),
            pa.field("subject", pa.string()),
            pa.field("level", pa.int64()),
        ]
    ),
    "chat": pa.schema([pa.field("messages", MESSAGES)]),
    "preference": pa.schema(
        [
            pa.field("prompt", MESSAGES),
            pa.field("completion_a", MESSAGES),
            pa.field("completion_b", MESSAGES),
            pa.field("label", pa.string()),
        ]
    ),
    "code": pa.schema(
        [
            pa.field("problem", pa.string()),
            pa.field("starter_code", pa.string()),
            pa.field("tests", pa.list_(TEST_CASE)),
        ]
    ),
    "vision": pa.schema(
        [pa.field("image", IMAGE), pa.field("label", pa.int64()), pa.field("label_name", pa.string())]
    ),
    "mcq": pa.schema(
        [
            pa.field("question", pa.string()),
            pa.field("choices", pa.list_(pa.string())),
            pa.field("answer", pa.int64()),
            pa.field("subject", pa.string()),
        ]
    ),
    "humaneval": pa.schema(
        [
            pa.field("task_id", pa.string()),
            pa.field("prompt", pa.string()),
            pa.field("canonical_solution", pa.string()),
            pa.field("test", pa.string()),
            pa.field("entry_point", pa.string()),
        ]
    ),
}

# Dagster asset groups: the UI groups datasets by these.
FAMILY_GROUPS = {
    "math": "math",
    "chat": "chat",
    "preference": "preference",
    "code": "code",
    "vision": "vision",
    "mcq": "eval",
    "humaneval": "eval",
}


SOURCE_ROW = pa.field("source_row", pa.int64(), nullable=False)


def family_schema(family: str) -> pa.Schema:
    """The cookbook-layer schema of a family: its content columns, then ``source_row`` and ``uid``.

    ``source_row`` is the row's index in the raw split; ``uid`` hashes the content columns only.
    """
    return FAMILY_SCHEMAS[family].append(SOURCE_ROW).append(pa.field("uid", pa.string(), nullable=False))


# --- converters ----------------------------------------------------------------------------------


@dataclass
class ConvertContext:
    """Where the rows come from: used in error messages and for dataset-specific features."""

    dataset: str
    config: str
    split: str
    raw_schema: pa.Schema  # the raw table's schema, with the Hub's ``huggingface`` features metadata
    file: str | None = None

    @property
    def where(self) -> dict[str, str | None]:
        """Location keywords for :class:`~datasets_pipeline.errors.DatasetsPipelineError`."""
        return {"dataset": self.dataset, "config": self.config, "split": self.split, "file": self.file}


@dataclass
class Converted:
    """Converted rows (family columns, without ``uid``) and dropped-row counts by reason.

    ``rows``: for each output row, its position in the input chunk (None = every input row kept,
    in order); ``source_row`` is computed from it.
    """

    table: pa.Table
    dropped: dict[str, int] = field(default_factory=dict)
    rows: np.ndarray | None = None


class Converter(Protocol):
    """Turns raw rows into family rows. Batch-wise unless ``whole_split`` is true."""

    version: str
    whole_split: bool
    required_columns: tuple[str, ...]

    def __call__(self, table: pa.Table, ctx: ConvertContext) -> Converted: ...


@dataclass(frozen=True)
class FunctionConverter:
    """A converter made from a plain function ``(table, ctx) -> Converted``."""

    fn: Callable[[pa.Table, ConvertContext], Converted]
    version: str
    required_columns: tuple[str, ...] = ()
    whole_split: bool = False

    def __call__(self, table: pa.Table, ctx: ConvertContext) -> Converted:
        return self.fn(table, ctx)


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
    large: bool = False  # stream with bounded memory; never hold the split in memory
    notes: str = ""

    @property
    def group(self) -> str:
        return FAMILY_GROUPS[self.family]

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
