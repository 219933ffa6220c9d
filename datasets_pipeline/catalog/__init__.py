"""The cookbook catalog: every dataset as a :class:`DatasetSpec`, one module per family.

Each family's record (:data:`datasets_pipeline.families.FAMILIES`) names the module that lists its
datasets (``catalog/<module>.py``, a ``SPECS`` list); ``CATALOG`` holds them all, by name, in family
order.
"""

from __future__ import annotations

from importlib import import_module

from ..families import FAMILIES
from .spec import DatasetSpec, family_schema

FAMILY_MODULES: tuple[str, ...] = tuple(dict.fromkeys(f.module for f in FAMILIES.values()))


def _catalog() -> dict[str, DatasetSpec]:
    specs: dict[str, DatasetSpec] = {}
    for module in FAMILY_MODULES:
        for spec in import_module(f"{__name__}.{module}").SPECS:
            if spec.name in specs:
                raise ValueError(f"catalog name {spec.name!r} is defined twice")
            specs[spec.name] = spec
    return specs


CATALOG: dict[str, DatasetSpec] = _catalog()


def get_spec(name: str) -> DatasetSpec:
    """The catalog entry ``name``, or a ``KeyError`` that lists the known names."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; the catalog has: {', '.join(sorted(CATALOG))}") from None


__all__ = ["CATALOG", "FAMILY_MODULES", "DatasetSpec", "family_schema", "get_spec"]
