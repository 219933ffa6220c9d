"""Re-tokenizing only what changed, and checking a cache against its tokenizer.

:func:`tokenize_incremental` takes the previous tokenized table of a split and the split's new
cookbook rows: rows whose ``uid`` the previous table holds reuse its tokens (same content, same
profile → same tokens), the rest are tokenized; the result is in the new rows' order with their
``source_row``. Only valid when the profile's artifact hash is unchanged (the caller checks).

:func:`drift_check` re-tokenizes a seeded random sample of rows and compares it exactly with the
cache: a changed tokenizer file or renderer shows up as mismatching rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine.gather import take_table
from .messages import TokenizeError
from .tokenize_table import ProfileTokenizer, tokenize_table


@dataclass(frozen=True)
class IncrementalResult:
    table: pa.Table
    reused_rows: int
    tokenized_rows: int


@dataclass
class IncrementalCounts:
    """Rows reused from the previous cache and rows tokenized, filled while the batches stream."""

    reused_rows: int = 0
    tokenized_rows: int = 0


#: Rows of the new split per output batch of an incremental run.
DEFAULT_INCREMENTAL_ROWS = 8192


def tokenize_incremental_batches(
    previous: pa.Table,
    rows: pa.Table,
    tokenizer: ProfileTokenizer,
    *,
    batch_rows: int = DEFAULT_INCREMENTAL_ROWS,
    counts: IncrementalCounts | None = None,
) -> Iterator[pa.RecordBatch]:
    """The tokenized rows of ``rows`` in order, ``batch_rows`` rows per record batch: rows whose ``uid``
    ``previous`` (memory-mapped) holds are taken from it, the others tokenized. Memory: one batch's
    rows, plus the uid lookup (an index per row)."""
    if "uid" not in rows.schema.names or "uid" not in previous.schema.names:
        raise TokenizeError("incremental tokenization needs a 'uid' column in the rows and in the previous cache")
    counts = counts if counts is not None else IncrementalCounts()
    schema = tokenizer.tokenize(rows.slice(0, 0))[0].schema
    missing = [name for name in schema.names if name not in previous.schema.names and name != "source_row"]
    if missing:
        raise TokenizeError(f"the previous cache has no column(s) {missing}")
    names = [name for name in schema.names if name != "source_row"]
    reused_schema = schema if "source_row" not in schema.names else schema.remove(schema.get_field_index("source_row"))
    kept = previous.select(names)
    if not kept.schema.remove_metadata().equals(reused_schema.remove_metadata()):
        kept = None  # other column types (an older cache): reused rows are cast batch by batch
    where = pc.index_in(rows.column("uid"), value_set=previous.column("uid"))
    for start in range(0, rows.num_rows, max(1, batch_rows)):
        part = rows.slice(start, batch_rows)
        at = where.slice(start, part.num_rows)
        found = pc.is_valid(at).to_numpy(zero_copy_only=False)
        new_idx = np.flatnonzero(~found)
        old_idx = np.flatnonzero(found)
        old_pos = pc.filter(at, pa.array(found)).cast(pa.int64()).to_numpy()
        fresh = tokenize_table(take_table(part, pa.array(new_idx)), tokenizer).select(names).cast(reused_schema)
        if kept is not None:
            # one gather: reused rows straight from the memory-mapped cache, new rows after it
            source = pa.concat_tables([kept, fresh.replace_schema_metadata(kept.schema.metadata)])
            order = np.empty(part.num_rows, dtype=np.int64)
            order[old_idx] = old_pos
            order[new_idx] = kept.num_rows + np.arange(len(new_idx))
            out = take_table(source, order)
        else:
            reused = take_table(previous.select(names), old_pos).cast(reused_schema)
            order = np.empty(part.num_rows, dtype=np.int64)
            order[old_idx] = np.arange(len(old_idx))
            order[new_idx] = len(old_idx) + np.arange(len(new_idx))
            out = take_table(pa.concat_tables([reused, fresh]), order)
        if "source_row" in schema.names:
            out = out.append_column("source_row", part.column("source_row"))
        counts.reused_rows += len(old_idx)
        counts.tokenized_rows += len(new_idx)
        yield from out.select(schema.names).to_batches()


def tokenize_incremental(previous: pa.Table, rows: pa.Table, tokenizer: ProfileTokenizer) -> IncrementalResult:
    """The tokenized table of ``rows``, reusing ``previous`` rows with the same ``uid`` (see
    :func:`tokenize_incremental_batches`, which streams it)."""
    counts = IncrementalCounts()
    batches = list(tokenize_incremental_batches(previous, rows, tokenizer, counts=counts))
    schema = tokenizer.tokenize(rows.slice(0, 0))[0].schema
    table = pa.Table.from_batches(batches, schema=batches[0].schema if batches else schema)
    return IncrementalResult(table, counts.reused_rows, counts.tokenized_rows)


@dataclass(frozen=True)
class DriftReport:
    checked: int
    mismatched_rows: list[int]

    @property
    def ok(self) -> bool:
        return not self.mismatched_rows


def drift_check(
    tokenized: pa.Table, rows: pa.Table, tokenizer: ProfileTokenizer, *, sample: int = 64, seed: int = 0
) -> DriftReport:
    """Re-tokenize ``sample`` random rows of ``rows`` (aligned with ``tokenized``) and compare
    every token column exactly; the report lists the row numbers that differ."""
    if tokenized.num_rows != rows.num_rows:
        raise TokenizeError(f"the cache has {tokenized.num_rows} rows, the split {rows.num_rows}")
    n = rows.num_rows
    picked = np.sort(np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False)) if n else np.empty(0, np.int64)
    again = tokenize_table(take_table(rows, pa.array(picked)), tokenizer)
    cached = take_table(tokenized, pa.array(picked))
    bad = np.zeros(len(picked), dtype=bool)
    for name in again.schema.names:
        if name.endswith("tokens") or name.endswith("weights"):
            if name not in cached.schema.names:
                raise TokenizeError(f"the cache has no column {name!r}", column=name)
            a = again.column(name).combine_chunks().cast(cached.schema.field(name).type)
            b = cached.column(name).combine_chunks()
            la = pc.list_value_length(a).to_numpy(zero_copy_only=False)
            lb = pc.list_value_length(b).to_numpy(zero_copy_only=False)
            bad |= la != lb
            same = np.flatnonzero(la == lb)
            if len(same):
                take = pa.array(same)
                av = pc.list_flatten(a.take(take)).to_numpy(zero_copy_only=False)
                bv = pc.list_flatten(b.take(take)).to_numpy(zero_copy_only=False)
                row_of = np.repeat(same, la[same])
                bad[np.unique(row_of[av != bv])] = True
    return DriftReport(len(picked), picked[bad].tolist())


__all__ = ["DriftReport", "IncrementalCounts", "IncrementalResult", "drift_check", "tokenize_incremental", "tokenize_incremental_batches"]
