"""The cookbook catalog: every dataset as a :class:`DatasetSpec`, one module per family."""

from __future__ import annotations

from . import chat, code, eval, math, preference, vision
from .spec import DatasetSpec, family_schema

CATALOG: dict[str, DatasetSpec] = {
    spec.name: spec
    for module in (math, chat, preference, code, vision, eval)
    for spec in module.SPECS
}


def get_spec(name: str) -> DatasetSpec:
    """The catalog entry ``name``, or a ``KeyError`` that lists the known names."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; the catalog has: {', '.join(sorted(CATALOG))}") from None


__all__ = ["CATALOG", "DatasetSpec", "family_schema", "get_spec"]
