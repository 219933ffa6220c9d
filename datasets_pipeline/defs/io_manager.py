"""Arrow IO manager: one Arrow IPC file per asset partition under ``DATASETS_PIPELINE_DATA``.

Assets write their own files (stage, check, publish: :mod:`datasets_pipeline.steps.staging`) at the
path :meth:`ArrowIOManager.split_path` gives, and return a ``MaterializeResult``; the IO manager then
loads those files as inputs of downstream assets, memory-mapped (zero copy) for local roots. It is
the one place asset paths are computed. Plain ``pyarrow.Table`` outputs are still stored atomically
(temp file, fsync, rename). No pickle anywhere.
"""

from __future__ import annotations

from typing import Any, Sequence

import dagster as dg
import pyarrow as pa
from upath import UPath

from ..engine.ipc import WriteStats, read_table, write_table
from ..paths import check_partition_key, check_segment, data_root
from .metadata import table_metadata


class ArrowIOManager(dg.UPathIOManager):
    """Loads the Arrow IPC files of asset partitions; stores ``pyarrow.Table`` outputs."""

    extension = ".arrow"

    def __init__(self, base_path: UPath | None = None) -> None:
        super().__init__(base_path=base_path)
        self._written: dict[int, tuple[str, WriteStats]] = {}

    @property
    def root(self) -> str:
        """The data root (a local folder or an fsspec URL)."""
        return str(self._base_path)

    def split_path(self, key: Sequence[str], partition: str) -> UPath:
        """The file of asset ``key`` (e.g. ``["raw", "gsm8k"]``) for ``partition``: ``<root>/raw/gsm8k/main/test.arrow``."""
        asset_path = self._base_path.joinpath(*(check_segment(part, "asset key part") for part in key))
        return self._with_extension(self.make_safe_partition_path(asset_path, partition))

    def make_safe_partition_path(self, base_path: UPath, partition: str) -> UPath:
        config, split = check_partition_key(partition) if "/" in partition else (check_segment(partition, "partition key"), None)
        return base_path / config / split if split is not None else base_path / config

    def get_path_for_partition(self, context: Any, path: UPath, partition: str) -> UPath:
        return self.make_safe_partition_path(path, partition)

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        if not isinstance(obj, pa.Table):
            raise TypeError(
                f"ArrowIOManager stores pyarrow.Table outputs, not {type(obj).__name__}; "
                "assets that stream write their own file (datasets_pipeline.steps.staging)"
            )
        self._written[id(obj)] = (str(path), write_table(str(path), obj))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pa.Table:
        try:
            return read_table(str(path))
        except FileNotFoundError:
            raise self._not_materialized(path) from None

    def _not_materialized(self, path: UPath) -> FileNotFoundError:
        """The error ``load()`` gives for the same split (``<root>/<layer>/<name>/<config>/<split>.arrow``)."""
        from ..api import not_materialized

        parts = str(path).removeprefix(self.root.rstrip("/") + "/").removesuffix(self.extension).split("/")
        if len(parts) != 4:
            return FileNotFoundError(f"not materialized: {path}")
        layer, name, config, split = parts
        return not_materialized(layer, name, config, split, str(path))

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, Any]:
        path, stats = self._written.pop(id(obj), (None, None))
        if not isinstance(stats, WriteStats):
            return {}
        return table_metadata(read_table(path), stats, {}, partitioned=context.has_asset_partitions)


class ArrowIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Arrow IO manager rooted at ``base_dir`` (default: ``$DATASETS_PIPELINE_DATA`` or ``./data``)."""

    base_dir: str | None = None

    def create_io_manager(self, context: dg.InitResourceContext) -> ArrowIOManager:
        return ArrowIOManager(base_path=UPath(self.base_dir or data_root()))
