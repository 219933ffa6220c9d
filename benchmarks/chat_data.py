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


def chat_table(n: int, seed: int = 0, turns: int = 2) -> pa.Table:
    """``n`` conversations of ``2*turns`` messages (user ~40 words, assistant ~160 words)."""
    rng = np.random.default_rng(seed)
    m = n * 2 * turns
    roles = pa.array(np.tile(np.array(["user", "assistant"]), n * turns))
    user = _texts(rng, n * turns, 40)
    assistant = _texts(rng, n * turns, 160)
    merged = pa.concat_arrays([user, assistant])
    order = np.empty(m, dtype=np.int64)
    order[0::2] = np.arange(n * turns)
    order[1::2] = n * turns + np.arange(n * turns)
    content = merged.take(pa.array(order))
    structs = pa.StructArray.from_arrays([roles, content], names=["role", "content"])
    offsets = pa.array(np.arange(0, m + 1, 2 * turns, dtype=np.int32))
    messages = pa.ListArray.from_arrays(offsets, structs)
    return pa.table({"messages": messages, "source": pa.array(np.full(n, "synthetic"))})


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
