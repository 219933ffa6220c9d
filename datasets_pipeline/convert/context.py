"""What a converter is: a callable from raw rows (and where they come from) to family rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import pyarrow as pa


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
