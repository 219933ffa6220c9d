"""Training batches from a tokenized table: numpy arrays (torch optional), in the cookbook's
epoch order.

Row order is that of ``SupervisedDatasetFromHFDataset`` (``supervised/data.py``): before any
:meth:`SupervisedLoader.set_epoch` the table's own order; ``set_epoch(seed)`` uses the
permutation of ``datasets.Dataset.shuffle(seed=seed)``; batch ``i`` is rows
``[i * bs, (i + 1) * bs)`` of that order and there are ``n // bs`` batches (``drop_last=False``
adds the final partial one).

Each row becomes one training example the way ``datum_from_model_input_weights`` shifts it:
inputs ``tokens[:-1]``, targets ``tokens[1:]``, weights ``weights[1:]`` (``reduction="mean"``
divides them by their sum per row, the cookbook's SFT default). Batches are padded to the
longest row (or to a fixed ``pad_to``). Options: length bucketing (rows sorted by length within
groups of ``bucket_batches`` batches, the groups' batches then shuffled with the epoch seed), and
packing (rows laid end to end in windows of ``pad_to`` positions; ``document_ids`` and
``position_ids`` keep documents apart, :meth:`Batch.attention` is block-diagonal causal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine.shuffle import permutation
from .messages import offsets_of, ranges


@dataclass(frozen=True)
class Batch:
    """One training batch; every array is ``(B, T)``."""

    tokens: np.ndarray  # int32 inputs
    targets: np.ndarray  # int32, the next token of each input
    weights: np.ndarray  # float32 loss weight of each target (0 on padding)
    attention_mask: np.ndarray  # bool: a real position (not padding)
    position_ids: np.ndarray  # int32, restarting at 0 for every document
    document_ids: np.ndarray  # int32, which document of the row a position belongs to (-1 = padding)
    rows: np.ndarray  # int64 table rows in the batch, in order (packed: every row used)

    @property
    def shape(self) -> tuple[int, int]:
        return self.tokens.shape  # type: ignore[return-value]

    @property
    def pad_fraction(self) -> float:
        """Share of positions that are padding."""
        return 1.0 - float(self.attention_mask.mean()) if self.attention_mask.size else 0.0

    def attention(self) -> np.ndarray:
        """``(B, T, T)`` bool: position ``i`` may attend to ``j`` (causal, same document, not padding)."""
        T = self.tokens.shape[1]
        causal = np.tril(np.ones((T, T), dtype=bool))
        same = self.document_ids[:, :, None] == self.document_ids[:, None, :]
        valid = self.attention_mask[:, :, None] & self.attention_mask[:, None, :]
        return causal[None] & same & valid

    def to_torch(self) -> dict[str, "object"]:
        """The arrays as ``torch`` tensors (needs ``torch``; ids as int64)."""
        import torch

        return {
            "input_ids": torch.from_numpy(self.tokens.astype(np.int64)),
            "labels": torch.from_numpy(self.targets.astype(np.int64)),
            "weights": torch.from_numpy(self.weights),
            "attention_mask": torch.from_numpy(self.attention_mask),
            "position_ids": torch.from_numpy(self.position_ids.astype(np.int64)),
        }


def _flat(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, values)`` of a list column as numpy."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    return offsets_of(lengths), values


class SupervisedLoader:
    """Batches of a tokenized table (columns ``tokens`` and ``weights``; see the module doc)."""

    def __init__(
        self,
        table: pa.Table,
        batch_size: int,
        *,
        pad_to: int | None = None,
        pad_id: int = 0,
        drop_last: bool = True,
        bucket_batches: int | None = None,
        pack: bool = False,
        reduction: Literal["none", "mean"] = "none",
        tokens_column: str = "tokens",
        weights_column: str = "weights",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if pack and pad_to is None:
            raise ValueError("packing needs pad_to (the window length)")
        if reduction not in ("none", "mean"):
            raise ValueError(f"reduction must be 'none' or 'mean', got {reduction!r}")
        self.batch_size, self.pad_to, self.pad_id = batch_size, pad_to, pad_id
        self.drop_last, self.bucket_batches, self.pack, self.reduction = drop_last, bucket_batches, pack, reduction
        self.n = table.num_rows
        self._tokens = table.column(tokens_column)
        self._weights = table.column(weights_column) if weights_column in table.schema.names else None
        lengths = pc.list_value_length(self._tokens).to_numpy(zero_copy_only=False).astype(np.int64)
        self.lengths = lengths  # tokens per row
        self._order = np.arange(self.n, dtype=np.int64)
        self._seed: int | None = None
        self._windows: np.ndarray | None = None  # packing: start index (into the order) of each window
        self._plan()

    # --- order -------------------------------------------------------------------------------
    def set_epoch(self, seed: int = 0) -> None:
        """The epoch order of ``datasets.Dataset.shuffle(seed=seed)``."""
        self._seed = seed
        self._order = permutation(self.n, seed)
        self._plan()

    @property
    def order(self) -> np.ndarray:
        """Table rows in this epoch's order (after bucketing, when on)."""
        return self._order_effective

    def _plan(self) -> None:
        order = self._order
        if self.bucket_batches and not self.pack:
            order = self._bucketed(order)
        self._order_effective = order
        if self.pack:
            self._windows = self._pack_windows(order)

    def _bucketed(self, order: np.ndarray) -> np.ndarray:
        """Rows sorted by length within groups of ``bucket_batches`` batches; each group's
        batches in a seeded random order (so short and long batches alternate)."""
        bs, group = self.batch_size, self.bucket_batches * self.batch_size
        rng = np.random.default_rng(self._seed if self._seed is not None else 0)
        out = []
        for start in range(0, len(order), group):
            chunk = order[start : start + group]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            n_full = len(chunk) // bs
            batches = chunk[: n_full * bs].reshape(n_full, bs)[rng.permutation(n_full)]
            out.append(batches.ravel())
            out.append(chunk[n_full * bs :])
        return np.concatenate(out) if out else order

    def _pack_windows(self, order: np.ndarray) -> np.ndarray:
        """Greedy in-order packing: the start (in ``order``) of each window of ``pad_to`` positions."""
        assert self.pad_to is not None
        seg = np.minimum(np.maximum(self.lengths[order] - 1, 0), self.pad_to)
        cs = offsets_of(seg)
        starts = []
        i, n = 0, len(order)
        while i < n:
            starts.append(i)
            j = int(np.searchsorted(cs, cs[i] + self.pad_to, side="right")) - 1
            i = max(j, i + 1)
        starts.append(n)
        return np.asarray(starts, dtype=np.int64)

    # --- batches ---------------------------------------------------------------------------
    def _units(self) -> int:
        return len(self._windows) - 1 if self.pack else self.n

    def __len__(self) -> int:
        units = self._units()
        return units // self.batch_size if self.drop_last else math.ceil(units / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        for i in range(len(self)):
            yield self.get_batch(i)

    def batch_rows(self, index: int) -> np.ndarray:
        """The table rows of batch ``index`` (unpacked)."""
        return self.order[index * self.batch_size : (index + 1) * self.batch_size]

    def _gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(offsets, tokens, weights)`` of ``rows``, flat."""
        take = pa.array(rows)
        offsets, tokens = _flat(self._tokens.take(take))
        if self._weights is None:
            weights = np.ones(len(tokens), dtype=np.float32)
        else:
            _, weights = _flat(self._weights.take(take))
        return offsets, tokens.astype(np.int32, copy=False), weights.astype(np.float32, copy=False)

    def get_batch(self, index: int) -> Batch:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range (0..{len(self) - 1})")
        if self.pack:
            return self._packed_batch(index)
        rows = self.batch_rows(index)
        offsets, tokens, weights = self._gather(rows)
        seg = np.maximum(np.diff(offsets) - 1, 0)
        T = self.pad_to if self.pad_to is not None else int(seg.max(initial=0))
        seg = np.minimum(seg, T)
        B = len(rows)
        docs = np.zeros(B, dtype=np.int64)
        return self._fill(B, T, offsets[:-1], seg, np.arange(B), np.zeros(B, dtype=np.int64), docs, tokens, weights, rows)

    def _packed_batch(self, index: int) -> Batch:
        assert self._windows is not None and self.pad_to is not None
        w0 = index * self.batch_size
        w1 = min(w0 + self.batch_size, len(self._windows) - 1)
        first, last = int(self._windows[w0]), int(self._windows[w1])
        rows = self.order[first:last]
        offsets, tokens, weights = self._gather(rows)
        seg = np.minimum(np.maximum(np.diff(offsets) - 1, 0), self.pad_to)
        window = np.searchsorted(self._windows[w0 : w1 + 1], np.arange(first, last), side="right") - 1
        within = offsets_of(seg)[:-1]
        win_start = np.searchsorted(window, np.arange(w1 - w0), side="left")
        col = within - within[win_start[window]]  # where each document starts in its window
        doc = np.arange(len(rows)) - win_start[window]
        return self._fill(w1 - w0, self.pad_to, offsets[:-1], seg, window, col, doc, tokens, weights, rows)

    def _fill(
        self,
        B: int,
        T: int,
        starts: np.ndarray,
        seg: np.ndarray,
        slot: np.ndarray,
        col: np.ndarray,
        doc: np.ndarray,
        tokens: np.ndarray,
        weights: np.ndarray,
        rows: np.ndarray,
    ) -> Batch:
        """Place document ``k``'s shifted pairs (``seg[k]`` of them, from flat ``starts[k]``) in
        batch row ``slot[k]`` at column ``col[k]``."""
        src = ranges(starts, seg)  # flat index of each input position
        total = len(src)
        pos = np.arange(total, dtype=np.int64) - np.repeat(offsets_of(seg)[:-1], seg)
        r = np.repeat(slot, seg)
        c = np.repeat(col, seg) + pos
        out_tokens = np.full((B, T), self.pad_id, dtype=np.int32)
        out_targets = np.full((B, T), self.pad_id, dtype=np.int32)
        out_weights = np.zeros((B, T), dtype=np.float32)
        mask = np.zeros((B, T), dtype=bool)
        positions = np.zeros((B, T), dtype=np.int32)
        documents = np.full((B, T), -1, dtype=np.int32)
        out_tokens[r, c] = tokens[src]
        out_targets[r, c] = tokens[src + 1]
        w = weights[src + 1]
        if self.reduction == "mean":
            sums = np.bincount(np.repeat(np.arange(len(seg)), seg), weights=w, minlength=len(seg))
            per = np.repeat(sums, seg)
            w = np.where(per > 0, w / np.where(per > 0, per, 1), 0).astype(np.float32)
        out_weights[r, c] = w
        mask[r, c] = True
        positions[r, c] = pos
        documents[r, c] = np.repeat(doc, seg)
        return Batch(out_tokens, out_targets, out_weights, mask, positions, documents, rows)
