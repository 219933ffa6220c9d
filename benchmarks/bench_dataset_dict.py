"""Chat DatasetDict in the ``save_to_disk`` layout: ``datasets_pipeline`` vs the ``datasets`` library.

A synthetic 1M-row chat table (``messages: list<struct<role, content>>``; 1-4 user/assistant
exchanges, an optional system prompt, log-normal message lengths; fixed seed) is generated with
pyarrow and written once as an Arrow IPC stream file. Both libraries start from that file,
memory-mapped, and make a 90% train / 10% test DatasetDict of it in two ways:

- **contiguous**: the first 90% and the last 10% of the rows (``Dataset.select(range(...))``,
  no indices mapping, vs ``Table.slice``);
- **shuffled**: ``Dataset.train_test_split(test_size=0.1, seed=42)`` (an indices mapping, the
  library's usual way to derive a test split) vs the same ``default_rng(42)`` permutation given to
  ``save_dataset_dict`` as ``(table, indices)``.

Steps, each run in a fresh interpreter by ``benchmarks.harness`` (median wall time of ``--repeat``
alternating runs, peak RSS and peak anonymous RSS, inputs in the page cache, memory prefaulted):

- save: ``save_dataset_dict`` vs ``DatasetDict.save_to_disk``, for both DatasetDicts, ours also with
  ``durable=True`` (shards written back while written and fsynced, as the DatasetDict assets
  write them; ``datasets`` never fsyncs). The contiguous
  case also runs a third side, the floor: the same two tables written by a bare
  ``pyarrow.ipc.new_stream`` (one file per split, no shards, no JSON, no hashing, no fsync);
- load: ``load_dataset_dict`` vs ``datasets.load_from_disk`` of the contiguous folders, each followed
  by the same full read of the loaded Arrow tables (total messages and total content characters,
  which reads every byte), so loading is compared like for like; "open" is the load call alone.

The shard files of the two libraries are compared byte for byte, and the loaded contents must be
equal.

    .venv/bin/python -m benchmarks.bench_dataset_dict [--rows 1000000] [--repeat 3]

Prints a Markdown table and writes ``benchmarks/results/dataset_dict.json``.
"""

from __future__ import annotations

import argparse
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmarks.harness import Case, machine, measure_alternating, now, save, table

SEED = 1234
SPLIT_SEED = 42
TEST_SIZE = 0.1
WORK = Path(__file__).resolve().parent / "_work" / "dataset_dict"
ROLES = pa.array(["system", "user", "assistant"])
MEDIAN_CHARS = np.array([150.0, 250.0, 700.0])  # per role: system, user, assistant
SIGMA = 0.9
GEN_BLOCK = 100_000
SCHEMA = pa.schema([pa.field("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))])
ALPHABET = np.frombuffer(b"etaoinshrdlucmfwypvbgkjqxz      ,.", dtype=np.uint8)


# --- data -------------------------------------------------------------------------------------------


def chat_table(rows: int, rng: np.random.Generator) -> pa.Table:
    """``rows`` conversations with realistic message counts and lengths, built column-wise."""
    exchanges = rng.integers(1, 5, rows)
    system = rng.random(rows) < 0.2
    counts = 2 * exchanges + system
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    # position of each message inside its conversation, shifted so that 0 = system, odd = user, even = assistant
    pos = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], counts)
    pos = pos + np.repeat(~system, counts)
    role_ids = np.where(pos == 0, 0, np.where(pos % 2 == 1, 1, 2)).astype(np.int8)
    lengths = np.maximum(1, rng.lognormal(np.log(MEDIAN_CHARS[role_ids]), SIGMA)).astype(np.int64)
    lengths = np.minimum(lengths, 20_000)
    text_offsets = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(lengths, out=text_offsets[1:])
    chars = ALPHABET[rng.integers(0, len(ALPHABET), int(text_offsets[-1]), dtype=np.uint8)]
    content = pa.LargeStringArray.from_buffers(total, pa.py_buffer(text_offsets), pa.py_buffer(chars)).cast(pa.string())
    role = ROLES.take(pa.array(role_ids))
    messages = pa.ListArray.from_arrays(
        pa.array(offsets), pa.StructArray.from_arrays([role, content], names=["role", "content"])
    )
    return pa.table({"messages": messages})


def write_input(rows: int, path: Path) -> dict:
    """Write the chat table block by block (bounded memory) as an IPC stream file."""
    rng = np.random.default_rng(SEED)
    nbytes = 0
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, SCHEMA) as writer:
        for start in range(0, rows, GEN_BLOCK):
            block = chat_table(min(GEN_BLOCK, rows - start), rng)
            writer.write_table(block, max_chunksize=65_536)
            nbytes += block.nbytes
    return {"rows": rows, "nbytes": nbytes, "file_bytes": path.stat().st_size}


# --- the measured work (child processes) -------------------------------------------------------------------


def _full_read(tables: dict[str, pa.Table]) -> dict[str, int]:
    import pyarrow.compute as pc

    messages = content = 0
    for t in tables.values():
        col = t.column("messages")
        messages += pc.sum(pc.list_value_length(col)).as_py() or 0
        flat = pc.list_flatten(col)
        content += pc.sum(pc.utf8_length(pc.struct_field(flat, "content"))).as_py() or 0  # reads every byte
    return {"messages": messages, "content_chars": content}


def theirs_save(source: str, out: str, shuffled: bool) -> dict:
    import datasets

    datasets.disable_progress_bars()
    ds = datasets.Dataset.from_file(source)
    n = len(ds)
    if shuffled:
        dd = ds.train_test_split(test_size=TEST_SIZE, seed=SPLIT_SEED)
    else:
        n_train = n - math.ceil(TEST_SIZE * n)
        dd = datasets.DatasetDict({"train": ds.select(range(n_train)), "test": ds.select(range(n_train, n))})
    dd.save_to_disk(out)
    return {"rows": {s: d.num_rows for s, d in dd.items()}}


def _our_tables(source: str) -> tuple[pa.Table, int]:
    t = pa.ipc.open_stream(pa.memory_map(source)).read_all()
    return t, math.ceil(TEST_SIZE * t.num_rows)


def ours_save(source: str, out: str, shuffled: bool, durable: bool = False) -> dict:
    from datasets_pipeline.engine.hf_disk import save_dataset_dict

    t, n_test = _our_tables(source)
    if shuffled:  # the permutation Dataset.train_test_split(test_size, seed) draws: test first
        perm = np.random.default_rng(SPLIT_SEED).permutation(t.num_rows)
        splits = {"train": (t, perm[n_test:]), "test": (t, perm[:n_test])}
    else:
        splits = {"train": t.slice(0, t.num_rows - n_test), "test": t.slice(t.num_rows - n_test)}
    stats = save_dataset_dict(splits, out, durable=durable)
    return {"rows": {s: v.num_rows for s, v in stats.splits.items()}, "shards": {s: len(v.files) for s, v in stats.splits.items()}}


def pyarrow_save(source: str, out: str) -> dict:
    """The floor: the contiguous train/test tables written by a bare Arrow IPC stream writer."""
    t, n_test = _our_tables(source)
    Path(out).mkdir(parents=True, exist_ok=True)
    parts = {"train": t.slice(0, t.num_rows - n_test), "test": t.slice(t.num_rows - n_test)}
    for name, part in parts.items():
        with pa.OSFile(str(Path(out) / f"{name}.arrow"), "wb") as sink, pa.ipc.new_stream(sink, part.schema) as writer:
            writer.write_table(part, max_chunksize=1000)
    return {"rows": {s: p.num_rows for s, p in parts.items()}}


def theirs_load(folder: str) -> dict:
    import datasets

    t0 = time.perf_counter()
    dd = datasets.load_from_disk(folder)
    opened = time.perf_counter() - t0
    return {"open_s": opened, **_full_read({s: d.data.table for s, d in dd.items()})}


def ours_load(folder: str) -> dict:
    from datasets_pipeline.engine.hf_disk import load_dataset_dict

    t0 = time.perf_counter()
    tables = load_dataset_dict(folder)
    opened = time.perf_counter() - t0
    return {"open_s": opened, **_full_read(tables)}


# --- checks and report (parent process) --------------------------------------------------------------------


def _same_shards(ours: Path, theirs: Path) -> bool:
    """Whether every ``.arrow`` shard of the two folders is byte-identical (same names)."""
    a = sorted(p.relative_to(ours) for p in ours.rglob("*.arrow"))
    b = sorted(p.relative_to(theirs) for p in theirs.rglob("*.arrow"))
    if a != b:
        return False
    for rel in a:
        with open(ours / rel, "rb") as fa, open(theirs / rel, "rb") as fb:
            while True:
                x, y = fa.read(1 << 24), fb.read(1 << 24)
                if x != y:
                    return False
                if not x:
                    break
    return True


def _rm(*paths: Path) -> None:
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side and step (the median is reported)")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    source = WORK / "chat.arrow"
    print(f"writing {args.rows:,} chat rows …", flush=True)
    inputs = write_input(args.rows, source)
    theirs, ours, durable, floor = WORK / "theirs", WORK / "ours", WORK / "ours-durable", WORK / "pyarrow"
    ours_imports, theirs_imports = ["pyarrow", "numpy", "datasets_pipeline.engine.hf_disk"], ["pyarrow", "numpy", "datasets"]
    warm = [str(source)]
    results: dict = {"when": now(), "rows": args.rows, "repeat": args.repeat, "machine": machine(), "input": inputs}
    rows: list = []
    try:
        here = "benchmarks.bench_dataset_dict"
        # 1. shuffled (derived) splits
        m_t, m_o, m_d = measure_alternating(
            [
                Case("datasets: save, shuffled", f"{here}:theirs_save", lambda: _rm(theirs),
                     dict(preimport=theirs_imports, warm=warm, source=str(source), out=str(theirs), shuffled=True)),
                Case("ours: save, shuffled", f"{here}:ours_save", lambda: _rm(ours),
                     dict(preimport=ours_imports, warm=warm, source=str(source), out=str(ours), shuffled=True)),
                Case("ours durable: save, shuffled", f"{here}:ours_save", lambda: _rm(durable),
                     dict(preimport=ours_imports, warm=warm, source=str(source), out=str(durable), shuffled=True, durable=True)),
            ],
            args.repeat,
        )
        assert m_t.out["rows"] == m_o.out["rows"] == m_d.out["rows"], (m_t.out, m_o.out, m_d.out)
        results["shuffled"] = {"datasets": vars(m_t), "ours": vars(m_o), "ours_durable": vars(m_d),
                               "shards_identical": _same_shards(ours, theirs) and _same_shards(durable, theirs)}  # fmt: skip
        rows.append(("save, shuffled splits (`train_test_split(0.1, seed=42)`)", m_t, m_o))
        rows.append(("save, shuffled splits, ours durable (fsynced)", m_t, m_d))
        _rm(theirs, ours, durable)
        # 2. contiguous splits, with the bare pyarrow writer as the floor
        m_t, m_o, m_d, m_p = measure_alternating(
            [
                Case("datasets: save, contiguous", f"{here}:theirs_save", lambda: _rm(theirs),
                     dict(preimport=theirs_imports, warm=warm, source=str(source), out=str(theirs), shuffled=False)),
                Case("ours: save, contiguous", f"{here}:ours_save", lambda: _rm(ours),
                     dict(preimport=ours_imports, warm=warm, source=str(source), out=str(ours), shuffled=False)),
                Case("ours durable: save, contiguous", f"{here}:ours_save", lambda: _rm(durable),
                     dict(preimport=ours_imports, warm=warm, source=str(source), out=str(durable), shuffled=False, durable=True)),
                Case("pyarrow stream write, contiguous", f"{here}:pyarrow_save", lambda: _rm(floor),
                     dict(preimport=["pyarrow", "numpy"], warm=warm, source=str(source), out=str(floor))),
            ],
            args.repeat,
        )
        assert m_t.out["rows"] == m_o.out["rows"] == m_d.out["rows"] == m_p.out["rows"], (m_t.out, m_o.out, m_d.out, m_p.out)
        results["contiguous"] = {"datasets": vars(m_t), "ours": vars(m_o), "ours_durable": vars(m_d), "pyarrow": vars(m_p),
                                 "shards_identical": _same_shards(ours, theirs) and _same_shards(durable, theirs)}  # fmt: skip
        rows.append(("save, contiguous splits (`select(range)` vs `Table.slice`)", m_t, m_o))
        rows.append(("save, contiguous splits, ours durable (fsynced)", m_t, m_d))
        _rm(durable)
        rows.append(("(floor) bare pyarrow stream write of the same two tables, vs datasets", m_t, m_p))
        _rm(floor)
        # 3. load + full read of the contiguous folders
        m_t, m_o = measure_alternating(
            [
                Case("datasets: load + read", f"{here}:theirs_load", None,
                     dict(preimport=theirs_imports, warm=[str(theirs)], folder=str(theirs))),
                Case("ours: load + read", f"{here}:ours_load", None,
                     dict(preimport=ours_imports, warm=[str(ours)], folder=str(ours))),
            ],
            args.repeat,
        )
        content = ({k: v for k, v in m.out.items() if k != "open_s"} for m in (m_t, m_o))
        assert next(content) == next(content), (m_t.out, m_o.out)
        results["load"] = {"datasets": vars(m_t), "ours": vars(m_o)}
        rows.append(("load + full read of every message", m_t, m_o))
    finally:
        _rm(theirs, ours, durable, floor)
        source.unlink(missing_ok=True)
    print(table(rows))
    open_t, open_o = results["load"]["datasets"]["out"]["open_s"], results["load"]["ours"]["out"]["open_s"]
    print(f"open only: datasets {open_t * 1e3:.1f} ms, ours {open_o * 1e3:.1f} ms; shards identical: "
          f"shuffled {results['shuffled']['shards_identical']}, contiguous {results['contiguous']['shards_identical']}")  # fmt: skip
    suffix = "" if args.rows == 1_000_000 else f"-{args.rows}"
    print("saved", save(f"dataset_dict{suffix}", results))


if __name__ == "__main__":
    main()
