"""Rows of a multi-chunk table by position in one pass: no column concatenation, one copy of the data.

Arrow's ``take`` on a chunked string or nested column first concatenates all of its chunks (a copy
of the whole column, which overflows 32-bit offsets past 2 GiB). Taking from each chunk and then
reordering copies every row three times and costs kernel calls per chunk touched, so it slows down
with the number of record batches: shuffling a 1M-row chat split (2.3 GB) that way took 5.4 s on
one thread in 65,536-row batches, 13.9 s in the ~3,000-row batches the cookbook layer writes and
31 s in ``save_to_disk``'s 1,000-row batches.

:class:`ChunkedTake` reads the chunks' buffers where they are. Each node of the type tree keeps,
per chunk, where its buffers start within one address range that holds them all (viewed as a
numpy array and as an Arrow ``uint8`` array). A request maps every row, and every list element
below it, to ``(chunk, index)`` with numpy index arithmetic, then:

- fixed-width values and bits (validity bitmaps, booleans) are gathered by numpy fancy indexing;
- variable-length values (string, binary) are copied by Arrow's ``take`` on a ``large_binary``
  array over the span whose elements are the wanted byte ranges (:meth:`_Span.copy_ranges`), one
  ``memcpy`` each;
- list offsets are rebuilt from the gathered lengths; struct fields recurse with the same rows.

Only the bytes of the wanted values are read; the cost does not depend on the number of chunks.
The result equals ``table.take(indices)`` (same types; null list entries and null strings come out
empty) in new, compact buffers. Columns of other types (dictionary, views, unions, run-end
encoded, extension types) are taken from each chunk with Arrow's ``take`` and reordered.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

__all__ = ["ChunkedTake", "OffsetOverflow"]

INT32_MAX = 2**31 - 1
_ALIGN = 64
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT = {4: np.int32, 8: np.int64}


def _int64s(values: np.ndarray) -> pa.Array:
    """An int64 Arrow array over a numpy array, zero-copy (``pa.array`` would first import pandas)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


class OffsetOverflow(ValueError):
    """A gathered piece holds more values than its type's 32-bit offsets can address."""


class _Unsupported(Exception):
    """A column whose layout is not read in place; it is taken chunk by chunk instead."""


class _Span:
    """The address range that holds every buffer of a table, as numpy and Arrow ``uint8`` arrays.

    Buffer positions are byte offsets into it; the views keep ``owner`` (the table) alive.
    """

    def __init__(self, buffers: Sequence[pa.Buffer | None], owner: object) -> None:
        # Only the bytes of live buffers are read through these views, never the gaps between them.
        live = [b for b in buffers if b is not None and b.size > 0]
        if live:
            lo = min(b.address for b in live) & ~(_ALIGN - 1)
            hi = max(b.address + b.size for b in live)
        else:
            lo = hi = 0
        size = (hi - lo + _ALIGN - 1) & ~(_ALIGN - 1)
        self.base = lo
        self.buffer = pa.foreign_buffer(lo, size, base=owner) if size else pa.py_buffer(b"")
        self.u8 = np.frombuffer(self.buffer, dtype=np.uint8)
        self._views: dict[np.dtype, np.ndarray] = {np.dtype(np.uint8): self.u8}

    def rel(self, buf: pa.Buffer | None) -> int:
        """Byte position of ``buf`` in the span (0 for an absent or empty buffer, never read)."""
        return buf.address - self.base if buf is not None and buf.size > 0 else 0

    def view(self, dtype: type) -> np.ndarray:
        dt = np.dtype(dtype)
        if dt not in self._views:
            self._views[dt] = self.u8.view(dt)
        return self._views[dt]

    def bits(self, positions: np.ndarray) -> np.ndarray:
        """The bits at absolute bit ``positions`` of the span (LSB first, as Arrow stores them)."""
        return ((self.u8[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1).astype(bool)

    def element_index(self, buf: pa.Buffer | None, width: int) -> int:
        """Index of ``buf``'s first ``width``-byte element in ``view`` of that width."""
        rel = self.rel(buf)
        if rel % width:
            raise _Unsupported(f"a buffer is not {width}-byte aligned")
        return rel // width

    def copy_ranges(self, starts: np.ndarray, lengths: np.ndarray) -> pa.Buffer:
        """The bytes ``[starts[i], starts[i] + lengths[i])`` of the span, concatenated in order.

        Arrow's ``take`` copies them, one ``memcpy`` each (about 4x faster per range than
        flattening a ``large_list_view``): range ``i`` is element ``2 * i`` of a ``large_binary``
        array over the span whose offsets are ``starts[0], ends[0], starts[1], ends[1], ...``, and
        the even elements are taken. The odd elements (from one range's end to the next range's
        start) are never read and may run backwards, so the array is only ever given to ``take``,
        which reads the offsets of the elements it takes. Its last offset is chosen so that
        ``take``'s size estimate (the array's mean element size) reserves about ``sum(lengths)``.
        """
        starts = np.asarray(starts, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        total = int(lengths.sum())
        if total == 0:
            return pa.py_buffer(b"")
        n = len(starts)
        offsets = np.empty(2 * n + 1, dtype=np.int64)
        offsets[0:-1:2] = starts
        offsets[1:-1:2] = starts + lengths
        offsets[-1] = min(self.buffer.size, int(starts[0]) + 2 * total)
        ranges = pa.Array.from_buffers(pa.large_binary(), 2 * n, [None, pa.py_buffer(offsets), self.buffer])
        taken = ranges.take(_int64s(np.arange(0, 2 * n, 2, dtype=np.int64)))
        return taken.buffers()[2].slice(0, total)


class _Node:
    """One level of a column's type tree, over the column's chunks."""

    def __init__(self, type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span) -> None:
        self.type, self.span = type_, span
        self.valid_bit = np.full(len(arrays), -1, dtype=np.int64)
        for b, a in enumerate(arrays):
            if a.null_count:
                self.valid_bit[b] = span.rel(a.buffers()[0]) * 8 + a.offset
        self.nullable = bool((self.valid_bit >= 0).any())

    def validity(self, chunk: np.ndarray, local: np.ndarray) -> np.ndarray | None:
        if not self.nullable:
            return None
        first = self.valid_bit[chunk]
        has = first >= 0
        valid = np.ones(len(chunk), dtype=bool)
        valid[has] = self.span.bits(first[has] + local[has])
        return valid

    @staticmethod
    def bitmap(valid: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
        if valid is None:
            return None, 0
        nulls = len(valid) - int(np.count_nonzero(valid))
        if nulls == 0:
            return None, 0
        return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls

    def take(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        raise NotImplementedError


class _Null(_Node):
    def take(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        return pa.nulls(len(chunk), self.type)


class _Bool(_Node):
    def __init__(self, type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span) -> None:
        super().__init__(type_, arrays, span)
        self.first_bit = np.array([span.rel(a.buffers()[1]) * 8 + a.offset for a in arrays], dtype=np.int64)

    def take(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        validity, nulls = self.bitmap(self.validity(chunk, local))
        values = np.packbits(self.span.bits(self.first_bit[chunk] + local), bitorder="little")
        return pa.Array.from_buffers(self.type, len(chunk), [validity, pa.py_buffer(values)], null_count=nulls)


class _Fixed(_Node):
    """Fixed-width values (integers, floats, temporal types, decimals, fixed-size binary)."""

    def __init__(self, type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span) -> None:
        super().__init__(type_, arrays, span)
        self.width = type_.bit_width // 8
        self.typed = self.width in _UINT and all(span.rel(a.buffers()[1]) % self.width == 0 for a in arrays)
        if self.typed:
            self.first = np.array([span.rel(a.buffers()[1]) // self.width + a.offset for a in arrays], dtype=np.int64)
        else:
            self.first = np.array([span.rel(a.buffers()[1]) + a.offset * self.width for a in arrays], dtype=np.int64)

    def take(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        validity, nulls = self.bitmap(self.validity(chunk, local))
        if self.typed:
            data = pa.py_buffer(self.span.view(_UINT[self.width])[self.first[chunk] + local])
        else:
            starts = self.first[chunk] + local * self.width
            data = self.span.copy_ranges(starts, np.full(len(chunk), self.width, dtype=np.int64))
        return pa.Array.from_buffers(self.type, len(chunk), [validity, data], null_count=nulls)


class _Offsets(_Node):
    """Shared by variable-length nodes: the ``[start, end)`` of each element from its offsets."""

    def __init__(self, type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span, width: int) -> None:
        super().__init__(type_, arrays, span)
        self.width = width
        self.first = np.array([span.element_index(a.buffers()[1], width) + a.offset for a in arrays], dtype=np.int64)

    def ranges(self, chunk: np.ndarray, local: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        offsets = self.span.view(_INT[self.width])
        at = self.first[chunk] + local
        start = offsets[at].astype(np.int64)
        lengths = offsets[at + 1].astype(np.int64) - start
        if valid is not None:
            lengths[~valid] = 0
        return start, lengths

    def out_offsets(self, lengths: np.ndarray) -> pa.Buffer:
        ends = np.cumsum(lengths, dtype=np.int64)
        if self.width == 4 and len(ends) and ends[-1] > INT32_MAX:
            raise OffsetOverflow(f"{ends[-1]} values exceed the 32-bit offsets of {self.type}")
        out = np.empty(len(lengths) + 1, dtype=_INT[self.width])
        out[0] = 0
        out[1:] = ends
        return pa.py_buffer(out)


class _Binary(_Offsets):
    """string, binary, large_string, large_binary."""

    def __init__(self, type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span) -> None:
        large = pa.types.is_large_string(type_) or pa.types.is_large_binary(type_)
        super().__init__(type_, arrays, span, 8 if large else 4)
        self.data = np.array([span.rel(a.buffers()[2]) for a in arrays], dtype=np.int64)

    def take(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        valid = self.validity(chunk, local)
        start, lengths = self.ranges(chunk, local, valid)
        offsets = self.out_offsets(lengths)
        data = self.span.copy_ranges(self.data[chunk] + start, lengths)
        validity, nulls = self.bitmap(valid)
        return pa.Array.from_buffers(self.type, len(chunk), [validity, offsets, data], null_count=nulls)


def _ragged(chunk: np.ndarray, start: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (chunk, index) of every element of the ranges ``[start, start + lengths)``, in order."""
    total = int(lengths.sum())
    shift = np.repeat(start - (np.cumsum(lengths) - lengths), lengths)
    return np.repeat(chunk, lengths), shift + np.arange(total, dtype=np.int64)


class _List(_Offsets):
    """list, large_list and map (a list of key/item structs)."""

    def __init__(self, type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span) -> None:
        super().__init__(type_, arrays, span, 8 if pa.types.is_large_list(type_) else 4)
        value_type = type_.value_type if not pa.types.is_map(type_) else pa.struct([type_.key_field, type_.item_field])
        self.child = build(value_type, [a.values for a in arrays], span)

    def take(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        valid = self.validity(chunk, local)
        start, lengths = self.ranges(chunk, local, valid)
        offsets = self.out_offsets(lengths)
        child = self.child.take(*_ragged(chunk, start, lengths))
        validity, nulls = self.bitmap(valid)
        return pa.Array.from_buffers(self.type, len(chunk), [validity, offsets], null_count=nulls, children=[child])


class _FixedList(_Node):
    def __init__(self, type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span) -> None:
        super().__init__(type_, arrays, span)
        self.size = type_.list_size
        self.first = np.array([a.offset for a in arrays], dtype=np.int64)
        self.child = build(type_.value_type, [a.values for a in arrays], span)

    def take(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        validity, nulls = self.bitmap(self.validity(chunk, local))
        start = (self.first[chunk] + local) * self.size
        child = self.child.take(*_ragged(chunk, start, np.full(len(chunk), self.size, dtype=np.int64)))
        return pa.Array.from_buffers(self.type, len(chunk), [validity], null_count=nulls, children=[child])


class _Struct(_Node):
    def __init__(self, type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span) -> None:
        super().__init__(type_, arrays, span)
        self.children = [build(type_.field(i).type, [a.field(i) for a in arrays], span) for i in range(type_.num_fields)]

    def take(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        validity, nulls = self.bitmap(self.validity(chunk, local))
        children = [c.take(chunk, local) for c in self.children]
        return pa.Array.from_buffers(self.type, len(chunk), [validity], null_count=nulls, children=children)


def build(type_: pa.DataType, arrays: Sequence[pa.Array], span: _Span) -> _Node:
    """The node reading ``arrays`` (one per chunk, all of ``type_``) in place; _Unsupported otherwise."""
    t = pa.types
    if t.is_null(type_):
        return _Null(type_, arrays, span)
    if t.is_boolean(type_):
        return _Bool(type_, arrays, span)
    if t.is_string(type_) or t.is_binary(type_) or t.is_large_string(type_) or t.is_large_binary(type_):
        return _Binary(type_, arrays, span)
    if t.is_list(type_) or t.is_large_list(type_) or t.is_map(type_):
        return _List(type_, arrays, span)
    if t.is_fixed_size_list(type_):
        return _FixedList(type_, arrays, span)
    if t.is_struct(type_):
        return _Struct(type_, arrays, span)
    if t.is_dictionary(type_) or isinstance(type_, pa.ExtensionType):
        raise _Unsupported(str(type_))
    try:
        width = type_.bit_width
    except ValueError:
        raise _Unsupported(str(type_)) from None
    if width % 8:
        raise _Unsupported(str(type_))
    return _Fixed(type_, arrays, span)


class _Column:
    """One column: its non-empty chunks, their first rows, and the node that reads them."""

    def __init__(self, column: pa.ChunkedArray, span: _Span) -> None:
        self.chunks = [c for c in column.chunks if len(c)]
        self.starts = np.cumsum([0] + [len(c) for c in self.chunks], dtype=np.int64)
        self.type = column.type
        self.key = self.starts.tobytes()
        try:
            self.node: _Node | None = build(column.type, self.chunks, span)
        except _Unsupported:
            self.node = None

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chunk = np.searchsorted(self.starts, rows, side="right") - 1
        return chunk, rows - self.starts[chunk]

    def take(self, rows: np.ndarray, located: tuple[np.ndarray, np.ndarray]) -> pa.Array:
        if len(rows) == 0:
            return pa.nulls(0, self.type)
        if self.node is not None:
            return self.node.take(*located)
        return self._take_per_chunk(*located)

    def _take_per_chunk(self, chunk: np.ndarray, local: np.ndarray) -> pa.Array:
        """Arrow's ``take`` on each chunk touched, then one ``take`` to put the rows back in order."""
        order = np.argsort(chunk, kind="stable")
        grouped = chunk[order]
        cuts = np.flatnonzero(np.diff(grouped)) + 1
        parts = [
            self.chunks[int(grouped[lo])].take(_int64s(local[order[lo:hi]]))
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(order)])
        ]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return pa.concat_arrays(parts).take(_int64s(inverse))


class ChunkedTake:
    """``table.take(indices)`` for any number of chunks, one request of rows at a time.

    Build it once per table (it reads the chunks' buffer positions) and call it with int64 row
    indices in ``[0, num_rows)`` (not checked here). Thread-safe: calls share nothing mutable.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.schema = table.schema
        buffers = [buf for column in table.columns for chunk in column.chunks for buf in chunk.buffers()]
        self.span = _Span(buffers, table)
        self.columns = [_Column(column, self.span) for column in table.columns]

    def __call__(self, indices: np.ndarray) -> list[pa.RecordBatch]:
        """The rows ``indices`` as record batches (one, unless a 32-bit offset would overflow)."""
        indices = np.asarray(indices, dtype=np.int64)
        try:
            return [self._batch(indices)]
        except OffsetOverflow:
            if len(indices) < 2:
                raise
            half = len(indices) // 2
            return self(indices[:half]) + self(indices[half:])

    def _batch(self, indices: np.ndarray) -> pa.RecordBatch:
        located: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        arrays = []
        for column in self.columns:
            if column.key not in located and len(indices):
                located[column.key] = column.locate(indices)
            arrays.append(column.take(indices, located.get(column.key, (indices, indices))))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)
