"""Data versions: what a partition was built from, so an unchanged-inputs run recomputes nothing.

A raw file's version is a hash of the reader version and its source files' paths and sha256s (both
recorded in its lineage). A cookbook file's version is a hash of its raw file's version and the
converter's code version; it is written into the file's schema metadata (:data:`VERSION_KEY`). When
the version a run would produce equals the published file's, the run keeps the file as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Iterable, Mapping

import pyarrow as pa

from ..engine.ipc import read_schema
from .raw import RAW_VERSION, file_lineage

VERSION_KEY = b"datasets_pipeline.data_version"
UNCHANGED_NOTE = "inputs unchanged since the published version: nothing was recomputed"


def digest(*parts: object) -> str:
    """A short stable hash of ``parts`` (16 hex characters)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def raw_version(source_files: Iterable[Mapping[str, object]], reader_version: str = RAW_VERSION) -> str:
    """The version of a raw split from ``[{path, sha256}, …]`` and the reader version."""
    return digest("raw", reader_version, sorted((str(f["path"]), str(f["sha256"])) for f in source_files))


def lineage_version(lineage: Mapping[str, object]) -> str | None:
    """The version of a raw file from its recorded lineage; None when it records none."""
    files = lineage.get("source_files")
    if not isinstance(files, list):
        return None
    return raw_version(files, str(lineage.get("raw_version", "")))


def cookbook_version(raw_schema: pa.Schema, code_version: str) -> str | None:
    """The version of a cookbook split built by ``code_version`` from the raw file of ``raw_schema``."""
    upstream = lineage_version(file_lineage(raw_schema))
    return None if upstream is None else digest("cookbook", upstream, code_version)


def with_version(schema: pa.Schema, version: str | None) -> pa.Schema:
    """``schema`` with :data:`VERSION_KEY` set (unchanged when ``version`` is None)."""
    if version is None:
        return schema
    return schema.with_metadata({**(schema.metadata or {}), VERSION_KEY: version.encode()})


def published_schema(path: str | os.PathLike) -> pa.Schema | None:
    """The schema of the file published at ``path``, or None when there is none (or it cannot be read)."""
    with contextlib.suppress(FileNotFoundError, OSError, pa.ArrowInvalid):
        return read_schema(path)
    return None


def published_version(path: str | os.PathLike, kind: str) -> str | None:
    """The version of the published ``kind`` (``raw`` or ``cookbook``) file at ``path``; None if unknown."""
    schema = published_schema(path)
    if schema is None:
        return None
    if kind == "raw":
        return lineage_version(file_lineage(schema))
    value = (schema.metadata or {}).get(VERSION_KEY)
    return value.decode() if value else None


def cookbook_stats(table: pa.Table, family: str) -> dict[str, object]:
    """The check statistics of a published cookbook table, recounted from its rows (vectorized, no conversion)."""
    import pyarrow.compute as pc

    from .validate import family_violations, num_classes, quality_violations

    rows = table.num_rows
    distinct = pc.count_distinct(table.column("uid")).as_py() if rows and "uid" in table.column_names else rows
    return {
        "rule_violations": family_violations(table, family, num_classes(table.schema)),
        "quality": quality_violations(table, family),
        "duplicate_uids": rows - distinct,
    }
