"""The cookbook layer: raw rows converted to the dataset's family columns, each with ``source_row`` and ``uid``.

The stream's Arrow schema carries ``RAW_ROWS_KEY`` (the raw split's row count, decimal) in its
metadata, so DatasetDict planning can shuffle raw row positions without opening the raw table.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

import pyarrow as pa
import pyarrow.compute as pc

from ..catalog.spec import DatasetSpec
from ..convert.context import ConvertContext, Converted
from ..engine.prefetch import prefetch
from ..engine.uid import UID_ALGORITHM, add_uid
from ..errors import ConversionError, DatasetsPipelineError
from ..families import FAMILIES, SOURCE_ROW_FIELD
from .stream import SplitStream
from .validate import family_violations, num_classes, quality_violations

CONVERT_BATCH_ROWS = 8_192  # at most this many rows per converted batch
CONVERT_BATCH_BYTES = 8 << 20  # and about this much raw data: memory follows bytes, not rows
MIN_BATCH_ROWS = 16
RAW_ROWS_KEY = b"datasets_pipeline.raw_rows"  # schema metadata: row count of the raw split


def raw_rows(schema: pa.Schema) -> int | None:
    """The raw split's row count recorded in a cookbook table's schema metadata (None if absent)."""
    value = (schema.metadata or {}).get(RAW_ROWS_KEY)
    return int(value) if value is not None else None


def convert_batch_rows(raw: pa.Table) -> int:
    """Rows per converted batch: about ``CONVERT_BATCH_BYTES`` of the split's mean raw row, 16..8,192."""
    row_bytes = max(1, raw.nbytes // max(1, raw.num_rows))
    return int(min(CONVERT_BATCH_ROWS, max(MIN_BATCH_ROWS, CONVERT_BATCH_BYTES // row_bytes)))


def _convert(spec: DatasetSpec, chunk: pa.Table, ctx: ConvertContext, offset: int) -> Converted:
    try:
        out = spec.converter(chunk, ctx)
    except DatasetsPipelineError as exc:
        if exc.row is not None and offset:
            exc.row += offset
        raise exc.with_context(**ctx.where)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, ValueError, TypeError) as exc:
        raise ConversionError(
            f"converter {spec.family}/{spec.name} v{spec.converter.version} failed on rows {offset}..{offset + chunk.num_rows - 1}: {exc}",
            **ctx.where,
        ) from exc
    return out


def _source_rows(converted: Converted, chunk_rows: int, offset: int, ctx: ConvertContext) -> pa.Array:
    """``offset`` + each output row's position in its input chunk."""
    n = converted.table.num_rows
    if converted.rows is None:
        if n != chunk_rows:
            raise ConversionError(
                f"converter returned {n} of {chunk_rows} rows without their input positions", **ctx.where
            )
        return pa.array(np.arange(offset, offset + n, dtype=np.int64))
    rows = np.asarray(converted.rows, dtype=np.int64)
    if len(rows) != n:
        raise ConversionError(f"converter returned {n} rows but {len(rows)} input positions", **ctx.where)
    return pa.array(rows + offset)


def _with_uid(table: pa.Table, family: str, source_row: pa.Array) -> pa.Table:
    """Append ``source_row`` and ``uid`` (the hash of the family's content columns only)."""
    return add_uid(table.append_column(SOURCE_ROW_FIELD, source_row), FAMILIES[family].schema.names)


def convert_stream(
    spec: DatasetSpec, raw: pa.Table, config: str, split: str, batch_rows: int | None = None
) -> SplitStream:
    """Convert a (memory-mapped) raw split chunk by chunk; whole-split converters get all rows at once.

    ``batch_rows`` defaults to :func:`convert_batch_rows` (~8 MB of raw rows per batch).
    ``stats`` (filled when the stream is consumed): ``rows_in`` (the raw split's rows), ``rows_kept``,
    ``rows_dropped``, ``dropped_by_reason`` (rows the cookbook's builder drops), ``duplicate_uids``,
    ``rule_violations`` (blocking family rules) and ``quality`` (quality rule → rows breaking it;
    such rows are kept, see :func:`~datasets_pipeline.steps.validate.quality_filter`).
    """
    ctx = ConvertContext(dataset=spec.name, config=config, split=split, raw_schema=raw.schema)
    dropped: dict[str, int] = {}
    violations: dict[str, int] = {}
    quality: dict[str, int] = {}
    uids: list[pa.Array] = []
    if batch_rows is None:
        batch_rows = convert_batch_rows(raw)
    size = raw.num_rows if spec.converter.whole_split else batch_rows
    offsets = list(range(0, raw.num_rows, max(size, 1))) or [0]

    def run(offset: int) -> pa.Table:
        converted = _convert(spec, raw.slice(offset, size), ctx, offset)
        for reason, count in converted.dropped.items():
            if count:
                dropped[reason] = dropped.get(reason, 0) + int(count)
        chunk_rows = min(size, raw.num_rows - offset)
        table = _with_uid(converted.table, spec.family, _source_rows(converted, chunk_rows, offset, ctx))
        for rule, count in family_violations(table, spec.family, num_classes(table.schema)).items():
            violations[rule] = violations.get(rule, 0) + count
        for rule, count in quality_violations(table, spec.family).items():
            quality[rule] = quality.get(rule, 0) + count
        uids.append(table.column("uid").combine_chunks() if table.num_rows else pa.array([], pa.string()))
        return table

    first = run(offsets[0])  # run eagerly: its schema (with converter metadata) is the file's schema
    schema = first.schema.with_metadata({**(first.schema.metadata or {}), RAW_ROWS_KEY: str(raw.num_rows).encode()})

    def batches() -> Iterator[pa.RecordBatch]:
        yield from first.to_batches()
        for offset in offsets[1:]:
            table = run(offset)
            yield from table.cast(schema).to_batches() if not table.schema.equals(schema) else table.to_batches()

    def finish(stream: SplitStream) -> None:
        all_uids = pa.chunked_array(uids, pa.string())
        kept = len(all_uids)
        distinct = pc.count_distinct(all_uids).as_py() if kept else 0
        stream.stats.update(
            rows_in=raw.num_rows,
            rows_kept=kept,
            rows_dropped=sum(dropped.values()),
            dropped_by_reason=dict(sorted(dropped.items())),
            duplicate_uids=kept - distinct,
            rule_violations=dict(sorted(violations.items())),
            quality=dict(sorted(quality.items())),
        )

    lineage = {
        "converter": f"{spec.family}/{spec.name}",
        "converter_version": spec.converter.version,
        "uid_algorithm": UID_ALGORITHM,
    }
    return SplitStream(schema=schema, batches=prefetch(batches(), depth=1), lineage=lineage, on_finish=[finish])
