"""Issue: materializing a local Parquet split to Arrow, ours vs ``datasets``.

ours:     formats.read_batches (Parquet, pre_buffer off) → engine.ipc.write_batches (atomic Arrow IPC)
datasets: datasets.load_dataset("parquet", data_files=…) → Dataset.save_to_disk

Both run in a fresh interpreter with their libraries imported before the clock starts; the
Parquet file is written once (2 turns of ~40-word user / ~160-word assistant messages per row,
100,000-row row groups) and is in the page cache for both sides.

    .venv/bin/python -m benchmarks.bench_raw [--rows 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from benchmarks.harness import machine, measure, now, save, table

WORK = Path(__file__).resolve().parent / "_work"


def ours(parquet: str, out: str) -> dict:
    from datasets_pipeline.engine.ipc import write_batches
    from datasets_pipeline.formats import read_batches

    stats = write_batches(out, read_batches(parquet, name=Path(parquet).name))
    return {"rows": stats.rows, "bytes": stats.bytes}


def theirs(parquet: str, out: str, cache: str) -> dict:
    import datasets

    ds = datasets.load_dataset("parquet", data_files=parquet, split="train", cache_dir=cache)
    ds.save_to_disk(out)
    return {"rows": ds.num_rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    from benchmarks.chat_data import write_chat_parquet

    parquet = WORK / f"chat-{args.rows}.parquet"
    if not parquet.exists():
        write_chat_parquet(parquet, args.rows)
    size_mb = parquet.stat().st_size / 1e6
    tmp = Path(tempfile.mkdtemp(dir=WORK))
    try:
        m_theirs = measure("datasets", "benchmarks.bench_raw:theirs", preimport=["pyarrow", "datasets"],
                           parquet=str(parquet), out=str(tmp / "hf"), cache=str(tmp / "cache"))
        m_ours = measure("ours", "benchmarks.bench_raw:ours", preimport=["pyarrow", "datasets_pipeline.formats", "datasets_pipeline.engine.ipc"],
                         parquet=str(parquet), out=str(tmp / "ours.arrow"))
        arrow_mb = {"ours": m_ours.out["bytes"] / 1e6}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert m_ours.out["rows"] == m_theirs.out["rows"] == args.rows
    case = f"Parquet → Arrow, {args.rows:,} chat rows ({size_mb:.0f} MB Parquet)"
    print(table([(case, m_theirs, m_ours)]))
    name = "raw" if args.rows == 1_000_000 else f"raw-{args.rows}"
    print("saved", save(name, {"when": now(), "rows": args.rows, "parquet_mb": size_mb, "arrow_mb": arrow_mb,
                                "machine": machine(), "datasets": vars(m_theirs), "ours": vars(m_ours)}))


if __name__ == "__main__":
    main()
