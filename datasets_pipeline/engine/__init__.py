"""Arrow-native dataset operations (no Dagster imports), with the ``datasets`` library's argument
names and seeded results: the same seed gives the same rows in the same order.

``shuffle``, ``train_test_split``, ``interleave`` and ``concatenate`` work on ``pyarrow.Table``;
:class:`StreamingDataset` and :func:`interleave_streams` are their lazy, bounded-memory forms.
"""

from .concat import concatenate
from .dedup import dedup
from .gather import iter_take, write_take
from .hf_disk import load_dataset_dict, load_from_disk, save_dataset_dict, save_to_disk
from .interleave import interleave, interleave_indices
from .ipc import read_table, write_batches, write_table
from .ops import filter_rows, map_rows, repeat, select, select_columns, skip, take, take_head, with_transform
from .reservoir import assign_splits, reservoir_sample, write_manifest
from .shuffle import permutation, shuffle
from .split import kfold, stratified_sample, train_test_split
from .streaming import StreamingDataset, concatenate_streams, interleave_streams
from .uid import add_uid, compute_uids

__all__ = [
    "StreamingDataset", "add_uid", "assign_splits", "compute_uids", "concatenate", "concatenate_streams", "dedup",
    "filter_rows", "interleave", "interleave_indices", "interleave_streams", "iter_take", "kfold", "load_dataset_dict",
    "load_from_disk", "map_rows", "permutation", "read_table", "repeat", "reservoir_sample", "save_dataset_dict",
    "save_to_disk", "select", "select_columns", "shuffle", "skip", "stratified_sample", "take", "take_head",
    "train_test_split", "with_transform", "write_batches", "write_manifest", "write_table", "write_take",
]
