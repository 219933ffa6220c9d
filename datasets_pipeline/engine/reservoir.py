"""Seeded reservoir sampling of a stream into a small table, split assignment, and manifests.

:func:`reservoir_sample` keeps a uniform sample of ``k`` rows of a stream of any length in one
pass with memory bounded by ``k`` rows (plus one key per distinct row when ``dedup``).
Algorithm R, vectorized per record batch: the ``i``-th eligible row (0-based, ``i >= k``)
draws ``u`` from ``default_rng(seed).random()`` and replaces slot ``j = floor(u * (i + 1))``
when ``j < k``; a batch draws all its ``u`` at once and the last writer of a slot wins. One
float is drawn per row after the first ``k``, so the result does not depend on how the
stream is cut into batches: the same seed and the same rows give the same sample.

Pre-filters (vectorized, before sampling): with ``text_column``, a row is eligible when its
text is not null and its length in characters after trimming surrounding whitespace is
between ``min_chars`` and ``max_chars`` (inclusive). ``dedup=True`` then keeps only the first
occurrence of each ``uid``.

The sample keeps stream order and has a ``uid`` column (see ``engine/uid.py``): an existing
``uid`` column is kept when ``uid_fields`` is not given, otherwise it is computed over
``uid_fields`` (default: every column). Counts (rows seen, dropped by each filter, duplicates,
eligible) are stored in the schema metadata under :data:`STATS_KEY`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datasets_pipeline import __version__
from datasets_pipeline.engine import ipc
from datasets_pipeline.engine.streaming import StreamingDataset
from datasets_pipeline.engine.uid import UID_ALGORITHM, UID_FIELD, add_uid, compute_uids
from datasets_pipeline.errors import SchemaError

__all__ = [
    "RESERVOIR_ALGORITHM",
    "STATS_KEY",
    "DEFAULT_SPLITS",
    "reservoir_sample",
    "sampling_stats",
    "assign_splits",
    "write_manifest",
]

RESERVOIR_ALGORITHM = "reservoir-R/numpy-pcg64-random-v1"
STATS_KEY = b"datasets_pipeline.reservoir"
DEFAULT_SPLITS: dict[str, float] = {"train": 0.8, "val": 0.1, "test": 0.1}
"""Fractions of the rows per split; for 120 rows: 96 / 12 / 12."""


# ---------------------------------------------------------------- sampling


def _batches(stream: StreamingDataset | Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    source = stream.iter_batches() if isinstance(stream, StreamingDataset) else stream
    for item in source:
        if isinstance(item, pa.Table):
            yield from item.to_batches()
        else:
            yield item


def _text_filter(
    batch: pa.RecordBatch, column: str, min_chars: int, max_chars: int | None, stats: dict[str, int]
) -> pa.RecordBatch:
    if column not in batch.schema.names:
        raise SchemaError(f"text_column {column!r} is not a column of the stream (it has {batch.schema.names})", column=column)
    text = batch.column(column)
    if pa.types.is_large_string(text.type) or pa.types.is_string_view(text.type):
        text = pc.cast(text, pa.string())
    length = pc.utf8_length(pc.utf8_trim_whitespace(text))
    too_short = pc.fill_null(pc.less(length, min_chars), True)
    keep = pc.invert(too_short)
    stats["dropped_short"] += int(pc.sum(too_short).as_py() or 0)
    if max_chars is not None:
        too_long = pc.and_(keep, pc.greater(length, max_chars))
        stats["dropped_long"] += int(pc.sum(too_long).as_py() or 0)
        keep = pc.and_(keep, pc.invert(too_long))
    return batch.filter(keep)


def _with_uid(batch: pa.RecordBatch, uid_fields: Sequence[str] | None) -> pa.RecordBatch:
    if uid_fields is None and "uid" in batch.schema.names:
        return batch
    fields = list(uid_fields) if uid_fields is not None else [n for n in batch.schema.names if n != "uid"]
    if "uid" in batch.schema.names:
        batch = batch.drop_columns(["uid"])
    return batch.append_column(UID_FIELD, compute_uids(batch, fields))


def _first_unseen(batch: pa.RecordBatch, seen: set[str]) -> pa.RecordBatch:
    """The rows whose uid occurs neither earlier in the batch nor in ``seen`` (which is updated)."""
    uids = batch.column("uid")
    codes = pc.index_in(uids, value_set=pc.unique(uids)).to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    first.sort()
    candidates = uids.take(pa.array(first))
    fresh = set(candidates.to_pylist()).difference(seen)
    if len(fresh) < len(first):
        first = first[pc.is_in(candidates, value_set=pa.array(list(fresh), uids.type)).to_numpy(zero_copy_only=False)]
    seen.update(fresh)
    return batch if len(first) == batch.num_rows else batch.take(pa.array(first))


def _last_writer(slots: np.ndarray) -> np.ndarray:
    """Positions in ``slots`` of the last occurrence of each distinct slot."""
    _, first_in_reversed = np.unique(slots[::-1], return_index=True)
    return len(slots) - 1 - first_in_reversed


def reservoir_sample(
    stream: StreamingDataset | Iterable[pa.RecordBatch],
    k: int,
    seed: int,
    *,
    text_column: str | None = None,
    min_chars: int = 1,
    max_chars: int | None = None,
    dedup: bool = False,
    uid_fields: Sequence[str] | None = None,
) -> pa.Table:
    """A uniform random sample of ``k`` eligible rows of ``stream`` (all of them if fewer), in
    stream order, with a ``uid`` column. See the module docstring for the algorithm."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    if max_chars is not None and max_chars < min_chars:
        raise ValueError(f"max_chars ({max_chars}) is smaller than min_chars ({min_chars})")
    k = int(k)
    rng = np.random.default_rng(seed)
    stats = {"seen": 0, "dropped_short": 0, "dropped_long": 0, "duplicates": 0, "eligible": 0}
    seen_uids: set[str] = set()
    reservoir: pa.RecordBatch | None = None
    positions = np.empty(0, dtype=np.int64)  # eligible-row index of each reservoir slot
    schema: pa.Schema | None = None
    for batch in _batches(stream):
        stats["seen"] += batch.num_rows
        if text_column is not None:
            batch = _text_filter(batch, text_column, min_chars, max_chars, stats)
        if dedup:
            batch = _with_uid(batch, uid_fields)
            before = batch.num_rows
            batch = _first_unseen(batch, seen_uids)
            stats["duplicates"] += before - batch.num_rows
        if schema is None:
            schema = batch.schema
        elif not batch.schema.equals(schema):
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
        n, seen_before = batch.num_rows, stats["eligible"]
        stats["eligible"] += n
        if n == 0 or k == 0:
            continue
        fill = max(0, min(k - seen_before, n))
        rest = np.arange(seen_before + fill, seen_before + n, dtype=np.int64)
        slot = np.minimum(np.floor(rng.random(len(rest)) * (rest + 1)).astype(np.int64), rest)
        hit = np.flatnonzero(slot < k)
        win = _last_writer(slot[hit])
        rows = np.concatenate([np.arange(fill, dtype=np.int64), fill + hit[win]])
        if len(rows) == 0:
            continue
        held = 0 if reservoir is None else reservoir.num_rows
        source = np.arange(held + fill, dtype=np.int64)  # combined-row index of every slot
        source[slot[hit][win]] = held + fill + np.arange(len(win))
        incoming = batch.take(pa.array(rows))
        combined = incoming if reservoir is None else pa.concat_batches([reservoir, incoming])
        reservoir = combined.take(pa.array(source))
        positions = np.concatenate([positions, np.zeros(fill, dtype=np.int64)])
        positions[held : held + fill] = seen_before + np.arange(fill)
        positions[slot[hit][win]] = seen_before + rows[fill:]
    if reservoir is None:
        if schema is None:
            schema = stream.schema if isinstance(stream, StreamingDataset) else pa.schema([])
        table = schema.empty_table()
    else:
        table = pa.Table.from_batches([reservoir.take(pa.array(np.argsort(positions, kind="stable")))])
    if "uid" not in table.column_names or (uid_fields is not None and not dedup):
        fields = list(uid_fields) if uid_fields is not None else [c for c in table.column_names if c != "uid"]
        table = add_uid(table, fields)
    stats["sampled"] = table.num_rows
    meta = {
        "algorithm": RESERVOIR_ALGORITHM,
        "k": k,
        "seed": seed,
        "filters": {"text_column": text_column, "min_chars": min_chars, "max_chars": max_chars, "dedup": dedup},
        **stats,
    }
    return table.replace_schema_metadata({**(table.schema.metadata or {}), STATS_KEY: json.dumps(meta).encode()})


def sampling_stats(table: pa.Table) -> dict[str, Any] | None:
    """The counts :func:`reservoir_sample` stored on ``table`` (None if it has none)."""
    raw = (table.schema.metadata or {}).get(STATS_KEY)
    return json.loads(raw) if raw else None


# ---------------------------------------------------------------- splits


def _split_counts(sizes: Mapping[str, int | float], n: int) -> list[tuple[str, int]]:
    if not sizes:
        raise ValueError("sizes must name at least one split")
    values = list(sizes.values())
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        if any(v < 0 for v in values) or sum(values) != n:
            raise ValueError(f"split sizes {dict(sizes)} must be >= 0 and add up to the {n} rows of the table")
        return [(name, int(v)) for name, v in sizes.items()]
    if not all(isinstance(v, float) for v in values):
        raise ValueError(f"split sizes must be all row counts (int) or all fractions (float), got {dict(sizes)}")
    if any(not 0.0 <= v <= 1.0 for v in values) or abs(math.fsum(values) - 1.0) > 1e-9:
        raise ValueError(f"split fractions {dict(sizes)} must lie in [0, 1] and sum to 1")
    exact = np.array(values) * n
    counts = np.floor(exact).astype(np.int64)
    remainder = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")  # largest fraction first, ties by order given
    counts[order[:remainder]] += 1
    return [(name, int(c)) for name, c in zip(sizes, counts)]


def assign_splits(table: pa.Table, sizes: Mapping[str, int | float] | None = None, seed: int = 0) -> pa.Table:
    """``table`` with a ``split`` column: every row in exactly one split, deterministically.

    ``sizes`` maps split names to row counts (adding up to ``len(table)``) or to fractions
    (summing to 1; rounded down, leftover rows to the largest remainders); default
    :data:`DEFAULT_SPLITS`. Rows are ordered by ``uid`` when the table has one (so the
    assignment does not depend on row order), then permuted with
    ``default_rng(seed).permutation``; the first ``sizes[first]`` rows of that order go to the
    first split, and so on. Row order is kept; an existing ``split`` column is replaced.
    """
    n = table.num_rows
    counts = _split_counts(DEFAULT_SPLITS if sizes is None else sizes, n)
    if "uid" in table.column_names:
        base = pc.sort_indices(table, sort_keys=[("uid", "ascending")]).to_numpy()
    else:
        base = np.arange(n, dtype=np.int64)
    order = base[np.random.default_rng(seed).permutation(n)]
    codes = np.empty(n, dtype=np.int32)
    bounds = np.cumsum([0] + [c for _, c in counts])
    for i in range(len(counts)):
        codes[order[bounds[i] : bounds[i + 1]]] = i
    names = pa.array([name for name, _ in counts], pa.string())
    split = names.take(pa.array(codes)) if n else pa.array([], pa.string())
    if "split" in table.column_names:
        table = table.drop_columns(["split"])
    return table.append_column(pa.field("split", pa.string(), nullable=False), split)


# ---------------------------------------------------------------- manifest


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write a {type(value).__name__} to a JSON manifest")


def _write_text_atomic(path: Path, text: str) -> None:
    with ipc.atomic_local_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(
    table: pa.Table,
    folder: str | Path,
    *,
    source: str,
    revision: str | None,
    seed: int,
    k: int,
    filters: Mapping[str, Any] | None,
    fmt: Literal["jsonl", "arrow"] = "jsonl",
) -> Path:
    """Write ``table`` as ``manifest.jsonl`` (one JSON object per row; binary as base64) or
    ``manifest.arrow``, then ``manifest.meta.json``, each atomically; return the manifest path.

    The meta file records source, revision, seed, k, filters, the sampling and uid algorithms,
    row counts per split (in first-seen order; ``{"all": n}`` without a ``split`` column), the
    sampling counts when the table came from :func:`reservoir_sample`, the manifest's sha256
    and the ``created_by`` package version.
    """
    if fmt not in ("jsonl", "arrow"):
        raise ValueError(f"fmt must be 'jsonl' or 'arrow', got {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"manifest.{fmt}"
    if fmt == "jsonl":
        lines = [json.dumps(row, ensure_ascii=False, default=_json_default) + "\n" for row in table.to_pylist()]
        _write_text_atomic(path, "".join(lines))
    else:
        ipc.write_table(path, table)
    if "split" in table.column_names:
        counted = pc.value_counts(table.column("split")).to_pylist()
        counts = {item["values"]: item["counts"] for item in counted}
    else:
        counts = {"all": table.num_rows}
    meta = {
        "source": source,
        "revision": revision,
        "seed": seed,
        "k": k,
        "filters": dict(filters) if filters is not None else None,
        "algorithm": RESERVOIR_ALGORITHM,
        "uid_algorithm": UID_ALGORITHM,
        "rows": table.num_rows,
        "counts": counts,
        "sampling": sampling_stats(table),
        "columns": table.column_names,
        "format": fmt,
        "manifest": path.name,
        "manifest_sha256": _sha256(path),
        "created_by": {"package": "datasets_pipeline", "version": __version__},
    }
    _write_text_atomic(folder / "manifest.meta.json", json.dumps(meta, indent=2, ensure_ascii=False, default=_json_default) + "\n")
    return path
