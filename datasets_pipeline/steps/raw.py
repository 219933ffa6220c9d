"""The raw layer: an exact Arrow mirror of one (config, split) of a Hub dataset, pinned to a commit."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import json

import pyarrow as pa
import pyarrow.parquet as pq

from ..catalog.spec import DatasetSpec
from ..engine.prefetch import prefetch
from ..errors import DatasetsPipelineError, FormatError, SchemaError
from ..formats import detect_format, read_batches
from ..hub.source import SplitFiles
from .stream import SplitStream

RAW_VERSION = "2"  # the reader's version: bump when the same source files would give other rows or schema
LINEAGE_KEY = b"datasets_pipeline.lineage"  # schema metadata of a raw file: its source, as JSON


def _file_schema(path: Path, name: str) -> pa.Schema:
    """A source file's schema: the Parquet footer, or the first batch of a text format.

    An empty file (0 bytes, or a text file without a single row or header) is a :class:`FormatError`
    naming it: it would otherwise become a table with no columns.
    """
    if path.stat().st_size == 0:
        raise FormatError("the source file is empty (0 bytes)", file=name)
    if detect_format(name) == "parquet":
        try:
            return pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FormatError(f"not a readable Parquet file: {exc}", file=name) from exc
    for batch in read_batches(path, name=name, batch_rows=1024):
        return batch.schema
    raise FormatError("the source file is empty (no rows and no columns)", file=name)


def _describe_drift(first: pa.Schema, other: pa.Schema) -> tuple[str, str]:
    """The first column that differs between two schemas, and how."""
    for f in first:
        if f.name not in other.names:
            return f.name, f"column {f.name!r} ({f.type}) is missing"
        o = other.field(f.name)
        if not o.type.equals(f.type):
            return f.name, f"column {f.name!r} is {o.type} here but {f.type} in the first file"
    for o in other:
        if o.name not in first.names:
            return o.name, f"column {o.name!r} ({o.type}) is not in the first file"
    return "", "schemas differ"


def unified_schema(spec: DatasetSpec, files: SplitFiles) -> pa.Schema:
    """One schema for all files of a split: equal types, or null columns promoted; else SchemaError."""
    where = dict(dataset=spec.name, config=files.config, split=files.split)
    schemas = [(f, _file_schema(f.local_path, f.path)) for f in files.files]
    if not schemas:
        raise SchemaError("the split has no data files", **where)
    first_file, unified = schemas[0]
    metadata = unified.metadata
    for f, schema in schemas[1:]:
        if schema.equals(unified, check_metadata=False):
            continue
        try:
            candidate = pa.unify_schemas([unified, schema], promote_options="default")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            candidate = None
        if candidate is None or candidate.names != unified.names:
            column, how = _describe_drift(unified, schema)
            raise SchemaError(
                f"schema drift between shards: {how} (first file {first_file.path!r})",
                file=f.path,
                column=column or None,
                **where,
            )
        unified = candidate
    return unified.with_metadata(metadata)


def _conformed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    arrays = [batch.column(f.name).cast(f.type) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def raw_stream(spec: DatasetSpec, files: SplitFiles, batch_rows: int = 16_384) -> SplitStream:
    """Stream every file of the split, in shard order, as batches of one schema (bounded memory).

    The schema carries the split's lineage (:data:`LINEAGE_KEY`), so the written file says where
    its rows came from and downstream layers read it from the file itself (:func:`file_lineage`).
    """
    where = dict(dataset=spec.name, config=files.config, split=files.split)
    per_file: dict[str, int] = {}

    def batches() -> Iterator[pa.RecordBatch]:
        for f in files.files:
            rows = 0
            try:
                for batch in read_batches(f.local_path, name=f.path, batch_rows=batch_rows):
                    rows += batch.num_rows
                    yield _conformed(batch, schema)
            except DatasetsPipelineError as exc:
                raise exc.with_context(file=f.path, **where)
            except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
                raise SchemaError(f"cannot read rows in the split's schema: {exc}", file=f.path, **where) from exc
            per_file[f.path] = rows

    lineage = {
        "repo_id": files.repo_id,
        "revision": files.requested_revision,
        "revision_sha": files.sha,
        "origin": files.origin,
        "source_files": [
            {"path": f.path, "sha256": f.sha256, "size": f.size, "revision": f.revision} for f in files.files
        ],
        "raw_version": RAW_VERSION,
    }
    schema = unified_schema(spec, files)
    schema = schema.with_metadata({**(schema.metadata or {}), LINEAGE_KEY: json.dumps(lineage, sort_keys=True).encode()})
    stream = SplitStream(schema=schema, batches=prefetch(batches()), lineage=lineage)
    stream.on_finish.append(lambda s: s.stats.update(rows_per_file=dict(per_file)))
    return stream


def file_lineage(schema: pa.Schema) -> dict:
    """The lineage a raw file records in its schema (repo, revision sha, source files with sha256); {} if none."""
    raw = (schema.metadata or {}).get(LINEAGE_KEY)
    return json.loads(raw) if raw else {}
