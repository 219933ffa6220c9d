"""Vectorized message lists: building ``list<struct<role: string, content: string>>`` arrays.

A message list is kept as flat ``role`` / ``content`` string arrays plus per-row lengths;
the builders here go between that layout and Arrow list arrays without per-row Python.
Content that comes as a list of parts (``[{type, text}, …]``) is joined to one string.
Also here, for every converter of this package: :func:`apply_drops` (the "first failing reason
wins" tally) and :func:`bounded` (convert in row slices of bounded byte size).
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import SchemaError
from ..families.schemas import MESSAGE, MESSAGES
from .context import ConvertContext, Converted

_FIELDS = [MESSAGE.field(i) for i in range(MESSAGE.num_fields)]


# --- arrays and offsets -----------------------------------------------------------------------


def as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (a table column may come in chunks)."""
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def is_text(dtype: pa.DataType) -> bool:
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype)


def is_list(dtype: pa.DataType) -> bool:
    return pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_list_view(dtype) or (
        pa.types.is_large_list_view(dtype)
    )


def to_numpy_bool(mask: pa.Array | pa.ChunkedArray, null: bool = False) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls replaced by ``null``."""
    return np.asarray(pc.fill_null(mask, null).to_numpy(zero_copy_only=False), dtype=bool)


def kept_rows(keep: np.ndarray) -> np.ndarray | None:
    """The positions of kept rows for :class:`Converted` ``rows`` (None when every row is kept)."""
    return None if keep.all() else np.flatnonzero(keep)


def apply_drops(n: int, checks: Sequence[tuple[str, np.ndarray]]) -> tuple[np.ndarray, dict[str, int]]:
    """Rows to keep and dropped counts: each row counted once, under the first reason (in order) it fails."""
    keep = np.ones(n, dtype=bool)
    dropped: dict[str, int] = {}
    for reason, bad in checks:
        hit = int(np.count_nonzero(keep & bad))
        if hit:
            dropped[reason] = dropped.get(reason, 0) + hit
        keep &= ~bad
    return keep, dropped


MAX_PIECE_BYTES = 256 << 20


def bounded(fn: Callable[[pa.Table, ConvertContext], Converted]) -> Callable[[pa.Table, ConvertContext], Converted]:
    """``fn`` run over row slices of about ``MAX_PIECE_BYTES`` each, results concatenated.

    Columns are combined into one array per slice and outputs use 32-bit string offsets, so a
    batch of long rows (reasoning traces, transcripts) must not reach 2 GiB in one array.
    """

    @functools.wraps(fn)
    def run(table: pa.Table, ctx: ConvertContext) -> Converted:
        pieces = -(-table.nbytes // MAX_PIECE_BYTES)
        if pieces <= 1:
            return fn(table, ctx)
        step = -(-table.num_rows // pieces)
        starts = range(0, table.num_rows, step)
        outputs = [fn(table.slice(start, step), ctx) for start in starts]
        dropped: dict[str, int] = {}
        for out in outputs:
            for reason, count in out.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + count
        rows = None
        if any(out.rows is not None for out in outputs):
            rows = np.concatenate(
                [
                    start + (out.rows if out.rows is not None else np.arange(out.table.num_rows, dtype=np.int64))
                    for start, out in zip(starts, outputs)
                ]
            )
        return Converted(pa.concat_tables([out.table for out in outputs]), dropped, rows)

    return run


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """``[0, l0, l0+l1, …]`` as int64."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def parent_rows(lengths: np.ndarray) -> np.ndarray:
    """For each flat element, the index of its row."""
    return np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)


def position_in_row(lengths: np.ndarray) -> np.ndarray:
    """For each flat element, its index inside its row's list."""
    total = int(lengths.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(offsets_of(lengths)[:-1], lengths)


def list_layout(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The flat values of a list array (null lists contribute nothing) and each row's length."""
    flat = pc.list_flatten(arr)
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return flat, lengths


# --- content ---------------------------------------------------------------------------------


def parts_text(content: pa.Array, sep: str = " ") -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Message content as one string per message, its part count and its non-text part count.

    ``content`` is either a string array (one part each, all text, null counted as zero parts) or
    a list of parts: strings, or structs ``{type, text, …}`` where only ``type == "text"`` is text
    (a null part or type is not text). Text parts are joined with ``sep``; a null ``text`` counts
    as ``""``; non-text parts contribute nothing to the string; a null part list gives null.
    """
    content = as_array(content)
    n = len(content)
    if pa.types.is_null(content.type):
        return pa.nulls(n, pa.string()), np.zeros(n, np.int64), np.zeros(n, np.int64)
    if is_text(content.type):
        present = (~to_numpy_bool(pc.is_null(content))).astype(np.int64)
        return content.cast(pa.string()), present, np.zeros(n, np.int64)
    if not is_list(content.type):
        raise SchemaError(f"message content must be a string or a list of parts, not {content.type}")
    parts, counts = list_layout(content)
    if is_text(parts.type):
        texts = pc.fill_null(parts.cast(pa.string()), "")
        non_text = np.zeros(len(parts), dtype=bool)
    elif pa.types.is_struct(parts.type):
        names = {parts.type.field(i).name for i in range(parts.type.num_fields)}
        if "type" in names:
            non_text = ~to_numpy_bool(pc.equal(pc.struct_field(parts, "type"), "text"))
        else:
            non_text = np.zeros(len(parts), dtype=bool)
        non_text |= to_numpy_bool(pc.is_null(parts))
        texts = (
            pc.fill_null(pc.struct_field(parts, "text").cast(pa.string()), "")
            if "text" in names
            else pa.repeat(pa.scalar("", pa.string()), len(parts))
        )
    else:
        raise SchemaError(f"message content parts must be strings or structs, not {parts.type}")
    text_only = texts.filter(pa.array(~non_text))
    text_counts = np.bincount(parent_rows(counts)[~non_text], minlength=n).astype(np.int64)
    texts_per_message = pa.ListArray.from_arrays(
        pa.array(offsets_of(text_counts).astype(np.int32)), text_only, mask=pc.is_null(content)
    )
    joined = pc.binary_join(texts_per_message, sep)  # a null part list stays null
    non_text_counts = np.bincount(parent_rows(counts)[non_text], minlength=n).astype(np.int64)
    return joined, counts, non_text_counts


# --- building --------------------------------------------------------------------------------


def build(lengths: np.ndarray, roles: pa.Array, contents: pa.Array) -> pa.ListArray:
    """A message-list array from per-row lengths and the flat roles and contents."""
    values = pa.StructArray.from_arrays(
        [as_array(roles).cast(pa.string()), as_array(contents).cast(pa.string())], fields=_FIELDS
    )
    offsets = pa.array(offsets_of(np.asarray(lengths, dtype=np.int64)).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, values, type=MESSAGES)


def single(role: str, contents: pa.Array | pa.ChunkedArray) -> pa.ListArray:
    """One message per row: ``[{role, content}]``; a null content stays null."""
    contents = as_array(contents)
    n = len(contents)
    return build(np.ones(n, np.int64), pa.repeat(pa.scalar(role, pa.string()), n), contents)


def normalize(
    arr: pa.Array | pa.ChunkedArray,
    role_field: str = "role",
    content_field: str = "content",
    role_map: Callable[[pa.Array], pa.Array] | None = None,
) -> pa.ListArray:
    """A raw ``list<struct<…>>`` column as a message list: named fields picked, extras dropped.

    ``content`` may be a string or a list of text parts (joined with a space). A null list becomes
    an empty list; ``role_map`` rewrites the flat role array (e.g. ``from`` → role).
    """
    arr = as_array(arr)
    if pa.types.is_null(arr.type):
        return build(np.zeros(len(arr), np.int64), pa.array([], pa.string()), pa.array([], pa.string()))
    if not is_list(arr.type) or not pa.types.is_struct(arr.type.value_type):
        raise SchemaError(f"expected a list of message structs, not {arr.type}")
    flat, lengths = list_layout(arr)
    struct = flat.type
    names = {struct.field(i).name for i in range(struct.num_fields)}
    for name in (role_field, content_field):
        if name not in names:
            raise SchemaError(f"message structs have no field {name!r} (fields: {', '.join(sorted(names))})")
    roles = pc.struct_field(flat, role_field).cast(pa.string())
    if role_map is not None:
        roles = role_map(roles)
    contents, _, _ = parts_text(pc.struct_field(flat, content_field))
    return build(lengths, roles, contents)


def column_messages(
    table: pa.Table,
    name: str,
    ctx: ConvertContext,
    *,
    role_field: str = "role",
    content_field: str = "content",
    role_map: Callable[[pa.Array], pa.Array] | None = None,
    text_role: str | None = None,
) -> pa.ListArray:
    """Column ``name`` as a message list; with ``text_role``, a plain-text column becomes one message.

    A column of another shape raises :class:`SchemaError` naming the dataset, split and column.
    """
    column = as_array(table.column(name))
    try:
        if text_role is not None and (is_text(column.type) or pa.types.is_null(column.type)):
            return single(text_role, column.cast(pa.string()))
        return normalize(column, role_field, content_field, role_map)
    except SchemaError as exc:
        raise exc.with_context(
            **ctx.where, column=name
        ) from None


def take(arr: pa.ListArray, mask: np.ndarray) -> pa.Array:
    """Rows of ``arr`` where ``mask`` is true."""
    return arr.filter(pa.array(mask, pa.bool_()))
