"""The sample layer: a seeded reservoir sample of ``k`` rows of one cookbook split, each labelled
with a split (train / val / test by default), written once as a manifest with its meta record.

Rows are pre-filtered on their text (chat: message contents; preference: prompt and both
completions; math / code: ``problem``), trimmed, between ``min_chars`` and ``max_chars``
characters; then :func:`~datasets_pipeline.engine.reservoir.reservoir_sample` keeps ``k`` of them
(Algorithm R, seeded) in split order and
:func:`~datasets_pipeline.engine.reservoir.assign_splits` labels them. The same cookbook rows and
settings give the same sample; the data version (a hash of both) is written into the manifest,
so a re-run with unchanged inputs keeps the published sample as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from ..engine.ipc import read_schema, read_table
from ..engine.reservoir import RESERVOIR_ALGORITHM, assign_splits, reservoir_sample, sampling_stats, write_manifest
from ..layout import DataLayout
from ..tokenize.samples import SampleSpec
from .checks import CheckDef, CheckOutcome
from .versions import VERSION_KEY, digest

SAMPLE_CODE_VERSION = "sample-1"
TEXT = "_sample_text"
MANIFEST = "manifest.arrow"
SAMPLE_ROWS = CheckDef(
    "sample_rows", True, "The sample has min(k, eligible rows) rows, each in exactly one split, with the planned counts.",
)


def sample_folder(root: str, name: str, config: str, split: str) -> Path:
    """``<root>/sample/<name>/<config>/<split>`` (a local root only)."""
    return Path(DataLayout(root).sample(name, config, split))


def _contents(column: pa.Array) -> pa.Array:
    """Each row's message contents joined by newlines (a list<struct<role, content>> column)."""
    contents = pa.ListArray.from_arrays(column.offsets, column.values.field("content"))
    return pc.fill_null(pc.binary_join(contents, "\n"), "")


def row_text(batch: pa.RecordBatch) -> pa.Array:
    """The text the pre-filters measure, per row of a cookbook batch."""
    names = batch.schema.names
    if "messages" in names:
        return _contents(batch.column("messages"))
    if "completion_a" in names:
        parts = [_contents(batch.column(n)) for n in ("prompt", "completion_a", "completion_b")]
        return pc.binary_join_element_wise(*parts, "\n")
    return batch.column("problem")


def sample_version(upstream: str | None, spec: SampleSpec) -> str | None:
    return None if upstream is None else digest("sample", upstream, spec.canonical(), SAMPLE_CODE_VERSION, RESERVOIR_ALGORITHM)


def draw_sample(rows: pa.Table, spec: SampleSpec) -> pa.Table:
    """The labelled sample of a (memory-mapped) cookbook split, streamed batch by batch."""

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in rows.to_batches():
            yield batch.append_column(TEXT, row_text(batch))

    sample = reservoir_sample(
        batches(), spec.k, spec.seed, text_column=TEXT, min_chars=spec.min_chars, max_chars=spec.max_chars
    )
    sample = sample.drop_columns([TEXT]).replace_schema_metadata(sample.schema.metadata)
    return assign_splits(sample, spec.sizes(sample.num_rows), seed=spec.seed)


def sample_checks(sample: pa.Table, spec: SampleSpec) -> list[CheckOutcome]:
    stats = sampling_stats(sample) or {}
    want = min(spec.k, int(stats.get("eligible", 0)))
    counts = {r["values"]: r["counts"] for r in pc.value_counts(sample.column("split")).to_pylist()} if sample.num_rows else {}
    problems = []
    if sample.num_rows != want:
        problems.append(f"{sample.num_rows} rows where min(k, eligible) is {want}")
    return [SAMPLE_ROWS.outcome(not problems, "; ".join(problems), rows=sample.num_rows, eligible=stats.get("eligible"), splits=counts)]


def publish_sample(sample: pa.Table, folder: Path, *, version: str | None, source: str, revision: str | None, spec: SampleSpec) -> Path:
    """Write the manifest (its data version in the schema metadata) and its meta record, each atomically."""
    if version is not None:
        sample = sample.replace_schema_metadata({**(sample.schema.metadata or {}), VERSION_KEY: version.encode()})
    filters = {"min_chars": spec.min_chars, "max_chars": spec.max_chars, "text": "message contents / problem, trimmed"}
    return write_manifest(sample, folder, source=source, revision=revision, seed=spec.seed, k=spec.k, filters=filters, fmt="arrow")


def published_sample_version(folder: Path) -> str | None:
    try:
        value = (read_schema(folder / MANIFEST).metadata or {}).get(VERSION_KEY)
    except (FileNotFoundError, OSError, pa.ArrowInvalid):
        return None
    return value.decode() if value else None


def read_sample(folder: Path) -> pa.Table:
    """The published sample (memory-mapped)."""
    return read_table(str(folder / MANIFEST))


def sample_meta(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.meta.json").read_text(encoding="utf-8"))


def raw_revision(root: str, name: str, config: str, split: str) -> str | None:
    """The Hub revision sha the raw split was read at (from the raw file's lineage), if recorded."""
    from .raw import file_lineage

    try:
        lineage = file_lineage(read_schema(DataLayout(root).split("raw", name, config, split)))
    except (FileNotFoundError, OSError, pa.ArrowInvalid):
        return None
    value = lineage.get("revision_sha") or lineage.get("revision")
    return str(value) if value else None


__all__ = ["draw_sample", "publish_sample", "read_sample", "sample_checks", "sample_folder", "sample_version"]
