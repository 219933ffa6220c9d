"""The tinker cookbook's Hugging Face training datasets as Dagster assets, kept as Arrow on disk."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load", "dataset_dict_path", "quality_filter", "__version__"]


def __getattr__(name: str):  # lazy: importing the package stays cheap and Dagster-free
    if name in ("load", "dataset_dict_path"):
        from . import api

        return getattr(api, name)
    if name == "quality_filter":
        from .steps.validate import quality_filter

        return quality_filter
    raise AttributeError(name)
