"""Layouts -> token and weight lists: one batch encode of the per-message strings, constants
encoded once, sequences gathered with numpy offset arithmetic, right-truncated to ``max_length``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .encoder import Encoded, Encoder
from .messages import Messages, offsets_of, ranges
from .renderers import Layout


class ConstantCache:
    """Constant pieces (headers, BOS, end tokens) encoded once per encoder."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._ids: dict[str, np.ndarray] = {}

    def ids(self, text: str) -> np.ndarray:
        got = self._ids.get(text)
        if got is None:
            got = np.asarray(self.encoder.encode_one(text), dtype=np.int32)
            self._ids[text] = got
        return got


@dataclass(frozen=True)
class Sequences:
    """Token and weight lists of ``n`` rows, flat: row ``i`` is ``[offsets[i], offsets[i+1])``."""

    offsets: np.ndarray  # int64, n + 1
    tokens: np.ndarray  # int32
    weights: np.ndarray  # uint8
    full_lengths: np.ndarray  # int64, before truncation

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def truncated(self) -> np.ndarray:
        return self.full_lengths > self.lengths

    def tokens_array(self) -> pa.Array:
        return pa.ListArray.from_arrays(pa.array(self.offsets.astype(np.int32)), pa.array(self.tokens, pa.int32()))

    def weights_array(self) -> pa.Array:
        return pa.ListArray.from_arrays(pa.array(self.offsets.astype(np.int32)), pa.array(self.weights, pa.uint8()))


def build(layout: Layout, msgs: Messages, encoder: Encoder, constants: ConstantCache, max_length: int | None) -> Sequences:
    """Encode and assemble a layout's pieces into sequences (the rendered example of each row)."""
    n_msgs, n_rows = msgs.n_messages, msgs.n_rows
    # 1. The buffer: constants first (each encoded once), then every per-message string.
    const_texts: list[str] = []
    const_index: dict[str, int] = {}

    def const_id(text: str) -> int:
        if text not in const_index:
            const_index[text] = len(const_texts)
            const_texts.append(text)
        return const_index[text]

    slot_entries: list[np.ndarray] = []
    var_parts: list[pa.Array] = []
    var_count = 0
    var_entry_slots: list[tuple[int, np.ndarray]] = []
    for s, slot in enumerate(layout.slots):
        present = slot.present if slot.present is not None else np.ones(n_msgs, dtype=bool)
        if slot.text is not None:
            where = np.flatnonzero(present)
            text = slot.text if len(where) == n_msgs else slot.text.take(pa.array(where))
            var_parts.append(text)
            entries = np.full(n_msgs, -1, dtype=np.int64)
            entries[where] = np.arange(var_count, var_count + len(where))
            var_entry_slots.append((s, entries))
            var_count += len(where)
            slot_entries.append(entries)  # offset by the constant count below
        else:
            assert slot.const is not None and slot.keys is not None
            ids = np.array([const_id(t) for t in slot.const], dtype=np.int64)
            entries = np.where(present, ids[slot.keys] if len(slot.const) else -1, -1)
            slot_entries.append(entries)
    prefix_id = const_id(layout.prefix) if layout.prefix else -1
    suffix_ids = np.array([const_id(t) for t in layout.suffix], dtype=np.int64)
    n_const = len(const_texts)
    for s, _ in var_entry_slots:
        e = slot_entries[s]
        slot_entries[s] = np.where(e >= 0, e + n_const, -1)

    const_ids = [constants.ids(t) for t in const_texts]
    const_encoded = Encoded(
        np.concatenate(const_ids) if const_ids else np.empty(0, np.int32),
        np.array([len(c) for c in const_ids], dtype=np.int64),
    )
    texts: list[str] = []
    for part in var_parts:
        texts.extend(part.to_pylist())
    buffer = Encoded.concat([const_encoded, encoder.encode(texts, literal=layout.literal)])
    starts, lengths = buffer.starts, buffer.lengths

    # 2. Pieces in sequence order: messages in row order, slots in order within a message.
    n_slots = len(layout.slots)
    entry = np.stack(slot_entries, axis=1).ravel() if n_slots else np.empty(0, np.int64)
    weight = (
        np.stack([slot.weight for slot in layout.slots], axis=1).ravel().astype(np.uint8)
        if n_slots
        else np.empty(0, np.uint8)
    )
    row = np.repeat(msgs.row, n_slots)
    keep = entry >= 0
    entry, weight, row = entry[keep], weight[keep], row[keep]
    rows = np.arange(n_rows, dtype=np.int64)
    if prefix_id >= 0:
        at = np.searchsorted(row, rows, side="left")
        entry = np.insert(entry, at, prefix_id)
        weight = np.insert(weight, at, 0)
        row = np.insert(row, at, rows)
    if layout.suffix_keys is not None:
        has = layout.suffix_keys >= 0
        at = np.searchsorted(row, rows[has], side="right")
        entry = np.insert(entry, at, suffix_ids[layout.suffix_keys[has]])
        weight = np.insert(weight, at, 0)
        row = np.insert(row, at, rows[has])

    # 3. Gather the tokens: piece p contributes buffer[starts[e]: starts[e] + lengths[e]].
    piece_len = lengths[entry]
    gather = ranges(starts[entry], piece_len)
    tokens = buffer.ids[gather]
    weights = np.repeat(weight, piece_len)
    full_lengths = np.bincount(row, weights=piece_len, minlength=n_rows).astype(np.int64)

    # 4. Right truncation to max_length (as datum_from_model_input_weights cuts the chunks).
    if max_length is not None and len(full_lengths) and int(full_lengths.max()) > max_length:
        kept = np.minimum(full_lengths, max_length)
        take = ranges(offsets_of(full_lengths)[:-1], kept)
        tokens, weights = tokens[take], weights[take]
        return Sequences(offsets_of(kept), tokens, weights, full_lengths)
    return Sequences(offsets_of(full_lengths), tokens, weights, full_lengths)
