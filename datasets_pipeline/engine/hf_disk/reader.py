"""Reading the ``save_to_disk`` layout (any ``datasets`` version's, or ours): shards memory-mapped
and concatenated in ``_data_files`` order, features restored, a published folder resolved once."""

from __future__ import annotations

import os
from typing import Callable, TypeVar

import pyarrow as pa

from datasets_pipeline.engine.hf_disk.folder import Folder
from datasets_pipeline.engine.hf_disk.layout import DATASET_DICT_JSON, INFO_JSON, STATE_JSON, check_split_name
from datasets_pipeline.engine.hf_features import (
    Features,
    align_features,
    features_from_schema,
    features_schema,
    loose_type,
    normalize_features,
)
from datasets_pipeline.engine.versioned_dir import resolve_dir
from datasets_pipeline.errors import FormatError, SchemaError

T = TypeVar("T")


def read_published(path: str | os.PathLike, read: Callable[[Folder], T]) -> T:
    """``read`` the folder published at ``path`` (resolved once, so files of two versions never mix).

    If a concurrent publication removed that version mid-read, the newly published one is read.
    """
    for _ in range(3):
        folder = resolve_dir(path)
        try:
            return read(Folder(folder))
        except (FileNotFoundError, FormatError):
            if resolve_dir(path) == folder:
                raise
    return read(Folder(resolve_dir(path)))


def dataset_dict_splits(path: str | os.PathLike) -> list[str]:
    """The split names of a DatasetDict folder, in saved order."""
    return read_published(path, _splits)


def _splits(root: Folder) -> list[str]:
    try:
        data = root.read_json(DATASET_DICT_JSON)
    except FileNotFoundError:
        raise FormatError(
            f"no {DATASET_DICT_JSON}: not a DatasetDict folder", file=root.url,
            hint="a single Dataset folder (state.json + dataset_info.json) loads with load_from_disk()",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("splits"), list):
        raise FormatError("dataset_dict.json has no 'splits' list", file=root.join(DATASET_DICT_JSON))
    return [check_split_name(s) for s in data["splits"]]


def load_dataset_dict(path: str | os.PathLike) -> dict[str, pa.Table]:
    """Every split of a DatasetDict folder (any ``datasets`` version's ``save_to_disk`` or ours)."""
    return read_published(path, lambda root: {name: _load(root.child(name), split=name) for name in _splits(root)})


def load_from_disk(path: str | os.PathLike) -> pa.Table:
    """A single ``Dataset`` folder as one table (``datasets.Dataset.load_from_disk``), shards
    memory-mapped and concatenated in order; a DatasetDict folder is an error (use
    :func:`load_dataset_dict`).

    The schema carries the ``huggingface`` metadata of the folder's features (ClassLabel names,
    Image, …), so :func:`~datasets_pipeline.engine.hf_features.features_from_schema` recovers them.
    """
    return read_published(path, _load)


def read_features(path: str | os.PathLike, split: str | None = None) -> Features:
    """The features of a ``Dataset`` folder, or of one split (default: the first) of a DatasetDict."""
    return read_published(path, lambda folder: _read_features(folder, split))


def _read_features(folder: Folder, split: str | None) -> Features:
    if folder.exists(DATASET_DICT_JSON) and not folder.exists(STATE_JSON):
        names = _splits(folder)
        if not names:
            raise FormatError("the DatasetDict has no splits", file=folder.url)
        folder = folder.child(split if split is not None else names[0])
    info_features = _info_features(folder)
    if info_features is not None:
        return info_features
    files = _data_files(folder)
    if not files:
        raise FormatError("no features in dataset_info.json and no data files", file=folder.url)
    return features_from_schema(folder.read_arrow(files[0]).schema)


def _info_features(folder: Folder) -> Features | None:
    try:
        info = folder.read_json(INFO_JSON)
    except FileNotFoundError:
        raise FormatError(f"no {INFO_JSON}: not a Dataset folder", file=folder.url) from None
    features = info.get("features") if isinstance(info, dict) else None
    if not features:
        return None
    try:
        return normalize_features(features)
    except SchemaError as exc:
        raise exc.with_context(file=folder.join(INFO_JSON))


def _data_files(folder: Folder) -> list[str]:
    try:
        state = folder.read_json(STATE_JSON)
    except FileNotFoundError:
        raise FormatError(f"no {STATE_JSON}: not a Dataset folder", file=folder.url) from None
    try:
        names = [entry["filename"] for entry in state["_data_files"]]
    except (KeyError, TypeError):
        raise FormatError("state.json has no valid '_data_files' list", file=folder.join(STATE_JSON)) from None
    for name in names:
        if not isinstance(name, str) or not name or name.startswith("/") or ".." in name.split("/"):
            raise FormatError(f"data file name {name!r} is not inside the folder", file=folder.join(STATE_JSON))
    return names


def _load(folder: Folder, split: str | None = None) -> pa.Table:
    files = _data_files(folder)
    info_features = _info_features(folder)
    tables = [folder.read_arrow(name) for name in files]
    if not tables:
        if info_features is None:
            raise FormatError("no data files and no features to build an empty table", file=folder.url, split=split)
        return features_schema(info_features).empty_table()
    first = tables[0].schema
    plain = first.remove_metadata()
    for name, t in zip(files[1:], tables[1:]):
        if not t.schema.remove_metadata().equals(plain):
            raise SchemaError(f"shard schema {t.schema.remove_metadata()} differs from {plain}",
                              file=folder.join(name), split=split)  # fmt: skip
    tables = [t.replace_schema_metadata(None) for t in tables]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    features = info_features if info_features is not None else features_from_schema(first)
    try:
        features = align_features(features, table.schema)
    except SchemaError as exc:
        raise exc.with_context(file=folder.url, split=split)
    target = features_schema(features)
    columns = []
    for col, want in zip(table.columns, target):
        have = loose_type(col.type)
        if not have.equals(loose_type(want.type)):
            raise SchemaError(
                f"External features info don't match the dataset: {want.type} vs {col.type}",
                file=folder.url, split=split, column=want.name,
            )  # fmt: skip
        columns.append(col.cast(have) if not have.equals(col.type) and _has_dictionary(col.type) else col)
    fields = [pa.field(f.name, c.type, nullable=f.nullable) for f, c in zip(table.schema, columns)]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=target.metadata))


def _has_dictionary(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_dictionary(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _has_dictionary(t.value_type)
    return False
