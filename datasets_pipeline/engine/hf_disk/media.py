"""Media columns (Image, Audio, …) as ``save_to_disk`` treats them: their share of the size
estimate, and path-only local files embedded with paths cut to their basenames."""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datasets_pipeline.engine.gather import gather
from datasets_pipeline.engine.hf_disk.shards import MAX_CHUNK_ROWS
from datasets_pipeline.engine.hf_features import (
    MEDIA_STORAGE,
    MEDIA_TYPES,
    SIZED_MEDIA_TYPES,
    feature_kind,
    has_media,
    requires_decoding,
)

SCHEME_RE = r"^[A-Za-z][A-Za-z0-9+.\-]*:"  # what urlparse calls a scheme: such paths are not local


def estimate_nbytes(table: pa.Table, features: Mapping[str, Any], indices: np.ndarray | None = None) -> int:
    """``Dataset._estimate_nbytes``: table bytes, plus path-only local media files and minus media
    ``path`` bytes, both estimated on the first 1000 rows; scaled by ``len(indices) / rows`` when the
    split is ``indices`` of ``table``."""
    nbytes = table.nbytes + _media_extra(table, features, indices)
    if indices is not None and table.num_rows:
        nbytes = nbytes * len(indices) // table.num_rows
    return nbytes


def _media_extra(table: pa.Table, features: Mapping[str, Any], indices: np.ndarray | None) -> int:
    rows = table.num_rows if indices is None else len(indices)
    if rows == 0 or not any(requires_decoding(f, ignore_decode_attribute=True) for f in features.values()):
        return 0
    head = table.slice(0, MAX_CHUNK_ROWS) if indices is None else gather(table, indices[:MAX_CHUNK_ROWS])
    extra = 0

    def visit(array: pa.Array, feature: Any) -> None:
        nonlocal extra
        if isinstance(array, pa.ExtensionArray):
            array = array.storage
        kind = feature_kind(feature)
        if kind in SIZED_MEDIA_TYPES:
            extra += sum(_file_size(p) for p in _path_only(array).to_pylist())
            extra -= array.field("path").nbytes
        if pa.types.is_struct(array.type) and kind == "struct":
            for name, sub in feature.items():
                visit(array.field(name), sub)
        elif pa.types.is_list(array.type) and kind in ("List", "LargeList"):
            visit(array.flatten(), feature["feature"])

    for name, feature in features.items():
        for chunk in head.column(name).chunks:
            visit(chunk, feature)
    return extra * table.num_rows // head.num_rows


def _path_only(array: pa.StructArray) -> pa.Array:
    """Paths of the rows that have a path but no bytes."""
    bytes_, path = array.field("bytes"), array.field("path")
    mask = pc.and_(pc.is_null(bytes_), pc.is_valid(path))
    if array.null_count:
        mask = pc.and_(mask, pc.is_valid(array))
    return path.filter(mask)


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def embed(array: pa.Array, feature: Any) -> pa.Array:
    """Embed media as ``save_to_disk`` does: read path-only local files, cut local paths to basenames."""
    kind = feature_kind(feature)
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    if kind in MEDIA_TYPES:
        bytes_, path = array.field("bytes"), array.field("path")
        local = pc.invert(pc.match_substring_regex(path, SCHEME_RE))
        need = pc.fill_null(pc.and_kleene(pc.and_kleene(pc.is_null(bytes_), local), pc.is_valid(array)), False)
        if pc.any(need).as_py():
            data = [_read_file(p) for p in path.filter(need).to_pylist()]
            bytes_ = pc.replace_with_mask(bytes_, need, pa.array(data, pa.binary()))
        path = pc.if_else(local, pc.replace_substring_regex(path, r"^.*/", ""), path)
        mask = None
        if array.null_count:  # the library rebuilds ``bytes`` from rows: a null row has null bytes
            mask = array.is_null()
            bytes_ = pc.if_else(mask, pa.scalar(None, pa.binary()), bytes_)
        else:  # a fresh, exact-size buffer, as the library's rebuilt array (IPC padding copies the tail)
            bytes_ = pa.concat_arrays([bytes_])
        return pa.StructArray.from_arrays([bytes_, path], fields=list(MEDIA_STORAGE), mask=mask)
    if kind == "struct" and pa.types.is_struct(array.type):
        names = list(feature)
        children = [embed(array.field(n), feature[n]) for n in names]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(array.type), mask=mask)
    if kind in ("List", "LargeList") and (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        array = pa.concat_arrays([array])  # drop the slice offset so values line up with offsets
        values = embed(array.values, feature["feature"])
        mask = array.is_null() if array.null_count else None
        return type(array).from_arrays(array.offsets, values, type=array.type, mask=mask)
    return array


def _read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def embed_table(table: pa.Table, features: Mapping[str, Any]) -> pa.Table:
    columns = []
    for name, feature in features.items():
        col = table.column(name)
        if has_media({name: feature}):
            col = pa.chunked_array([embed(c, feature) for c in col.chunks], type=col.type)
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=table.schema)
