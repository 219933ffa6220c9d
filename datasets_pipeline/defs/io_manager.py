"""Arrow IO manager: one Arrow IPC file per asset partition under ``DATASETS_PIPELINE_DATA``.

Its root and paths come from :class:`datasets_pipeline.layout.DataLayout`, the same object
``datasets_pipeline.load`` and ``dataset_dict_path`` use, so what runs write is what readers open.

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

from ..engine.ipc import WriteStats, write_table
from ..errors import UnsupportedStorageError
from ..layout import DataLayout
from ..paths import check_partition_key, check_segment
from .metadata import table_metadata


class ArrowIOManager(dg.UPathIOManager):
    """Loads the Arrow IPC files of asset partitions; stores ``pyarrow.Table`` outputs."""

    extension = ".arrow"

    def __init__(self, base_path: UPath | None = None, layout: DataLayout | None = None) -> None:
        self.layout = layout or (DataLayout(str(base_path)) if base_path is not None else DataLayout.from_env())
        super().__init__(base_path=UPath(self.layout.root))
        self._written: dict[int, tuple[str, WriteStats]] = {}

    @property
    def root(self) -> str:
        """The data root (a local folder or an fsspec URL)."""
        return self.layout.root

    def split_path(self, key: Sequence[str], partition: str) -> UPath:
        """The file of asset ``key`` (e.g. ``["raw", "gsm8k"]``) for ``partition``: ``<root>/raw/gsm8k/main/test.arrow``.

        A layer that cannot live on a remote root raises :class:`UnsupportedStorageError` there.
        """
        self.layout.require_local(key[0] if key else "", "/".join(key))
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
            return self.layout.read(str(path))
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
        return table_metadata(self.layout.read(path), stats, {}, partitioned=context.has_asset_partitions)


class ArrowIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Arrow IO manager on the data layout of ``$DATASETS_PIPELINE_DATA`` (default ``./data``).

    ``base_dir`` may only repeat that root: training code finds data through the same variable
    (``datasets_pipeline.load``), so a different ``base_dir`` is refused when the resource starts
    rather than writing where readers never look. Set ``DATASETS_PIPELINE_DATA`` to move the data.
    """

    base_dir: str | None = None

    def create_io_manager(self, context: dg.InitResourceContext) -> ArrowIOManager:
        layout = DataLayout.from_env()
        if self.base_dir is not None and DataLayout(self.base_dir).root != layout.root:
            raise UnsupportedStorageError(
                f"arrow_io_manager base_dir {DataLayout(self.base_dir).root!r} differs from the data root "
                f"{layout.root!r} (DATASETS_PIPELINE_DATA) that datasets_pipeline.load() reads; "
                "set DATASETS_PIPELINE_DATA to the folder or URL instead"
            )
        return ArrowIOManager(layout=layout)
