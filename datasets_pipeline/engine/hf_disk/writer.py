"""Writing the ``save_to_disk`` layout: :func:`save_dataset_dict` and :func:`save_to_disk`.

Every shard of every split is written by a thread pool (``pyarrow.cpu_count()`` threads, one write
chunk in memory each), hashed on its way to the file unless the caller gives the fingerprint; the
JSON files of a split are written after its shards.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import xxhash

from datasets_pipeline.engine.hf_disk.folder import Folder
from datasets_pipeline.engine.hf_disk.hashing_file import HashingFile
from datasets_pipeline.engine.hf_disk.layout import (
    DATASET_DICT_JSON,
    INFO_JSON,
    INFO_KEYS,
    SHARD_RE,
    STATE_JSON,
    DatasetDictStats,
    SplitStats,
    check_split_name,
)
from datasets_pipeline.engine.hf_disk.media import embed_table
from datasets_pipeline.engine.hf_disk.plan import Rows, SplitPlan, plan_split, unspool
from datasets_pipeline.engine.hf_disk.shards import DEFAULT_MAX_SHARD_SIZE, iter_chunks
from datasets_pipeline.engine.direct_io import DirectFile, fsync_file
from datasets_pipeline.errors import SchemaError

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
    ``durable=True`` writes each local shard past its first 64 MiB straight to disk
    (:mod:`~datasets_pipeline.engine.direct_io`) and fsyncs it when done (the pipeline's DatasetDict assets); the default leaves the pages to the kernel, as ``datasets`` does.
    """
    if num_shards is not None and not isinstance(num_shards, Mapping):
        raise ValueError("Please provide one `num_shards` per dataset in the dataset dictionary, e.g. {'train': 128, 'test': 4}")
    unknown = set(num_shards or {}) - set(splits)
    if unknown:
        raise ValueError(f"num_shards names splits that are not saved: {sorted(unknown)}")
    keys = list(splits)
    names = [check_split_name(k) for k in keys]
    extra_info = _check_info(info)
    root = Folder(path)
    root.makedirs()
    root.write_text(DATASET_DICT_JSON, json.dumps({"splits": names}))
    plans: list[SplitPlan] = []
    try:
        for key, name in zip(keys, names):
            folder = root.child(name)
            folder.makedirs()
            split = split_names.get(key, name) if split_names is not None else name
            shards = (num_shards or {}).get(key)
            plans.append(plan_split(splits[key], folder, max_shard_size, shards, features, split, extra_info))
            plans[-1].fingerprint = (fingerprints or {}).get(key)
            plans[-1].durable = durable
        stats = _run(plans)
    finally:
        unspool(plans)
    return DatasetDictStats(root.url, dict(zip(names, stats)))


def save_to_disk(
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
    """Write a single ``Dataset`` folder (shards, ``state.json``, ``dataset_info.json``) at ``path``, as
    ``datasets.Dataset.save_to_disk`` does (``durable`` as for :func:`save_dataset_dict`)."""
    extra_info = _check_info(info)
    folder = Folder(path)
    folder.makedirs()
    plans: list[SplitPlan] = []
    try:
        plans.append(plan_split(table, folder, max_shard_size, num_shards, features, split, extra_info))
        plans[-1].durable = durable
        return _run(plans)[0]
    finally:
        unspool(plans)


def _check_info(info: Mapping[str, Any] | None) -> dict[str, Any]:
    extra = dict(info or {})
    bad = set(extra) - INFO_KEYS
    if bad:
        raise ValueError(f"unknown dataset_info keys {sorted(bad)} (features go in `features=`)")
    return extra


def _run(plans: list[SplitPlan]) -> list[SplitStats]:
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


def _finish(plan: SplitPlan, shards: list[tuple[int, bytes]]) -> SplitStats:
    """Remove stale shards and write ``state.json`` and ``dataset_info.json`` of a written split."""
    folder, files = plan.folder, plan.files
    for stale in folder.listdir():
        if SHARD_RE.fullmatch(stale) and stale not in files:
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


def _prepare(chunk: pa.Table, plan: SplitPlan) -> pa.Table:
    """One write chunk as ``ArrowWriter.write_table`` sees it: combined, cast, media embedded."""
    chunk = chunk.combine_chunks()
    if plan.needs_cast:
        try:
            chunk = chunk.cast(plan.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise SchemaError(f"the table does not cast to its features ({exc})", split=plan.split) from None
    if plan.media:
        chunk = embed_table(chunk, plan.features)
    return chunk


def _write_shard(plan: SplitPlan, index: int) -> tuple[int, bytes]:
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
            sink = HashingFile(fh, hasher)
            with pa.ipc.new_stream(sink, plan.schema) as writer:
                for chunk in chunks:
                    writer.write_table(chunk, max_chunksize=plan.batch_rows)
            return sink.pos, hasher.digest()
    target = folder.join(fname)
    if plan.durable:  # past its first 64 MiB the shard goes to disk without the page cache, then fsync
        with DirectFile(target) as out:
            sink = out if plan.fingerprint is not None else HashingFile(out, hasher)
            with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), plan.schema) as writer:
                for chunk in chunks:
                    writer.write_table(chunk, max_chunksize=plan.batch_rows)
        fsync_file(target)
        return out.position, (b"" if plan.fingerprint is not None else hasher.digest())
    if plan.fingerprint is not None:  # nothing to hash: Arrow writes straight to the file
        with pa.OSFile(target, "wb") as sink:
            with pa.ipc.new_stream(sink, plan.schema) as writer:
                for chunk in chunks:
                    writer.write_table(chunk, max_chunksize=plan.batch_rows)
        return os.path.getsize(target), b""
    with open(target, "wb") as fh:  # hashed on the way to the file, while the bytes are hot
        sink = HashingFile(fh, hasher)
        with pa.ipc.new_stream(sink, plan.schema) as writer:
            for chunk in chunks:
                writer.write_table(chunk, max_chunksize=plan.batch_rows)
    return sink.pos, hasher.digest()
