"""Synthetic chat rows with realistic message lengths, generated vectorized with a fixed seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

WORDS = np.array(
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if so no what can out other into more "
    "model data train token answer question reason step because therefore solve equation value function".split()
)


def _texts(rng: np.random.Generator, n: int, mean_words: int) -> pa.Array:
    """``n`` strings of about ``mean_words`` words (lognormal lengths), built without a per-row loop."""
    lengths = np.clip(rng.lognormal(np.log(mean_words), 0.6, n).astype(np.int64), 1, mean_words * 8)
    indices = pa.array(rng.integers(0, len(WORDS), int(lengths.sum())).astype(np.int32))
    words = pa.DictionaryArray.from_arrays(indices, pa.array(WORDS)).cast(pa.string())
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), words)
    return pc.binary_join(lists, " ")


def _messages(
    rng: np.random.Generator,
    n: int,
    turns: int,
    user_words: int,
    assistant_words: int,
    names: tuple[str, str] = ("role", "content"),
    roles: tuple[str, str] = ("user", "assistant"),
) -> pa.ListArray:
    """``n`` lists of ``2*turns`` alternating user/assistant structs with fields ``names`` (role, text)."""
    m = n * 2 * turns
    role = pa.array(np.tile(np.array(list(roles)), n * turns))
    user = _texts(rng, n * turns, user_words)
    assistant = _texts(rng, n * turns, assistant_words)
    merged = pa.concat_arrays([user, assistant])
    order = np.empty(m, dtype=np.int64)
    order[0::2] = np.arange(n * turns)
    order[1::2] = n * turns + np.arange(n * turns)
    content = merged.take(pa.array(order))
    role_name, text_name = names
    fields = {role_name: role, text_name: content}
    structs = pa.StructArray.from_arrays(list(fields.values()), names=list(fields))
    offsets = pa.array(np.arange(0, m + 1, 2 * turns, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, structs)


def chat_table(
    n: int,
    seed: int = 0,
    turns: int = 2,
    user_words: int = 40,
    assistant_words: int = 160,
    id_offset: int | None = None,
) -> pa.Table:
    """``n`` conversations of ``2*turns`` messages (user ~40 words, assistant ~160 words).

    With ``id_offset``, a leading int64 ``id`` column numbers the rows from ``id_offset``.
    """
    rng = np.random.default_rng(seed)
    messages = _messages(rng, n, turns, user_words, assistant_words)
    columns = {"messages": messages, "source": pa.array(np.full(n, "synthetic"))}
    if id_offset is not None:
        columns = {"id": pa.array(np.arange(id_offset, id_offset + n, dtype=np.int64)), **columns}
    return pa.table(columns)


def openthoughts_table(n: int, seed: int = 0, turns: int = 1, user_words: int = 60, assistant_words: int = 400) -> pa.Table:
    """OpenThoughts3-style raw rows: ``difficulty``, ``source``, ``domain``,
    ``conversations: list<struct<from, value>>`` (``human`` / ``gpt``; the gpt turn is a long reasoning trace)."""
    rng = np.random.default_rng(seed)
    conversations = _messages(rng, n, turns, user_words, assistant_words, names=("from", "value"), roles=("human", "gpt"))
    domains = np.array(["math", "code", "science"])
    return pa.table(
        {
            "difficulty": pa.array(rng.integers(1, 11, n).astype(np.int64)),
            "source": pa.array(np.full(n, "ai2-adapt-dev/openmath-2-math")),
            "domain": pa.array(domains[rng.integers(0, 3, n)]),
            "conversations": conversations,
        }
    )


def tulu_table(n: int, seed: int = 0, turns: int = 2, user_words: int = 40, assistant_words: int = 160, id_offset: int = 0) -> pa.Table:
    """Tulu 3 SFT-style raw rows: ``id``, ``messages: list<struct<content, role>>`` (the Hub's field order), ``source``."""
    rng = np.random.default_rng(seed)
    flat = _messages(rng, n, turns, user_words, assistant_words)
    values = flat.values
    structs = pa.StructArray.from_arrays([values.field("content"), values.field("role")], names=["content", "role"])
    messages = pa.ListArray.from_arrays(flat.offsets, structs)
    ids = pc.binary_join_element_wise("tulu_", pa.array(np.arange(id_offset, id_offset + n)).cast(pa.string()), "")
    return pa.table({"id": ids, "messages": messages, "source": pa.array(np.full(n, "ai2-adapt-dev/tulu_v3.9_wildchat_100k"))})


def write_arrow_pair(
    file_path: Path,
    stream_path: Path | None,
    make_chunk,
    n: int,
    chunk: int = 100_000,
    file_batch_rows: int = 65_536,
    stream_batch_rows: int = 1000,
) -> pa.Schema:
    """Write ``n`` rows made by ``make_chunk(start, rows)`` to an Arrow IPC **file** (how this project
    stores splits, ``file_batch_rows``-row batches) and optionally an Arrow IPC **stream** (how
    ``datasets`` stores them, ``stream_batch_rows``-row batches, opened by ``Dataset.from_file``)."""
    file_path.parent.mkdir(parents=True, exist_ok=True)
    file_writer = stream_writer = None
    schema = None
    pending: list[pa.Table] = []
    try:
        for start in range(0, n, chunk):
            t = make_chunk(start, min(chunk, n - start))
            if file_writer is None:
                schema = t.schema
                file_writer = pa.ipc.new_file(str(file_path), t.schema)
                if stream_path is not None:
                    stream_path.parent.mkdir(parents=True, exist_ok=True)
                    stream_writer = pa.ipc.new_stream(str(stream_path), t.schema)
            # File batches of file_batch_rows rows across chunk boundaries.
            pending.append(t)
            rows = sum(p.num_rows for p in pending)
            if rows >= file_batch_rows:
                merged = pa.concat_tables(pending).combine_chunks()
                cut = rows - rows % file_batch_rows
                file_writer.write_table(merged.slice(0, cut), max_chunksize=file_batch_rows)
                pending = [merged.slice(cut)] if cut < rows else []
            if stream_writer is not None:
                stream_writer.write_table(t, max_chunksize=stream_batch_rows)
        if pending:
            file_writer.write_table(pa.concat_tables(pending).combine_chunks(), max_chunksize=file_batch_rows)
        return schema
    finally:
        if file_writer is not None:
            file_writer.close()
        if stream_writer is not None:
            stream_writer.close()


def write_chat_parquet(path: Path, n: int, seed: int = 0, chunk: int = 100_000) -> Path:
    """Write ``n`` chat rows to one Parquet file in chunks (row groups of ``chunk`` rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for start in range(0, n, chunk):
        t = chat_table(min(chunk, n - start), seed=seed + start)
        writer = writer or pq.ParquetWriter(path, t.schema)
        writer.write_table(t)
    writer.close()
    return path
