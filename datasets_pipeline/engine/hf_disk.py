"""The Hugging Face ``save_to_disk`` folder layout, written and read with pyarrow alone.

Written exactly as ``datasets`` 5.x writes it (``datasets.load_from_disk`` opens it; the shard files
are byte-identical to the library's for the same table)::

    dataset_dict.json                      {"splits": [...]}, written first (DatasetDict only)
    <split>/data-00000-of-0000N.arrow      Arrow IPC *stream* files, one per shard
    <split>/state.json                     the seven state keys, indent=2, sorted
    <split>/dataset_info.json              citation/description/features/homepage/license, top keys sorted

Shards: ``N = min(rows, int(nbytes / max_shard_size) + 1)`` (decimal ``"MB"``), contiguous, the
first ``rows % N`` shards one row longer; a 0-row split is still written as one shard, so it loads
(the library writes none and then fails to load it). Inside a shard, rows go in chunks of
``min(1000, rows * 100MB // nbytes)`` each written as record batches of at most 1000 rows (100 with
Image/Audio/binary features, 10 with Video). Media structs get their local ``path`` cut to the
basename and path-only local files embedded, as the library does.

Write chunks are cut exactly as the library's ``table_iter`` cuts them and media buffers are
rebuilt exact-size, because the IPC writer pads a sliced buffer with the bytes that follow it: that
is what makes the files byte-identical. Shards are written by a thread pool (``pyarrow.cpu_count()``
threads, one chunk in memory each) and hashed (xxh3-128) on their way to the file.

``_fingerprint`` is the xxh3-64 of the xxh3-128 digests of the shard files, in order: the same
data, features and sharding give the same fingerprint wherever the folder lives.

Saving writes into ``path`` in place; wrap it in :func:`datasets_pipeline.engine.versioned_dir.publish_dir`
to replace a published folder atomically. Loading resolves such a folder once, memory-maps every
shard (zero copy; remote fsspec shards are read into memory, never copied to a temp folder) and
concatenates them in ``_data_files`` order, with no per-row Python.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar, Union

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from datasets_pipeline.engine.hf_features import (
    Features,
    SIZED_MEDIA_TYPES,
    MEDIA_STORAGE,
    MEDIA_TYPES,
    align_features,
    batch_rows,
    feature_kind,
    features_from_schema,
    features_schema,
    has_media,
    loose_type,
    normalize_features,
    requires_decoding,
)
from datasets_pipeline.engine.chunked_take import ChunkedTake
from datasets_pipeline.engine.gather import gather
from datasets_pipeline.engine.writeback import Writeback
from datasets_pipeline.engine.versioned_dir import resolve_dir
from datasets_pipeline.errors import FormatError, SchemaError, UnsafePathError

DATASET_DICT_JSON = "dataset_dict.json"
STATE_JSON = "state.json"
INFO_JSON = "dataset_info.json"
DEFAULT_MAX_SHARD_SIZE = "500MB"
MAX_CHUNK_BYTES = 100_000_000  # datasets.config.MAX_ROW_GROUP_SIZE
MAX_CHUNK_ROWS = 1000  # datasets.config.DEFAULT_MAX_BATCH_SIZE
INFO_KEYS = frozenset({
    "builder_name", "citation", "config_name", "dataset_name", "dataset_size", "description",
    "download_checksums", "download_size", "homepage", "license", "post_processed",
    "post_processing_size", "size_in_bytes", "splits", "supervised_keys", "version",
})  # fmt: skip
T = TypeVar("T")
_SHARD_RE = re.compile(r"data-\d{5,}-of-\d{5,}\.arrow")
_SCHEME_RE = r"^[A-Za-z][A-Za-z0-9+.\-]*:"  # what urlparse calls a scheme: such paths are not local

StreamLike = Union[pa.RecordBatchReader, Iterable[pa.RecordBatch], str, os.PathLike]
"""A split given as a stream: record batches (spooled to a memory-mapped temporary file) or the
path of an Arrow IPC file (file or stream format, memory-mapped)."""
Rows = Union[pa.Table, tuple[pa.Table, np.ndarray], StreamLike]
"""A split: a table, ``(table, indices)`` (its rows in ``indices`` order, gathered chunk by chunk,
like a ``datasets`` indices mapping after ``shuffle``/``select``), or a :data:`StreamLike`."""


@dataclass(frozen=True)
class SplitStats:
    """What one saved split (a ``Dataset`` folder) holds."""

    path: str
    split: str | None
    num_rows: int
    num_bytes: int  # total size of the shard files
    shard_rows: tuple[int, ...]
    files: tuple[str, ...]
    fingerprint: str
    features: Features = field(repr=False)


@dataclass(frozen=True)
class DatasetDictStats:
    """What one saved DatasetDict folder holds, split by split in save order."""

    path: str
    splits: dict[str, SplitStats]

    @property
    def num_rows(self) -> int:
        return sum(s.num_rows for s in self.splits.values())

    @property
    def num_bytes(self) -> int:
        return sum(s.num_bytes for s in self.splits.values())


# --- sizes and shards ---------------------------------------------------------------------------------


def parse_size(size: int | str) -> int:
    """Bytes in ``"500MB"`` (10**6), ``"1MiB"`` (2**20), ``"8Mb"`` (bits), or an int; as ``datasets``."""
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    if not isinstance(size, str):
        raise ValueError(f"`size={size!r}` is not in a valid format. Use an integer followed by the unit, e.g., '5GB'.")
    upper = size.upper()
    for unit, factor in (("PIB", 2**50), ("TIB", 2**40), ("GIB", 2**30), ("MIB", 2**20), ("KIB", 2**10)):
        if upper.endswith(unit):
            return int(size[:-3]) * factor
    for unit, factor in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if upper.endswith(unit):
            value = int(size[:-2]) * factor
            return value // 8 if size.endswith("b") else value
    raise ValueError(f"`size={size}` is not in a valid format. Use an integer followed by the unit, e.g., '5GB'.")


def shard_count(num_rows: int, nbytes: int, max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE) -> int:
    """``min(rows, max(int(nbytes / max_shard_size) + 1, 1))``, but at least one shard (0-row splits)."""
    n = max(int(nbytes / parse_size(max_shard_size)) + 1, 1)
    return max(min(num_rows, n), 1)


def shard_bounds(num_rows: int, num_shards: int) -> np.ndarray:
    """Row offsets ``[0, …, num_rows]`` of ``num_shards`` contiguous shards (first ``n % N`` longer)."""
    div, mod = divmod(num_rows, num_shards)
    i = np.arange(num_shards + 1, dtype=np.int64)
    return div * i + np.minimum(i, mod)


def chunk_rows(num_rows: int, nbytes: int) -> int:
    """Rows per write chunk: ``min(1000, max(1, rows * 100MB // nbytes))`` (1000 for 0 bytes)."""
    if nbytes <= 0:
        return MAX_CHUNK_ROWS
    return min(MAX_CHUNK_ROWS, max(1, num_rows * MAX_CHUNK_BYTES // nbytes))


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


# --- media embedding -----------------------------------------------------------------------------------


def _embed(array: pa.Array, feature: Any) -> pa.Array:
    """Embed media as ``save_to_disk`` does: read path-only local files, cut local paths to basenames."""
    kind = feature_kind(feature)
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    if kind in MEDIA_TYPES:
        bytes_, path = array.field("bytes"), array.field("path")
        local = pc.invert(pc.match_substring_regex(path, _SCHEME_RE))
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
        children = [_embed(array.field(n), feature[n]) for n in names]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(array.type), mask=mask)
    if kind in ("List", "LargeList") and (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        array = pa.concat_arrays([array])  # drop the slice offset so values line up with offsets
        values = _embed(array.values, feature["feature"])
        mask = array.is_null() if array.null_count else None
        return type(array).from_arrays(array.offsets, values, type=array.type, mask=mask)
    return array


def _read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _embed_table(table: pa.Table, features: Mapping[str, Any]) -> pa.Table:
    columns = []
    for name, feature in features.items():
        col = table.column(name)
        if has_media({name: feature}):
            col = pa.chunked_array([_embed(c, feature) for c in col.chunks], type=col.type)
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=table.schema)


# --- folders (local or fsspec) -----------------------------------------------------------------------------


class _Folder:
    """A local folder or an fsspec URL; files are named relative to it."""

    def __init__(self, path: str | os.PathLike) -> None:
        text = os.fspath(path)
        self.remote = "://" in text and not text.startswith("file://")
        if self.remote:
            self.fs, self.root = fsspec.core.url_to_fs(text)
            self.root = self.root.rstrip("/")
            self.url = self.fs.unstrip_protocol(self.root)
        else:
            self.root = text.removeprefix("file://")
            self.url = self.root

    def join(self, name: str) -> str:
        return posixpath.join(self.root, name) if self.remote else os.path.join(self.root, name)

    def child(self, name: str) -> "_Folder":
        return _Folder(posixpath.join(self.url, name) if self.remote else os.path.join(self.root, name))

    def makedirs(self) -> None:
        if self.remote:
            self.fs.makedirs(self.root, exist_ok=True)
        else:
            os.makedirs(self.root, exist_ok=True)

    def exists(self, name: str) -> bool:
        return self.fs.isfile(self.join(name)) if self.remote else os.path.isfile(self.join(name))

    def write_text(self, name: str, text: str) -> None:
        if self.remote:
            self.fs.pipe_file(self.join(name), text.encode("utf-8"))
        else:
            with open(self.join(name), "w", encoding="utf-8") as fh:
                fh.write(text)

    def read_json(self, name: str) -> Any:
        try:
            if self.remote:
                raw = self.fs.cat_file(self.join(name))
            else:
                with open(self.join(name), "rb") as fh:
                    raw = fh.read()
            return json.loads(raw)
        except FileNotFoundError:
            raise
        except ValueError as exc:
            raise FormatError(f"invalid JSON ({exc})", file=self.join(name)) from None

    def read_arrow(self, name: str) -> pa.Table:
        """An Arrow IPC stream (or file) as a table: memory-mapped locally, in memory remotely."""
        if self.remote:
            source: Any = pa.BufferReader(pa.py_buffer(self.fs.cat_file(self.join(name))))
        else:
            source = pa.memory_map(self.join(name), "r")
        try:
            return _read_ipc(source)
        except pa.ArrowInvalid as exc:
            raise FormatError(f"not an Arrow IPC stream ({exc})", file=self.join(name)) from None

    def listdir(self) -> list[str]:
        if self.remote:
            if not self.fs.exists(self.root):
                return []
            return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self.root, detail=False)]
        return os.listdir(self.root) if os.path.isdir(self.root) else []

    def remove(self, name: str) -> None:
        if self.remote:
            self.fs.rm_file(self.join(name))
        else:
            os.remove(self.join(name))


def _read_ipc(source: pa.NativeFile) -> pa.Table:
    magic = source.read(6)
    source.seek(0)
    if magic == b"ARROW1":
        return pa.ipc.open_file(source).read_all()
    return pa.ipc.open_stream(source).read_all()


class _HashingFile:
    """A write-only file object that feeds everything written to an xxh3 hasher."""

    def __init__(self, fh: Any, hasher: Any) -> None:
        self.fh, self.hasher, self.pos, self.closed = fh, hasher, 0, False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hasher.update(view)
        self.fh.write(view)
        self.pos += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True


# --- saving ---------------------------------------------------------------------------------------------


def save_dataset_dict(
    splits: Mapping[str, Rows],
    path: str | os.PathLike,
    *,
    max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE,
    num_shards: Mapping[str, int] | None = None,
    features: Mapping[str, Any] | None = None,
    split_names: Mapping[str, str | None] | None = None,
    info: Mapping[str, Any] | None = None,
    fingerprints: Mapping[str, str] | None = None,
    durable: bool = False,
) -> DatasetDictStats:
    """Write a DatasetDict folder that ``datasets.load_from_disk`` opens.

    ``splits`` are saved in their order; each is a table, ``(table, indices)`` (rows gathered in
    ``indices`` order, chunk by chunk: a shuffled or selected split without materializing it) or a
    stream (spooled to a memory-mapped temporary file, as shards need the split's size). ``num_shards`` (a mapping, as in ``datasets``) fixes the shard
    count of the splits it names and takes precedence over ``max_shard_size``. ``features`` applies to
    every split (default: each table's features, from its ``huggingface`` metadata or its Arrow types).
    ``split_names`` gives the ``_split`` recorded in each ``state.json`` (default: the split key; ``None``
    writes ``null``). ``info`` adds ``DatasetInfo`` keys (description, license, …) to ``dataset_info.json``.
    ``fingerprints`` gives a split's ``_fingerprint`` when the caller already knows a content hash (the
    cookbook's uids): its shards are then not hashed while written. Shards are written by up to ``pyarrow.cpu_count()`` threads, one record-batch chunk in memory each.
    ``durable=True`` sends each local shard to disk while it is written and fsyncs it when done (the
    pipeline's DatasetDict assets); the default leaves the pages to the kernel, as ``datasets`` does.
    """
    if num_shards is not None and not isinstance(num_shards, Mapping):
        raise ValueError("Please provide one `num_shards` per dataset in the dataset dictionary, e.g. {'train': 128, 'test': 4}")
    unknown = set(num_shards or {}) - set(splits)
    if unknown:
        raise ValueError(f"num_shards names splits that are not saved: {sorted(unknown)}")
    keys = list(splits)
    names = [_check_split_name(k) for k in keys]
    extra_info = _check_info(info)
    root = _Folder(path)
    root.makedirs()
    root.write_text(DATASET_DICT_JSON, json.dumps({"splits": names}))
    plans: list[_Plan] = []
    try:
        for key, name in zip(keys, names):
            folder = root.child(name)
            folder.makedirs()
            split = split_names.get(key, name) if split_names is not None else name
            shards = (num_shards or {}).get(key)
            plans.append(_plan(splits[key], folder, max_shard_size, shards, features, split, extra_info))
            plans[-1].fingerprint = (fingerprints or {}).get(key)
            plans[-1].durable = durable
        stats = _run(plans)
    finally:
        _unspool(plans)
    return DatasetDictStats(root.url, dict(zip(names, stats)))


def save_dataset(
    table: Rows,
    path: str | os.PathLike,
    *,
    max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE,
    num_shards: int | None = None,
    features: Mapping[str, Any] | None = None,
    split: str | None = None,
    info: Mapping[str, Any] | None = None,
    durable: bool = False,
) -> SplitStats:
    """Write a single ``Dataset`` folder (shards, ``state.json``, ``dataset_info.json``) at ``path``
    (``durable`` as for :func:`save_dataset_dict`)."""
    extra_info = _check_info(info)
    folder = _Folder(path)
    folder.makedirs()
    plans: list[_Plan] = []
    try:
        plans.append(_plan(table, folder, max_shard_size, num_shards, features, split, extra_info))
        plans[-1].durable = durable
        return _run(plans)[0]
    finally:
        _unspool(plans)


def _check_split_name(name: Any) -> str:
    text = str(name)
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\x00" in text:
        raise UnsafePathError(f"split name {text!r} is not a plain folder name", split=text)
    return text


def _check_info(info: Mapping[str, Any] | None) -> dict[str, Any]:
    extra = dict(info or {})
    bad = set(extra) - INFO_KEYS
    if bad:
        raise ValueError(f"unknown dataset_info keys {sorted(bad)} (features go in `features=`)")
    return extra


def _as_table(source: Any, folder: _Folder, features: Mapping[str, Any] | None) -> tuple[pa.Table, str | None]:
    """The split as a table; streams are spooled to a memory-mapped file (unlinked once saved)."""
    if isinstance(source, pa.Table):
        return source, None
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source]), None
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        return _Folder(posixpath.dirname(text) if "://" in text else os.path.dirname(text) or ".").read_arrow(
            posixpath.basename(text) if "://" in text else os.path.basename(text)
        ), None
    reader = source if isinstance(source, pa.RecordBatchReader) else iter(source)
    first = None if isinstance(reader, pa.RecordBatchReader) else next(reader, None)
    if isinstance(reader, pa.RecordBatchReader):
        schema = reader.schema
    elif first is not None:
        schema = first.schema
    elif features is not None:
        return features_schema(normalize_features(features)).empty_table(), None
    else:
        raise SchemaError("an empty stream of record batches needs `features` to be saved")
    spool_dir = tempfile.gettempdir() if folder.remote else folder.root
    fd, spool = tempfile.mkstemp(prefix=".spool-", suffix=".arrow", dir=spool_dir)
    os.close(fd)
    try:
        with pa.OSFile(spool, "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            if first is not None:
                writer.write_batch(first)
            for batch in reader:
                writer.write_batch(batch)
        return _read_ipc(pa.memory_map(spool, "r")), spool
    except BaseException:
        os.unlink(spool)
        raise


@dataclass
class _Plan:
    """One split to write: its table cast plan, shard bounds and chunking."""

    folder: _Folder
    table: pa.Table
    indices: np.ndarray | None
    spool: str | None
    features: Features
    schema: pa.Schema
    bounds: np.ndarray
    chunk_rows: int
    batch_rows: int
    needs_cast: bool
    media: bool
    split: str | None
    extra_info: dict[str, Any]
    fingerprint: str | None = None  # given by the caller: shards are not hashed
    durable: bool = False  # local shards written back while written and fsynced
    take: ChunkedTake | None = None  # the gatherer of an indices split, shared by its shards

    @property
    def files(self) -> list[str]:
        n = len(self.bounds) - 1
        return [f"data-{i:05d}-of-{n:05d}.arrow" for i in range(n)]


def _plan(
    source: Rows,
    folder: _Folder,
    max_shard_size: int | str,
    num_shards: int | None,
    features: Mapping[str, Any] | None,
    split: str | None,
    extra_info: dict[str, Any],
) -> _Plan:
    indices = None
    if isinstance(source, tuple):
        source, indices = source
        if not isinstance(source, pa.Table):
            raise TypeError("a (table, indices) split needs a pyarrow.Table")
        indices = _check_indices(indices, source.num_rows)
    table, spool = _as_table(source, folder, features)
    try:
        feats = normalize_features(features) if features is not None else features_from_schema(table.schema)
        schema = features_schema(feats)
        _check_columns(table.schema, schema)
        if table.schema.names != schema.names:
            table = table.select(schema.names)
        num_rows = table.num_rows if indices is None else len(indices)
        nbytes = estimate_nbytes(table, feats, indices)
        if num_shards is None:
            n = shard_count(num_rows, nbytes, max_shard_size)
        else:
            n = int(num_shards)
            if n < 1 or n > max(num_rows, 1):
                raise ValueError(f"num_shards={n} must be between 1 and the number of rows ({num_rows})")
    except BaseException:
        if spool is not None:
            os.unlink(spool)
        raise
    return _Plan(
        folder=folder,
        table=table,
        indices=indices,
        spool=spool,
        features=feats,
        schema=schema,
        bounds=shard_bounds(num_rows, n),
        chunk_rows=chunk_rows(num_rows, nbytes),
        batch_rows=batch_rows(feats),
        needs_cast=not table.schema.equals(schema, check_metadata=False),
        media=has_media(feats),
        split=None if split is None else str(split),
        extra_info=extra_info,
        take=None if indices is None else ChunkedTake(table),
    )


def _check_indices(indices: Any, num_rows: int) -> np.ndarray:
    out = np.asarray(indices)
    if out.ndim != 1 or (out.size and not np.issubdtype(out.dtype, np.integer)):
        raise TypeError("indices must be a one-dimensional array of integers")
    out = out.astype(np.int64, copy=False)
    if out.size and (out.min() < 0 or out.max() >= num_rows):
        raise IndexError(f"indices out of range for a table of {num_rows} rows")
    return out


def _unspool(plans: list[_Plan]) -> None:
    for plan in plans:
        if plan.spool is not None:
            os.unlink(plan.spool)
            plan.spool = None


def _run(plans: list[_Plan]) -> list[SplitStats]:
    """Write every shard of every plan (in a thread pool), then each split's JSON files in order."""
    jobs = [(plan, i) for plan in plans for i in range(len(plan.bounds) - 1)]
    workers = max(1, min(pa.cpu_count(), len(jobs)))
    if workers == 1:
        results = [_write_shard(plan, i) for plan, i in jobs]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="hf-disk-shard") as pool:
            results = list(pool.map(lambda job: _write_shard(*job), jobs))
    done = dict(zip(((id(p), i) for p, i in jobs), results))
    return [_finish(plan, [done[(id(plan), i)] for i in range(len(plan.bounds) - 1)]) for plan in plans]


def _finish(plan: _Plan, shards: list[tuple[int, bytes]]) -> SplitStats:
    """Remove stale shards and write ``state.json`` and ``dataset_info.json`` of a written split."""
    folder, files = plan.folder, plan.files
    for stale in folder.listdir():
        if _SHARD_RE.fullmatch(stale) and stale not in files:
            folder.remove(stale)
    fingerprint = plan.fingerprint or xxhash.xxh3_64(b"".join(digest for _, digest in shards)).hexdigest()
    state = {
        "_data_files": [{"filename": f} for f in files],
        "_fingerprint": fingerprint,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": plan.split,
    }
    folder.write_text(STATE_JSON, json.dumps(state, indent=2, sort_keys=True))
    info = {"citation": "", "description": "", "homepage": "", "license": "", **plan.extra_info, "features": plan.features}
    folder.write_text(INFO_JSON, json.dumps({k: info[k] for k in sorted(info)}, indent=2))
    return SplitStats(
        path=folder.url,
        split=plan.split,
        num_rows=int(plan.bounds[-1]),
        num_bytes=sum(size for size, _ in shards),
        shard_rows=tuple(int(x) for x in np.diff(plan.bounds)),
        files=tuple(files),
        fingerprint=fingerprint,
        features=plan.features,
    )


def iter_chunks(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    """Sub-tables of ``rows`` rows, cut as ``datasets.table.table_iter`` cuts them.

    The pieces of a sub-table keep the library's boundaries (record batches of the input split at
    ``rows``), so that combining them yields the very buffers the library writes.
    """
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in table.to_reader(max_chunksize=rows):
        n = batch.num_rows
        if n == 0:
            continue
        if size + n < rows:
            pending.append(batch)
            size += n
        elif size + n == rows:
            pending.append(batch)
            yield pa.Table.from_batches(pending)
            pending, size = [], 0
        else:
            cut = rows - size
            pending.append(batch.slice(0, cut))
            yield pa.Table.from_batches(pending)
            pending, size = [batch.slice(cut, n - cut)], n - cut
    if pending:
        yield pa.Table.from_batches(pending)


def _check_columns(have: pa.Schema, want: pa.Schema) -> None:
    missing = [n for n in want.names if n not in have.names]
    extra = [n for n in have.names if n not in want.names]
    if missing or extra:
        raise SchemaError(f"features and table columns differ: missing {missing}, extra {extra}")


def _prepare(chunk: pa.Table, plan: _Plan) -> pa.Table:
    """One write chunk as ``ArrowWriter.write_table`` sees it: combined, cast, media embedded."""
    chunk = chunk.combine_chunks()
    if plan.needs_cast:
        try:
            chunk = chunk.cast(plan.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise SchemaError(f"the table does not cast to its features ({exc})", split=plan.split) from None
    if plan.media:
        chunk = _embed_table(chunk, plan.features)
    return chunk


def _write_shard(plan: _Plan, index: int) -> tuple[int, bytes]:
    """Write shard ``index`` of ``plan`` as an IPC stream; return its size and xxh3-128 digest."""
    start, stop = int(plan.bounds[index]), int(plan.bounds[index + 1])
    if plan.indices is None:
        pieces = iter_chunks(plan.table.slice(start, stop - start), plan.chunk_rows)
    else:  # gathered chunk by chunk: memory stays bounded by one chunk
        take = plan.take
        pieces = (
            pa.Table.from_batches(take(plan.indices[a : min(a + plan.chunk_rows, stop)]), schema=plan.table.schema)
            for a in range(start, stop, plan.chunk_rows)
        )
    chunks = (_prepare(c, plan) for c in pieces)
    folder, fname = plan.folder, plan.files[index]
    hasher = xxhash.xxh3_128()
    if folder.remote:
        with folder.fs.open(folder.join(fname), "wb") as fh:
            sink = _HashingFile(fh, hasher)
            with pa.ipc.new_stream(sink, plan.schema) as writer:
                for chunk in chunks:
                    writer.write_table(chunk, max_chunksize=plan.batch_rows)
            return sink.pos, hasher.digest()
    target = folder.join(fname)
    if plan.fingerprint is not None:  # nothing to hash: Arrow writes straight to the file
        with pa.OSFile(target, "wb") as sink:
            writeback = Writeback(sink.fileno()) if plan.durable else None
            with pa.ipc.new_stream(sink, plan.schema) as writer:
                for chunk in chunks:
                    writer.write_table(chunk, max_chunksize=plan.batch_rows)
                    if writeback is not None:
                        writeback.advance(sink.tell())
            if writeback is not None:
                os.fsync(sink.fileno())
        return os.path.getsize(target), b""
    with open(target, "wb") as fh:  # hashed on the way to the file, while the bytes are hot
        sink = _HashingFile(fh, hasher)
        writeback = Writeback(fh.fileno()) if plan.durable else None
        with pa.ipc.new_stream(sink, plan.schema) as writer:
            for chunk in chunks:
                writer.write_table(chunk, max_chunksize=plan.batch_rows)
                if writeback is not None:
                    writeback.advance(sink.pos)
        if writeback is not None:
            fh.flush()
            os.fsync(fh.fileno())
    return sink.pos, hasher.digest()


def _read_published(path: str | os.PathLike, read: Callable[[_Folder], T]) -> T:
    """``read`` the folder published at ``path`` (resolved once, so files of two versions never mix).

    If a concurrent publication removed that version mid-read, the newly published one is read.
    """
    for _ in range(3):
        folder = resolve_dir(path)
        try:
            return read(_Folder(folder))
        except (FileNotFoundError, FormatError):
            if resolve_dir(path) == folder:
                raise
    return read(_Folder(resolve_dir(path)))


def dataset_dict_splits(path: str | os.PathLike) -> list[str]:
    """The split names of a DatasetDict folder, in saved order."""
    return _read_published(path, _splits)


def _splits(root: _Folder) -> list[str]:
    try:
        data = root.read_json(DATASET_DICT_JSON)
    except FileNotFoundError:
        raise FormatError(
            f"no {DATASET_DICT_JSON}: not a DatasetDict folder", file=root.url,
            hint="a single Dataset folder (state.json + dataset_info.json) loads with load_dataset()",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("splits"), list):
        raise FormatError("dataset_dict.json has no 'splits' list", file=root.join(DATASET_DICT_JSON))
    return [_check_split_name(s) for s in data["splits"]]


def load_dataset_dict(path: str | os.PathLike) -> dict[str, pa.Table]:
    """Every split of a DatasetDict folder (any ``datasets`` version's ``save_to_disk`` or ours)."""
    return _read_published(path, lambda root: {name: _load(root.child(name), split=name) for name in _splits(root)})


def load_dataset(path: str | os.PathLike) -> pa.Table:
    """A single ``Dataset`` folder as one table, shards memory-mapped and concatenated in order.

    The schema carries the ``huggingface`` metadata of the folder's features (ClassLabel names,
    Image, …), so :func:`~datasets_pipeline.engine.hf_features.features_from_schema` recovers them.
    """
    return _read_published(path, _load)


def read_features(path: str | os.PathLike, split: str | None = None) -> Features:
    """The features of a ``Dataset`` folder, or of one split (default: the first) of a DatasetDict."""
    return _read_published(path, lambda folder: _read_features(folder, split))


def _read_features(folder: _Folder, split: str | None) -> Features:
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


def _info_features(folder: _Folder) -> Features | None:
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


def _data_files(folder: _Folder) -> list[str]:
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


def _load(folder: _Folder, split: str | None = None) -> pa.Table:
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
