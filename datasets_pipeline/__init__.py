"""The tinker cookbook's Hugging Face training datasets as Dagster assets, kept as Arrow on disk."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load", "dataset_dict_path", "__version__"]


def __getattr__(name: str):  # lazy: importing the package stays cheap and Dagster-free
    if name in ("load", "dataset_dict_path"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
