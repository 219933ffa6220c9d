"""Rules over cookbook rows, counted vectorized: the blocking family rules and the opt-in quality rules
(both written per family in :mod:`datasets_pipeline.families`)."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pyarrow as pa

from ..engine.hf_features import class_label_names
from ..families import FAMILIES, Family


def num_classes(schema: pa.Schema, column: str = "label") -> int | None:
    """Number of ClassLabel names of ``column`` in the schema's ``huggingface`` features metadata."""
    names = class_label_names(schema, column)
    return len(names) if names else None


def _family(family: str) -> Family:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; families: {', '.join(FAMILIES)}")
    return FAMILIES[family]


def family_violations(table: pa.Table, family: str, num_classes: int | None = None) -> dict[str, int]:
    """Blocking rule → number of rows (or messages) breaking it; all zeros for a valid table."""
    return _family(family).rules(table, num_classes)


def quality_masks(table: pa.Table, family: str) -> dict[str, np.ndarray]:
    """Quality rule → boolean mask of the rows breaking it (:mod:`datasets_pipeline.families.quality`)."""
    return _family(family).quality(table)


def quality_violations(table: pa.Table, family: str) -> dict[str, int]:
    """Quality rule → number of rows breaking it (every rule of the family, zeros included)."""
    return {rule: int(np.count_nonzero(mask)) for rule, mask in quality_masks(table, family).items()}


def quality_filter(table: pa.Table, family: str, rules: Iterable[str] | None = None) -> pa.Table:
    """``table`` without the rows that break a quality rule of ``family`` (all rules, or ``rules``).

    Opt-in: ``cookbook/<name>`` keeps the rows the cookbook keeps; call this for the stricter set,
    e.g. ``quality_filter(load("gsm8k", split="train"), "math")`` drops empty problems and answers.
    Vectorized; row order is kept.
    """
    masks = quality_masks(table, family)
    chosen = list(masks) if rules is None else list(rules)
    unknown = [r for r in chosen if r not in masks]
    if unknown:
        raise ValueError(f"unknown quality rule(s) {unknown} for family {family!r}; known: {list(masks)}")
    bad = np.zeros(table.num_rows, dtype=bool)
    for rule in chosen:
        bad |= masks[rule]
    return table if not bad.any() else table.filter(pa.array(~bad))
