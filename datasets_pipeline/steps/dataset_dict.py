"""The DatasetDict layer: a config's cookbook splits in the ``save_to_disk`` layout, published atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import xxhash
import pyarrow as pa

from ..catalog.spec import DatasetSpec, DerivedSplit
from ..engine.hf_disk import save_dataset_dict
from ..engine.hf_features import features_from_schema
from ..engine.ipc import is_storage_full, storage_full_error
from ..engine.shuffle import permutation
from ..engine.versioned_dir import publish_dir
from .checks import CheckOutcome, loadable, raise_if_blocked, split_rows
from .cookbook import raw_rows

DEFAULT_MAX_SHARD_SIZE = "500MB"
# The folder layout written (``save_to_disk`` of datasets 2.x-4.x, uid fingerprints): bump when it changes.
WRITER_VERSION = "1"


@dataclass(frozen=True)
class PlannedSplit:
    """A split of the DatasetDict: rows of ``table``, in ``indices`` order when given."""

    table: pa.Table
    indices: np.ndarray | None = None

    @property
    def num_rows(self) -> int:
        return self.table.num_rows if self.indices is None else len(self.indices)

    def rows(self) -> pa.Table | tuple[pa.Table, np.ndarray]:
        """What the writer takes: the table, or ``(table, indices)`` gathered chunk by chunk (bounded memory)."""
        return self.table if self.indices is None else (self.table, self.indices)

    def fingerprint(self, features: Mapping[str, Any]) -> str | None:
        """A content fingerprint from the rows' uids (in order) and the features; None without uids."""
        if "uid" not in self.table.column_names:
            return None
        uids = self.table.column("uid")
        if self.indices is not None:
            uids = uids.take(pa.array(self.indices))
        digest = xxhash.xxh3_64(json.dumps(features, sort_keys=True).encode())
        for chunk in uids.chunks:  # uids are fixed-width hex: their concatenated bytes identify the rows
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4)
            start, stop = int(offsets[0]), int(offsets[-1])
            if stop > start:
                digest.update(memoryview(chunk.buffers()[2])[start:stop])
        return digest.hexdigest()


def raw_positions(derived: DerivedSplit, n: int) -> np.ndarray:
    """The positions (of ``n``) that ``shuffle(seed)``, ``skip``, ``take`` select, in that order."""
    order = permutation(n, seed=derived.seed) if derived.seed is not None else np.arange(n, dtype=np.int64)
    start, stop = derived.bounds(n)
    return np.asarray(order[start:stop], dtype=np.int64)


def _source_rows(table: pa.Table, what: str) -> np.ndarray:
    if "source_row" not in table.column_names:
        raise ValueError(f"{what} has no source_row column: re-materialize its cookbook partition")
    return np.asarray(table.column("source_row").to_numpy(), dtype=np.int64)


def _raw_count(table: pa.Table, what: str) -> int:
    n = raw_rows(table.schema)
    if n is None:
        raise ValueError(f"{what} does not record its raw row count: re-materialize its cookbook partition")
    return n


def rows_at(source_row: np.ndarray, positions: np.ndarray, n_raw: int, base: int = 0) -> np.ndarray:
    """Cookbook row indices (+ ``base``) of the raw ``positions``, in their order; dropped rows left out."""
    lookup = np.full(n_raw, -1, dtype=np.int64)
    lookup[source_row] = np.arange(len(source_row), dtype=np.int64) + base
    picked = lookup[positions]
    return picked[picked >= 0]


def _planned(table: pa.Table, indices: np.ndarray) -> PlannedSplit:
    if len(indices) == table.num_rows and np.array_equal(indices, np.arange(table.num_rows)):
        return PlannedSplit(table)
    return PlannedSplit(table, indices)


def derive_split(derived: DerivedSplit, table: pa.Table, what: str = "cookbook split") -> PlannedSplit:
    """One DatasetDict split from a cookbook table, as the cookbook's builder makes it.

    Raw row positions are shuffled and cut first (the raw split's row count is read from the
    table's schema metadata), then the cookbook rows whose ``source_row`` is among them are taken
    in that order: the rows the builder drops are simply missing. ``after_convert`` plans over
    the converted rows themselves.
    """
    if derived.after_convert:
        return _planned(table, raw_positions(derived, table.num_rows))
    n_raw = _raw_count(table, what)
    return _planned(table, rows_at(_source_rows(table, what), raw_positions(derived, n_raw), n_raw))


def required_splits(spec: DatasetSpec, config: str) -> tuple[str, ...]:
    """The real splits of ``config`` that its DatasetDict is made from."""
    if not spec.dataset_dict:
        return tuple(spec.splits[config])
    return tuple(dict.fromkeys(d.source_split for d in spec.dataset_dict if d.source_split in spec.splits[config]))


def plan_splits(spec: DatasetSpec, tables: Mapping[str, pa.Table]) -> dict[str, PlannedSplit]:
    """The DatasetDict's splits: as the cookbook's builder yields them (``spec.dataset_dict``), else the real ones.

    Each :class:`DerivedSplit` is applied to raw row positions, then the rows the builder drops
    are removed (:func:`derive_split`): the same rows in the same order as the cookbook's
    ``ds.shuffle(seed=seed)``, ``.take(k)`` / ``.skip(k)`` followed by its row function. Splits
    whose source split is not in ``tables`` are left out.
    """
    if not spec.dataset_dict:
        return {split: PlannedSplit(table) for split, table in tables.items()}
    return {
        d.name: derive_split(d, tables[d.source_split], f"{spec.name} {d.source_split}")
        for d in spec.dataset_dict
        if d.source_split in tables
    }


def plan_version(spec: DatasetSpec) -> str:
    """What decides a DatasetDict's rows besides its inputs: each split's source, seed, skip and take."""
    if not spec.dataset_dict:
        return "splits"

    def size(value: object) -> str:
        return str(value) if value is None or isinstance(value, int) else getattr(value, "__name__", type(value).__name__)

    return "+".join(
        f"{d.name}={d.source_split}-shuffle{d.seed}-skip{size(d.skip)}-take{size(d.take)}"
        + ("-converted" if d.after_convert else "")
        for d in spec.dataset_dict
    )


def _read_back(folder: Path) -> dict[str, int] | Exception:
    """Rows per split of a written folder as the reader sees them, or the reader's error."""
    from ..engine.hf_disk import load_dataset_dict

    try:
        return {name: table.num_rows for name, table in load_dataset_dict(folder).items()}
    except Exception as exc:  # noqa: BLE001 - any failure to read is the check's result
        return exc


def write_dataset_dict(
    target: Path | str,
    splits: Mapping[str, PlannedSplit],
    max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE,
    checks: Sequence[CheckOutcome] = (),
) -> dict[str, Any]:
    """Write ``splits`` to a new version folder, check it, and switch ``target`` to it atomically.

    ``checks`` are outcomes already evaluated on the inputs; ``split_rows`` is evaluated on the
    written folder. If a blocking one failed, the new folder is removed before the switch and
    :class:`~.checks.BlockingCheckFailed` raised: ``target`` keeps its published version.
    Returns ``{"stats", "features", "outcomes"}``.
    """
    raise_if_blocked(list(checks))
    first = next(iter(splits.values()))
    features = features_from_schema(first.table.schema)
    outcomes: list[CheckOutcome] = list(checks)

    def write(folder: Path) -> Any:
        stats = save_dataset_dict(
            {name: s.rows() for name, s in splits.items()},
            folder,
            max_shard_size=max_shard_size,
            features=features,
            fingerprints={name: fp for name, s in splits.items() if (fp := s.fingerprint(features))},
            durable=True,
        )
        planned = {name: s.num_rows for name, s in splits.items()}
        outcomes.append(split_rows(planned, {name: s.num_rows for name, s in stats.splits.items()}))
        outcomes.append(loadable(planned, _read_back(folder)))
        raise_if_blocked(outcomes)
        return stats

    try:
        stats = publish_dir(target, write)
    except OSError as exc:
        if is_storage_full(exc):
            raise storage_full_error(target, exc) from exc
        raise
    return {"stats": stats, "features": features, "outcomes": outcomes}
