"""Family rules that every cookbook row must satisfy, counted vectorized (the rules are in
:mod:`datasets_pipeline.families.rules`, one function per family)."""

from __future__ import annotations

import pyarrow as pa

from ..engine.hf_features import class_label_names
from ..families import FAMILIES


def num_classes(schema: pa.Schema, column: str = "label") -> int | None:
    """Number of ClassLabel names of ``column`` in the schema's ``huggingface`` features metadata."""
    names = class_label_names(schema, column)
    return len(names) if names else None


def family_violations(table: pa.Table, family: str, num_classes: int | None = None) -> dict[str, int]:
    """Rule → number of rows (or messages) breaking it; all zeros for a valid table."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; families: {', '.join(FAMILIES)}")
    return FAMILIES[family].rules(table, num_classes)
