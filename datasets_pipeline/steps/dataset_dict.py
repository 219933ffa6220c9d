"""The DatasetDict layer: a config's cookbook splits in the ``save_to_disk`` layout, published atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import xxhash
import pyarrow as pa
import pyarrow.compute as pc

from ..catalog.spec import DatasetSpec
from ..engine.hf_disk import save_dataset_dict
from ..engine.hf_features import features_from_schema
from ..engine.ipc import is_storage_full, storage_full_error
from ..engine.shuffle import permutation
from ..engine.versioned_dir import publish_dir
from .checks import CheckOutcome, raise_if_blocked, split_rows

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


def plan_splits(spec: DatasetSpec, tables: Mapping[str, pa.Table]) -> dict[str, PlannedSplit]:
    """The DatasetDict's splits: the cookbook's derived train/test where it derives one, else the real ones.

    Derived (``spec.derived_split``): ``shuffle(seed)`` of the source split, the first ``test_size``
    rows as ``test`` and the rest as ``train`` — the same rows in the same order as the cookbook's
    ``ds.shuffle(seed=seed)``, ``.take(k)``, ``.skip(k)``. Other real splits are kept as they are.
    """
    derived = spec.derived_split
    if derived is None or derived.source_split not in tables or "test" in tables:
        return {split: PlannedSplit(table) for split, table in tables.items()}
    source = tables[derived.source_split]
    perm = permutation(source.num_rows, seed=derived.seed)
    k = derived.test_size(source.num_rows)
    out = {"train": PlannedSplit(source, perm[k:]), "test": PlannedSplit(source, perm[:k])}
    for split, table in tables.items():
        if split != derived.source_split:
            out[split] = PlannedSplit(table)
    return out


def plan_version(spec: DatasetSpec) -> str:
    """What decides a DatasetDict's rows besides its inputs: the derived split's source, seed and size."""
    derived = spec.derived_split
    if derived is None:
        return "splits"
    size = derived.size if isinstance(derived.size, int) else getattr(derived.size, "__name__", type(derived.size).__name__)
    return f"{derived.source_split}-shuffle{derived.seed}-test{size}"


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
        raise_if_blocked(outcomes)
        return stats

    try:
        stats = publish_dir(target, write)
    except OSError as exc:
        if is_storage_full(exc):
            raise storage_full_error(target, exc) from exc
        raise
    return {"stats": stats, "features": features, "outcomes": outcomes}


def math_rl_tables(hendrycks: Mapping[str, pa.Table], math500: pa.Table, seed: int = 0) -> dict[str, PlannedSplit]:
    """The math RL recipe: hendrycks_math train+test of every config minus MATH-500 problems, shuffled; MATH-500 as test.

    ``hendrycks`` maps ``"<config>/<split>"`` to cookbook tables; they are concatenated in config order,
    train before test, as the recipe loads them.
    """
    ordered = sorted(hendrycks, key=lambda key: (key.split("/")[0], 0 if key.endswith("/train") else 1))
    combined = pa.concat_tables([hendrycks[k] for k in ordered]) if ordered else math500.schema.empty_table()
    keep = pc.invert(pc.is_in(combined.column("problem"), value_set=math500.column("problem").combine_chunks()))
    train = combined.filter(keep)
    return {
        "train": PlannedSplit(train, permutation(train.num_rows, seed=seed)),
        "test": PlannedSplit(math500),
    }
