"""Hugging Face ``Features`` as they travel in Arrow schema metadata.

The Hub's parquet files (and ``datasets``' own Arrow files) carry the dataset's features
as JSON under the schema metadata key ``b"huggingface"``::

    {"info": {"features": {"label": {"names": ["neg", "pos"], "_type": "ClassLabel"}, ...}}}

This module reads ClassLabel names out of that block and builds the same block for our
output, so the DatasetDict writer (and ``datasets`` itself) can restore ClassLabel and
Image features. Only the JSON shapes of ``datasets`` 4.x/5.x are written; older shapes
(``"_type": "Sequence"``, extra ``num_classes``/``id`` keys) are read.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.types as pat

HF_METADATA_KEY = b"huggingface"

Feature = dict[str, Any]


# --- reading -------------------------------------------------------------------------------------


def read_features(schema: pa.Schema) -> dict[str, Feature] | None:
    """The ``{"info": {"features": ...}}`` dict of ``schema``'s metadata, or None when absent/unreadable."""
    metadata = schema.metadata or {}
    raw = metadata.get(HF_METADATA_KEY)
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(parsed, dict):
        return None
    info = parsed.get("info")
    features = info.get("features") if isinstance(info, dict) else None
    return features if isinstance(features, dict) else None


def class_label_names(schema: pa.Schema, column: str) -> list[str] | None:
    """The ClassLabel names of top-level ``column`` in ``schema``'s features, or None.

    A ClassLabel written with ``num_classes`` only has names ``"0"``, ``"1"``, … as ``datasets``
    gives it.
    """
    features = read_features(schema)
    feature = (features or {}).get(column)
    if not isinstance(feature, dict) or feature.get("_type") != "ClassLabel":
        return None
    names = feature.get("names")
    if isinstance(names, list) and names:
        return [str(name) for name in names]
    num_classes = feature.get("num_classes")
    if isinstance(num_classes, int) and num_classes > 0:
        return [str(i) for i in range(num_classes)]
    return None


# --- building ------------------------------------------------------------------------------------


def value(dtype: str) -> Feature:
    """``Value(dtype)``."""
    return {"dtype": dtype, "_type": "Value"}


def class_label(names: list[str]) -> Feature:
    """``ClassLabel(names=names)`` (stored as int64)."""
    return {"names": list(names), "_type": "ClassLabel"}


def image() -> Feature:
    """``Image()`` (stored as ``struct<bytes: binary, path: string>``)."""
    return {"_type": "Image"}


def list_of(feature: Feature | dict[str, Feature]) -> Feature:
    """``List(feature)`` (``list<...>``); ``feature`` may be a dict of fields for a list of structs."""
    return {"feature": feature, "_type": "List"}


def _datasets_dtype(arrow_type: pa.DataType) -> str:
    """The ``Value`` dtype string ``datasets`` uses for a primitive Arrow type."""
    if pat.is_float16(arrow_type):
        return "float16"
    if pat.is_float32(arrow_type):
        return "float32"
    if pat.is_float64(arrow_type):
        return "float64"
    if pat.is_boolean(arrow_type):
        return "bool"
    if pat.is_dictionary(arrow_type):
        return _datasets_dtype(arrow_type.value_type)
    if pat.is_timestamp(arrow_type):
        tz = f", tz={arrow_type.tz}" if arrow_type.tz else ""
        return f"timestamp[{arrow_type.unit}{tz}]"
    if pat.is_date32(arrow_type):
        return "date32"
    if pat.is_date64(arrow_type):
        return "date64"
    if pat.is_fixed_size_binary(arrow_type):
        return f"fixed_size_binary[{arrow_type.byte_width}]"
    # int8..uint64, string, large_string, binary, large_binary, null, duration[...], decimal...
    return str(arrow_type)


def infer_feature(arrow_type: pa.DataType) -> Feature | dict[str, Feature]:
    """The feature ``datasets`` infers for an Arrow type (no ClassLabel/Image: those need metadata)."""
    if pat.is_struct(arrow_type):
        return {f.name: infer_feature(f.type) for f in arrow_type}
    if pat.is_fixed_size_list(arrow_type):
        return {"feature": infer_feature(arrow_type.value_type), "length": arrow_type.list_size, "_type": "List"}
    if pat.is_list(arrow_type):
        return list_of(infer_feature(arrow_type.value_type))
    if pat.is_large_list(arrow_type):
        return {"feature": infer_feature(arrow_type.value_type), "_type": "LargeList"}
    return value(_datasets_dtype(arrow_type))


def complete_features(schema: pa.Schema, known: dict[str, Feature] | None = None) -> dict[str, Feature]:
    """Features for every column of ``schema``, in column order.

    A column's feature comes from ``known``, else from ``schema``'s own metadata, else is
    inferred from its Arrow type (so a ``uid`` column appended after conversion gets
    ``Value("string")`` while ``label`` keeps its ClassLabel).
    """
    from_metadata = read_features(schema) or {}
    known = known or {}
    out: dict[str, Feature] = {}
    for field in schema:
        if field.name in known:
            out[field.name] = known[field.name]
        elif field.name in from_metadata:
            out[field.name] = from_metadata[field.name]
        else:
            out[field.name] = infer_feature(field.type)
    return out


def features_metadata(features: dict[str, Feature]) -> dict[bytes, bytes]:
    """The schema metadata block ``datasets`` writes: ``{b"huggingface": json.dumps({"info": {"features": ...}})}``."""
    return {HF_METADATA_KEY: json.dumps({"info": {"features": features}}).encode()}


def with_features(table: pa.Table, known: dict[str, Feature] | None = None) -> pa.Table:
    """``table`` with a ``huggingface`` metadata block covering all its columns (other metadata kept)."""
    metadata = dict(table.schema.metadata or {})
    metadata.update(features_metadata(complete_features(table.schema, known)))
    return table.replace_schema_metadata(metadata)
