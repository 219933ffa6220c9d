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

Modules: :mod:`.layout` (file names, stats), :mod:`.shards` (shard and chunk arithmetic),
:mod:`.media` (media size estimate and embedding), :mod:`.folder` (local or fsspec folders),
:mod:`.hashing_file`, :mod:`.plan` (a split to write), :mod:`.writer` (threaded shard writer),
:mod:`.reader`.

Saving writes into ``path`` in place; wrap it in :func:`datasets_pipeline.engine.versioned_dir.publish_dir`
to replace a published folder atomically. Loading resolves such a folder once, memory-maps every
shard (zero copy; remote fsspec shards are read into memory, never copied to a temp folder) and
concatenates them in ``_data_files`` order, with no per-row Python.
"""

from datasets_pipeline.engine.hf_disk.layout import DatasetDictStats, SplitStats
from datasets_pipeline.engine.hf_disk.media import estimate_nbytes
from datasets_pipeline.engine.hf_disk.plan import Rows, StreamLike
from datasets_pipeline.engine.hf_disk.reader import (
    dataset_dict_splits,
    load_dataset_dict,
    load_from_disk,
    read_features,
)
from datasets_pipeline.engine.hf_disk.shards import (
    DEFAULT_MAX_SHARD_SIZE,
    chunk_rows,
    iter_chunks,
    parse_size,
    shard_bounds,
    shard_count,
)
from datasets_pipeline.engine.hf_disk.writer import save_dataset_dict, save_to_disk

__all__ = [
    "DEFAULT_MAX_SHARD_SIZE", "DatasetDictStats", "Rows", "SplitStats", "StreamLike", "chunk_rows",
    "dataset_dict_splits", "estimate_nbytes", "iter_chunks", "load_dataset_dict", "load_from_disk",
    "parse_size", "read_features", "save_dataset_dict", "save_to_disk", "shard_bounds", "shard_count",
]
