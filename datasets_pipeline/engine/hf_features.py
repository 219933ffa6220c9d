"""Hugging Face ``Features`` JSON ↔ Arrow types, without importing ``datasets``.

A feature is the JSON that ``datasets`` writes in ``dataset_info.json`` and in the ``huggingface``
schema metadata of its Arrow files:

- ``{"dtype": "int64", "_type": "Value"}`` → ``int64`` (dtype names as ``datasets`` spells them)
- ``{"names": [...], "_type": "ClassLabel"}`` → ``int64``
- ``{"feature": f, "_type": "List"}`` → ``list<f>``; with ``"length": n`` → ``fixed_size_list<f>[n]``
- ``{"feature": f, "_type": "LargeList"}`` → ``large_list<f>``
- a plain dict ``{"a": f, ...}`` → ``struct<a: f, ...>``
- ``{"_type": "Image"}`` (and the other media types) → ``struct<bytes: binary, path: string>``

The 3.x spellings (``"_type": "Sequence"``, a bare ``[f]`` for a list) are read and rewritten in
the 4.x/5.x form by :func:`normalize_features`; everything written uses the 4.x/5.x form.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Mapping

import pyarrow as pa

from datasets_pipeline.errors import SchemaError

Feature = Any  # a JSON feature: dict (typed or plain struct) or, in 3.x files, a one-item list
Features = dict[str, Feature]

METADATA_KEY = b"huggingface"
MEDIA_STORAGE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])
MEDIA_TYPES = frozenset({"Image", "Audio", "Video", "Pdf", "Nifti", "Mesh", "BioSequence", "BioStructure"})
DECODABLE_TYPES = MEDIA_TYPES | {"Json"}
SIZED_MEDIA_TYPES = frozenset({"Image", "Audio", "Video"})  # counted in the shard size estimate
UNSUPPORTED_TYPES = frozenset({"Array2D", "Array3D", "Array4D", "Array5D"})

# record batch rows written per feature kind (datasets.config.ARROW_RECORD_BATCH_SIZE_FOR_*)
DEFAULT_BATCH_ROWS = 1000
BATCH_ROWS = {"Image": 100, "Audio": 100, "Video": 10}
BINARY_BATCH_ROWS = 100

_PRIMITIVES: dict[str, Callable[[], pa.DataType]] = {
    "null": pa.null,
    "bool": pa.bool_,
    "int8": pa.int8,
    "int16": pa.int16,
    "int32": pa.int32,
    "int64": pa.int64,
    "uint8": pa.uint8,
    "uint16": pa.uint16,
    "uint32": pa.uint32,
    "uint64": pa.uint64,
    "float16": pa.float16,
    "float32": pa.float32,
    "float64": pa.float64,
    "string": pa.string,
    "large_string": pa.large_string,
    "string_view": pa.string_view,
    "binary": pa.binary,
    "large_binary": pa.large_binary,
    "binary_view": pa.binary_view,
    "date32": pa.date32,
    "date64": pa.date64,
    # aliases that datasets also accepts
    "halffloat": pa.float16,
    "utf8": pa.string,
    "large_utf8": pa.large_string,
    "bool_": pa.bool_,
}
_DTYPE_ALIASES = {"double": "float64", "float": "float32"}


# --- constructors -------------------------------------------------------------------------------


def value(dtype: str) -> dict:
    """``Value(dtype)``: a primitive column, e.g. ``value("string")``, ``value("int64")``."""
    dtype = _DTYPE_ALIASES.get(dtype, dtype)
    arrow_dtype(dtype)  # validates
    return {"dtype": dtype, "_type": "Value"}


def class_label(names: Iterable[str]) -> dict:
    """``ClassLabel(names=...)``: int64 ids naming ``names[id]``."""
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        raise SchemaError("ClassLabel names must be unique", hint=f"got {names!r}")
    return {"names": names, "_type": "ClassLabel"}


def image(*, mode: str | None = None, decode: bool = True) -> dict:
    """``Image()``: ``struct<bytes: binary, path: string>`` holding encoded image files."""
    out: dict[str, Any] = {}
    if mode is not None:
        out["mode"] = mode
    if not decode:
        out["decode"] = False
    out["_type"] = "Image"
    return out


def list_of(feature: Feature, length: int | None = None) -> dict:
    """``List(feature)`` (``length`` gives a fixed-size list)."""
    out: dict[str, Any] = {"feature": feature}
    if length is not None and length >= 0:
        out["length"] = int(length)
    out["_type"] = "List"
    return out


def large_list_of(feature: Feature) -> dict:
    """``LargeList(feature)``: a list with 64-bit offsets."""
    return {"feature": feature, "_type": "LargeList"}


# --- dtype names ----------------------------------------------------------------------------------


def arrow_dtype(dtype: str) -> pa.DataType:
    """The Arrow type of a ``Value`` dtype name (``"float32"`` → ``float``, ``"timestamp[ms]"`` …)."""
    dtype = _DTYPE_ALIASES.get(dtype, dtype)
    if dtype in _PRIMITIVES:
        return _PRIMITIVES[dtype]()
    if m := re.fullmatch(r"timestamp\[(s|ms|us|ns)(?:,\s*tz=([a-zA-Z0-9/_+\-:]*))?\]", dtype):
        return pa.timestamp(m.group(1), m.group(2)) if m.group(2) else pa.timestamp(m.group(1))
    if m := re.fullmatch(r"duration\[(s|ms|us|ns)\]", dtype):
        return pa.duration(m.group(1))
    if m := re.fullmatch(r"time32\[(s|ms)\]", dtype):
        return pa.time32(m.group(1))
    if m := re.fullmatch(r"time64\[(us|ns)\]", dtype):
        return pa.time64(m.group(1))
    if m := re.fullmatch(r"decimal(128|256)\((\d+),\s*(-?\d+)\)", dtype):
        make = pa.decimal128 if m.group(1) == "128" else pa.decimal256
        return make(int(m.group(2)), int(m.group(3)))
    if m := re.fullmatch(r"fixed_size_binary\[(\d+)\]", dtype):
        return pa.binary(int(m.group(1)))
    raise SchemaError(f"unknown Value dtype {dtype!r}", hint="use a datasets dtype name such as 'string' or 'int64'")


def dtype_name(arrow_type: pa.DataType) -> str:
    """The ``Value`` dtype name of a primitive Arrow type (dictionaries name their value type)."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return dtype_name(t.value_type)
    for name in ("null", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "string", "large_string", "string_view", "binary",
                 "large_binary", "binary_view", "date32", "date64"):  # fmt: skip
        if t == _PRIMITIVES[name]():
            return name
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}, tz={t.tz}]" if t.tz else f"timestamp[{t.unit}]"
    if pa.types.is_time32(t) or pa.types.is_time64(t):
        return f"time{t.bit_width}[{t.unit}]"
    if pa.types.is_duration(t):
        return f"duration[{t.unit}]"
    if pa.types.is_decimal128(t) or pa.types.is_decimal256(t):
        return f"decimal{t.bit_width}({t.precision}, {t.scale})"
    if pa.types.is_fixed_size_binary(t):
        return f"fixed_size_binary[{t.byte_width}]"
    raise SchemaError(f"Arrow type {t} has no Hugging Face Value dtype")


# --- normalization ----------------------------------------------------------------------------------


def feature_kind(feature: Feature) -> str:
    """``"Value"``, ``"List"``, … for typed features; ``"struct"`` for a plain dict; ``"list"`` for ``[f]``."""
    if isinstance(feature, list):
        return "list"
    if not isinstance(feature, dict):
        raise SchemaError(f"a feature must be a JSON object or a one-item list, got {feature!r}")
    kind = feature.get("_type")
    return kind if isinstance(kind, str) else "struct"


def normalize_feature(feature: Feature) -> Feature:
    """Rewrite one feature in the 4.x/5.x spelling (``Sequence`` and ``[f]`` become ``List``)."""
    kind = feature_kind(feature)
    if kind == "list":
        if len(feature) != 1:
            raise SchemaError("a list feature must hold exactly one item feature", hint=f"got {feature!r}")
        return list_of(normalize_feature(feature[0]))
    if kind == "struct":
        return {name: normalize_feature(sub) for name, sub in feature.items()}
    if kind == "Sequence":
        inner, length = feature.get("feature"), feature.get("length", -1)
        if feature_kind(inner) == "struct":  # TFDS style: a sequence of dicts is a dict of sequences
            return {name: list_of(normalize_feature(sub), length) for name, sub in inner.items()}
        return list_of(normalize_feature(inner), length)
    if kind == "List":
        return list_of(normalize_feature(feature["feature"]), feature.get("length"))
    if kind == "LargeList":
        return large_list_of(normalize_feature(feature["feature"]))
    if kind == "Value":
        dtype = feature.get("dtype")
        extra = {k: v for k, v in feature.items() if k not in ("dtype", "_type") and v is not None}
        return {"dtype": _DTYPE_ALIASES.get(dtype, dtype), **extra, "_type": "Value"}
    if kind == "ClassLabel":
        names = feature.get("names")
        if names is None:
            if feature.get("num_classes") is None:
                raise SchemaError("ClassLabel needs names (names_file cannot be read here)")
            names = [str(i) for i in range(int(feature["num_classes"]))]
        extra = {k: v for k, v in feature.items() if k not in ("names", "num_classes", "names_file", "_type")}
        return {"names": list(names), **{k: v for k, v in extra.items() if v is not None}, "_type": "ClassLabel"}
    return {k: v for k, v in feature.items() if not (k == "id" and v is None)}


def normalize_features(features: Mapping[str, Feature]) -> Features:
    """Rewrite top-level features in the 4.x/5.x spelling; order of columns and fields is kept."""
    if not isinstance(features, Mapping):
        raise SchemaError(f"features must be a mapping of column names to features, got {type(features).__name__}")
    return {name: normalize_feature(f) for name, f in features.items()}


# --- features → Arrow ----------------------------------------------------------------------------------


def feature_type(feature: Feature) -> pa.DataType:
    """The Arrow storage type of one feature (raises :class:`SchemaError` for an invalid one)."""
    kind = feature_kind(feature)
    if kind == "list":
        return feature_type(normalize_feature(feature))
    if kind == "struct":
        return pa.struct([pa.field(name, feature_type(sub)) for name, sub in feature.items()])
    if kind == "Value":
        return arrow_dtype(feature.get("dtype", ""))
    if kind == "ClassLabel":
        return pa.int64()
    if kind in ("List", "Sequence"):
        norm = normalize_feature(feature)
        if feature_kind(norm) == "struct":
            return feature_type(norm)
        length = norm.get("length")
        return pa.list_(feature_type(norm["feature"]), length if length is not None else -1)
    if kind == "LargeList":
        return pa.large_list(feature_type(feature["feature"]))
    if kind in MEDIA_TYPES:
        return MEDIA_STORAGE
    if kind == "Translation":
        return pa.struct([pa.field(lang, pa.string()) for lang in sorted(feature["languages"])])
    if kind == "TranslationVariableLanguages":
        return pa.struct([pa.field("language", pa.list_(pa.string())), pa.field("translation", pa.list_(pa.string()))])
    if kind == "Json":
        return pa.json_()
    if kind in UNSUPPORTED_TYPES:
        raise SchemaError(f"feature type {kind!r} (an Arrow extension type of datasets) is not supported")
    raise SchemaError(f"feature type {kind!r} not found")


def features_type(features: Mapping[str, Feature]) -> pa.StructType:
    """The Arrow struct type of top-level features, checking every feature on the way."""
    if not isinstance(features, Mapping):
        raise SchemaError(f"features must be a mapping of column names to features, got {type(features).__name__}")
    fields = []
    for name, f in features.items():
        try:
            fields.append(pa.field(name, feature_type(f)))
        except SchemaError as exc:
            raise exc.with_context(column=name)
    return pa.struct(fields)


def schema_metadata(features: Mapping[str, Feature]) -> dict[bytes, bytes]:
    """The exact ``huggingface`` schema metadata ``datasets`` writes for ``features``."""
    return {METADATA_KEY: json.dumps({"info": {"features": dict(features)}}).encode()}


def features_schema(features: Mapping[str, Feature]) -> pa.Schema:
    """The Arrow schema ``datasets`` writes: nullable fields and the ``huggingface`` metadata."""
    return pa.schema(list(features_type(features)), metadata=schema_metadata(features))


# --- Arrow → features ----------------------------------------------------------------------------------


def infer_feature(arrow_type: pa.DataType) -> Feature:
    """The feature ``datasets`` infers for an Arrow type without metadata."""
    t = arrow_type
    if pa.types.is_struct(t):
        return {t.field(i).name: infer_feature(t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_fixed_size_list(t):
        return list_of(infer_feature(t.value_type), t.list_size)
    if pa.types.is_list(t):
        return list_of(infer_feature(t.value_type))
    if pa.types.is_large_list(t):
        return large_list_of(infer_feature(t.value_type))
    if isinstance(t, pa.JsonType):
        return {"_type": "Json"}
    if isinstance(t, pa.BaseExtensionType):
        raise SchemaError(f"Arrow extension type {t} has no Hugging Face feature")
    return value(dtype_name(t))


def loose_type(arrow_type: pa.DataType) -> pa.DataType:
    """A type with nullable fields, ``item`` list children and dictionaries decoded (for comparisons)."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return loose_type(t.value_type)
    if pa.types.is_struct(t):
        return pa.struct([pa.field(t.field(i).name, loose_type(t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_fixed_size_list(t):
        return pa.list_(loose_type(t.value_type), t.list_size)
    if pa.types.is_list(t):
        return pa.list_(loose_type(t.value_type))
    if pa.types.is_large_list(t):
        return pa.large_list(loose_type(t.value_type))
    return t


def metadata_features(schema: pa.Schema) -> Features | None:
    """The features in a schema's ``huggingface`` metadata (normalized), or ``None`` without one.

    Metadata that is there but malformed (not JSON, no ``info.features`` mapping, a feature that
    cannot be read) raises :class:`SchemaError`: the ClassLabel names and media types it should
    carry are not silently replaced by features inferred from the Arrow types.
    """
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        return None
    try:
        parsed = json.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(f"malformed huggingface schema metadata: not JSON ({exc})") from None
    info = parsed.get("info") if isinstance(parsed, dict) else None
    features = info.get("features") if isinstance(info, dict) else None
    if not isinstance(features, Mapping):
        raise SchemaError(
            "malformed huggingface schema metadata: no {\"info\": {\"features\": {...}}} mapping",
            hint=f"got {raw[:200].decode(errors='replace')!r}",
        )
    try:
        return normalize_features(features)
    except SchemaError as exc:
        raise SchemaError(f"malformed huggingface schema metadata: {exc.reason}", column=exc.column, hint=exc.hint) from None


def class_label_names(schema: pa.Schema, column: str) -> list[str] | None:
    """The ClassLabel names of top-level ``column`` in ``schema``'s ``huggingface`` metadata, or None.

    A ClassLabel written with ``num_classes`` only has names ``"0"``, ``"1"``, … as ``datasets`` gives it.
    """
    feature = (metadata_features(schema) or {}).get(column)
    if not isinstance(feature, dict) or feature.get("_type") != "ClassLabel":
        return None
    return list(feature["names"]) or None


def with_features(table: pa.Table, known: Mapping[str, Feature] | None = None) -> pa.Table:
    """``table`` with a ``huggingface`` metadata block for every column (other metadata kept).

    A column's feature is ``known[column]``, else its own metadata's (when it matches the Arrow
    type), else inferred from the Arrow type.
    """
    features = features_from_schema(table.schema)
    features.update({name: f for name, f in (known or {}).items() if name in features})
    metadata = dict(table.schema.metadata or {})
    metadata.update(schema_metadata(features))
    return table.replace_schema_metadata(metadata)


def features_from_schema(schema: pa.Schema) -> Features:
    """Features of an Arrow schema: the ``huggingface`` metadata for each column whose Arrow type it
    matches (so ClassLabel names and Image survive), inference from the Arrow type otherwise."""
    meta = metadata_features(schema) or {}
    out: Features = {}
    for field in schema:
        feature = meta.get(field.name)
        if feature is not None and feature_matches(feature, field.type):
            out[field.name] = feature
        else:
            try:
                out[field.name] = infer_feature(field.type)
            except SchemaError as exc:
                raise exc.with_context(column=field.name)
    return out


def feature_matches(feature: Feature, arrow_type: pa.DataType) -> bool:
    """Whether ``feature`` stores as ``arrow_type`` (ignoring nullability and list child names)."""
    try:
        return loose_type(feature_type(feature)).equals(loose_type(arrow_type))
    except (SchemaError, KeyError, TypeError, ValueError):
        return False


def align_features(features: Mapping[str, Feature], schema: pa.Schema) -> Features:
    """Reorder ``features`` (columns and struct fields) to the order of ``schema``.

    Raises :class:`SchemaError` ("Keys mismatch") when the column or field names differ.
    """

    def align(feature: Feature, t: pa.DataType, where: str) -> Feature:
        kind = feature_kind(feature)
        if kind == "struct" and pa.types.is_struct(t):
            names = [t.field(i).name for i in range(t.num_fields)]
            if set(names) != set(feature):
                raise SchemaError(f"Keys mismatch: features {sorted(feature)} vs data {sorted(names)}", column=where)
            return {n: align(feature[n], t.field(n).type, f"{where}.{n}") for n in names}
        if kind in ("List", "LargeList") and (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)):
            return {**feature, "feature": align(feature["feature"], t.value_type, where)}
        return feature

    if set(features) != set(schema.names):
        raise SchemaError(
            f"Keys mismatch: features {sorted(features)} vs data columns {sorted(schema.names)}"
        )
    return {f.name: align(features[f.name], f.type, f.name) for f in schema}


# --- walking features ----------------------------------------------------------------------------------


def iter_features(feature: Feature) -> Iterable[Feature]:
    """Every feature nested in ``feature`` (itself first)."""
    yield feature
    kind = feature_kind(feature)
    if kind == "struct":
        for sub in feature.values():
            yield from iter_features(sub)
    elif kind == "list":
        yield from iter_features(feature[0])
    elif kind in ("List", "LargeList", "Sequence"):
        yield from iter_features(feature["feature"])


def batch_rows(features: Mapping[str, Feature]) -> int:
    """Rows per record batch ``datasets`` writes: 100 with Image/Audio/binary, 10 with Video, else 1000."""
    size = DEFAULT_BATCH_ROWS
    for f in iter_features(dict(features)):
        kind = feature_kind(f)
        if kind in BATCH_ROWS:
            size = min(size, BATCH_ROWS[kind])
        elif kind == "Value" and f.get("dtype") == "binary":
            size = min(size, BINARY_BATCH_ROWS)
    return size


def requires_decoding(feature: Feature, ignore_decode_attribute: bool = False) -> bool:
    """Mirror of ``datasets.features.require_decoding`` on JSON features."""
    kind = feature_kind(feature)
    if kind == "struct":
        return any(requires_decoding(f) for f in feature.values())
    if kind == "list":
        return requires_decoding(feature[0])
    if kind in ("List", "LargeList"):
        return requires_decoding(feature["feature"])
    if kind in DECODABLE_TYPES:
        return True if ignore_decode_attribute else bool(feature.get("decode", True))
    return False


def has_media(features: Mapping[str, Feature]) -> bool:
    """Whether any (nested) feature is a media type stored as ``struct<bytes, path>``."""
    return any(feature_kind(f) in MEDIA_TYPES for f in iter_features(dict(features)))
