"""Row ``uid``: a stable 128-bit content hash, computed column-wise with Arrow compute.

Algorithm (``UID_ALGORITHM``; changing it requires a converter version bump):

1. Each content field is serialized canonically, vectorized over the whole column:
   strings are NFKC-normalized and written ``S`` + the 16-byte xxh3-128 digest of their UTF-8
   bytes; binary ``B`` + the digest of its bytes (fixed width, so no length or escaping is needed);
   numbers and booleans ``I<decimal>`` / ``F<repr>`` / ``T``/``F``; a list ``L<count>:`` followed by
   its items; a struct ``{`` followed by its fields in schema order; a null ``N``.
2. A row's record is ``<field name>=<serialization>;`` for each field, in the given order.
3. ``uid`` = lower-case hex of xxh3-128 of that record.

Hashing calls one C function per string value and per row; all joins run on short fixed-width digests.

Identical content gives identical uids; the hash is independent of batch boundaries.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

UID_ALGORITHM = "xxh3-128/nfkc-canonical-v1"
UID_FIELD = pa.field("uid", pa.string(), nullable=False)


def _join(parts: list[pa.Array | pa.Scalar]) -> pa.Array:
    return pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))


def _len_str(arr: pa.Array) -> pa.Array:
    return pc.cast(pc.cast(arr, pa.string()), pa.large_binary())


def _with_nulls(arr: pa.Array, out: pa.Array) -> pa.Array:
    if arr.null_count == 0:
        return out
    return pc.if_else(pc.is_null(arr), pa.scalar(b"N", pa.large_binary()), out)


def _offsets_and_view(arr: pa.Array) -> tuple[list[int], memoryview]:
    """Offsets (as a list) and data buffer of a ``large_binary`` array."""
    n = len(arr)
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1].tolist()
    data = arr.buffers()[2]
    return offs, memoryview(data) if data is not None else memoryview(b"")


def _hash_values(arr: pa.Array, digest: Callable[[memoryview], bytes | str], out_type: pa.DataType) -> pa.Array:
    """``digest`` of each value of a ``large_binary`` array (read in place), as an array of ``out_type``."""
    if len(arr) == 0:
        return pa.array([], out_type)
    offs, view = _offsets_and_view(arr)
    return pa.array([digest(view[offs[i] : offs[i + 1]]) for i in range(len(arr))], out_type)


def _digests(arr: pa.Array) -> pa.Array:
    """The 16-byte xxh3-128 digest of each value of a ``large_binary`` array, as ``large_binary``."""
    return _hash_values(arr, xxhash.xxh3_128_digest, pa.large_binary())


def nfkc(arr: pa.Array) -> pa.Array:
    """NFKC-normalize a string array, touching only its non-ASCII values (ASCII is NFKC already)."""
    non_ascii = pc.invert(pc.fill_null(pc.string_is_ascii(arr), True))
    if not pc.any(non_ascii).as_py():
        return arr
    normalized = pc.utf8_normalize(arr.filter(non_ascii), "NFKC")
    return pc.replace_with_mask(arr, non_ascii, normalized)


def serialize(arr: pa.Array) -> pa.Array:
    """Canonical ``large_binary`` serialization of each value of ``arr`` (see module docstring)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    tag = lambda s: pa.scalar(s.encode(), pa.large_binary())  # noqa: E731
    if pa.types.is_dictionary(t):
        return serialize(arr.dictionary_decode())
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        body = pc.cast(nfkc(pc.cast(arr, pa.large_string())), pa.large_binary())
        out = _join([tag("S"), _digests(body)])
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t):
        out = _join([tag("B"), _digests(pc.cast(arr, pa.large_binary()))])
    elif pa.types.is_boolean(t):
        out = pc.if_else(arr, tag("T"), tag("F"))
    elif pa.types.is_integer(t):
        out = _join([tag("I"), _len_str(arr)])
    elif pa.types.is_floating(t) or pa.types.is_decimal(t):
        out = _join([tag("F"), _len_str(arr)])
    elif pa.types.is_temporal(t):
        out = _join([tag("D"), _len_str(pc.cast(arr, pa.int64()) if not pa.types.is_date32(t) else pc.cast(arr, pa.int32()))])
    elif pa.types.is_null(t):
        return pa.array([b"N"] * len(arr), pa.large_binary())
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t):
        if pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t):
            arr = pc.cast(arr, pa.large_list(t.value_type))
        offsets = arr.offsets.to_numpy(zero_copy_only=False).astype("int64")
        items = serialize(arr.flatten())
        nested = pa.LargeListArray.from_arrays(pa.array(offsets - offsets[0], pa.int64()), items)
        joined = pc.binary_join(nested, pa.scalar(b"", pa.large_binary()))
        out = _join([tag("L"), _len_str(pc.list_value_length(arr)), tag(":"), joined])
    elif pa.types.is_struct(t):
        parts: list[pa.Array | pa.Scalar] = [tag("{")]
        for i in range(t.num_fields):
            parts += [tag(t.field(i).name + "="), serialize(pc.struct_field(arr, [i])), tag(";")]
        out = _join(parts)
    else:
        raise TypeError(f"cannot compute uid over a column of type {t}")
    return _with_nulls(arr, out)


def row_records(table: pa.Table | pa.RecordBatch, fields: Sequence[str]) -> pa.Array:
    """The canonical per-row records that ``uid`` hashes."""
    if table.num_rows == 0:
        return pa.array([], pa.large_binary())
    parts: list[pa.Array | pa.Scalar] = []
    for name in fields:
        column = table.column(name)
        parts += [pa.scalar(f"{name}=".encode(), pa.large_binary()), serialize(column), pa.scalar(b";", pa.large_binary())]
    return _join(parts)


def compute_uids(table: pa.Table | pa.RecordBatch, fields: Sequence[str]) -> pa.Array:
    """The ``uid`` strings of every row, hashing ``fields`` in the order given."""
    records = row_records(table, fields)
    if isinstance(records, pa.ChunkedArray):
        records = records.combine_chunks()
    return _hash_values(records, xxhash.xxh3_128_hexdigest, pa.string())


def add_uid(table: pa.Table, fields: Sequence[str]) -> pa.Table:
    """Return ``table`` with a ``uid`` column appended (replacing an existing one)."""
    if "uid" in table.column_names:
        table = table.drop_columns(["uid"])
    uids = compute_uids(table, fields)
    return table.append_column(UID_FIELD, uids)
