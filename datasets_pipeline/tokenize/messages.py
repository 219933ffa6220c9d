"""Chat messages of a batch, flattened: one entry per message with its row, position and role,
computed with numpy over the list offsets (no per-row Python)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DatasetsPipelineError


class TokenizeError(DatasetsPipelineError):
    """A row cannot be tokenized as asked."""


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorized (int64)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    out_starts = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts, dtype=np.int64) - out_starts, lengths) + np.arange(total, dtype=np.int64)


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """List offsets (int64, ``len + 1`` entries) for ``lengths``."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _list_parts(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """``(offsets from 0, flat values)`` of a list column; null lists count as empty."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if isinstance(column, pa.ChunkedArray):  # an empty chunked array
        column = pa.array([], type=column.type)
    if column.null_count:
        column = pc.fill_null(column, pa.scalar([], type=column.type))
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = offsets_of(lengths)
    flat = pc.list_flatten(column)
    return offsets, flat


@dataclass(frozen=True)
class Messages:
    """The messages of ``n_rows`` conversations, flattened in row order."""

    n_rows: int
    offsets: np.ndarray  # int64, n_rows + 1
    role: pa.Array  # string, one per message
    content: pa.Array  # string, one per message
    trainable: np.ndarray | None  # bool per message, when the messages carry a 'trainable' field

    @classmethod
    def from_column(cls, column: pa.Array | pa.ChunkedArray, what: str = "messages") -> "Messages":
        offsets, flat = _list_parts(column)
        names = [flat.type.field(i).name for i in range(flat.type.num_fields)]
        for needed in ("role", "content"):
            if needed not in names:
                raise TokenizeError(f"{what}: messages must have a {needed!r} field, have {names}", column=what)
        role = flat.field("role")
        content = flat.field("content")
        trainable = None
        if "trainable" in names:
            trainable = flat.field("trainable").to_numpy(zero_copy_only=False)
        n_rows = len(offsets) - 1
        msgs = cls(n_rows, offsets, role, content, trainable)
        for name, values in (("role", role), ("content", content)):
            if values.null_count:
                first = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
                raise TokenizeError(
                    f"{what}: message {int(msgs.index[first])} has no {name}", row=int(msgs.row[first]), column=what
                )
        return msgs

    @classmethod
    def single_user(cls, questions: pa.Array | pa.ChunkedArray) -> "Messages":
        """One user message per row holding ``questions``."""
        if isinstance(questions, pa.ChunkedArray):
            questions = questions.combine_chunks() if questions.num_chunks else pa.array([], pa.string())
        n = len(questions)
        role = pa.array(np.full(n, "user", dtype=object), pa.string()) if n else pa.array([], pa.string())
        return cls(n, np.arange(n + 1, dtype=np.int64), role, pc.fill_null(questions.cast(pa.string()), ""), None)

    @property
    def count(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n_messages(self) -> int:
        return int(self.offsets[-1])

    @property
    def row(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), self.count)

    @property
    def index(self) -> np.ndarray:
        """Position of each message in its conversation."""
        return np.arange(self.n_messages, dtype=np.int64) - np.repeat(self.offsets[:-1], self.count)

    @property
    def is_last(self) -> np.ndarray:
        last = np.zeros(self.n_messages, dtype=bool)
        ends = self.offsets[1:][self.count > 0] - 1
        last[ends] = True
        return last

    def role_is(self, *roles: str) -> np.ndarray:
        mask = pc.is_in(self.role, value_set=pa.array(list(roles), pa.string()))
        return mask.to_numpy(zero_copy_only=False)

    def last_index_per_row(self, mask: np.ndarray) -> np.ndarray:
        """Per row, the position of the last message where ``mask`` holds, or -1."""
        out = np.full(self.n_rows, -1, dtype=np.int64)
        np.maximum.at(out, self.row[mask], self.index[mask])
        return out


def concat_conversations(first: Messages, second: Messages) -> Messages:
    """Row ``r`` = ``first`` row ``r``'s messages then ``second`` row ``r``'s (same row count)."""
    assert first.n_rows == second.n_rows
    n = first.n_rows
    role = pa.concat_arrays([first.role, second.role])
    content = pa.concat_arrays([first.content, second.content])
    base = first.n_messages
    starts = np.stack([first.offsets[:-1], second.offsets[:-1] + base], axis=1).ravel()
    lengths = np.stack([first.count, second.count], axis=1).ravel()
    take = pa.array(ranges(starts, lengths))
    trainable = None
    if first.trainable is not None and second.trainable is not None:
        trainable = np.concatenate([first.trainable, second.trainable])[take.to_numpy()]
    return Messages(
        n,
        offsets_of(first.count + second.count),
        role.take(take),
        content.take(take),
        trainable,
    )


def choose(mask: np.ndarray, a: Messages, b: Messages) -> Messages:
    """Row ``r`` = ``a`` row ``r`` where ``mask[r]``, else ``b`` row ``r``."""
    assert a.n_rows == b.n_rows == len(mask)
    base = a.n_messages
    starts = np.where(mask, a.offsets[:-1], b.offsets[:-1] + base)
    lengths = np.where(mask, a.count, b.count)
    take = pa.array(ranges(starts, lengths))
    role = pa.concat_arrays([a.role, b.role]).take(take)
    content = pa.concat_arrays([a.content, b.content]).take(take)
    trainable = None
    if a.trainable is not None and b.trainable is not None:
        trainable = np.concatenate([a.trainable, b.trainable])[take.to_numpy()]
    return Messages(a.n_rows, offsets_of(lengths), role, content, trainable)
