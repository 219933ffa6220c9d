"""The cookbook catalog: every dataset as a :class:`DatasetSpec`, one module per family.

The family modules are imported on first use of ``CATALOG`` or :func:`get_spec`, so converter
modules can import :mod:`datasets_pipeline.catalog.spec` without a cycle.
"""

from __future__ import annotations

import importlib
from functools import cache

from .spec import DatasetSpec, family_schema

FAMILY_MODULES = ("math", "chat", "preference", "code", "vision", "eval")


@cache
def _catalog() -> dict[str, DatasetSpec]:
    specs: dict[str, DatasetSpec] = {}
    for family in FAMILY_MODULES:
        for spec in importlib.import_module(f"{__name__}.{family}").SPECS:
            if spec.name in specs:
                raise ValueError(f"catalog name {spec.name!r} is defined twice")
            specs[spec.name] = spec
    return specs


def get_spec(name: str) -> DatasetSpec:
    """The catalog entry ``name``, or a ``KeyError`` that lists the known names."""
    try:
        return _catalog()[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; the catalog has: {', '.join(sorted(_catalog()))}") from None


def __getattr__(name: str):
    if name == "CATALOG":
        return _catalog()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CATALOG", "DatasetSpec", "family_schema", "get_spec"]
