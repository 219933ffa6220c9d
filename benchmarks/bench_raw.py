"""Materializing a local Parquet split to Arrow, ours vs ``datasets``.

ours:     steps.raw.raw_stream (formats.read_batches: Parquet, pre_buffer off; decoded ahead in a
          background thread) → engine.ipc.write_batches (atomic Arrow IPC): what raw/<name> runs
datasets: datasets.load_dataset("parquet", data_files=…) → Dataset.save_to_disk

Both run in a fresh interpreter with their libraries imported before the clock starts; the
Parquet file is written once (2 turns of ~40-word user / ~160-word assistant messages per row,
100,000-row row groups) and read into the page cache right before each side runs. The two
outputs are checked equal (every column, in slices of 50,000 rows).

Each side runs ``--repeat`` times (default 3), each run in a fresh interpreter (and a fresh
``datasets`` cache), alternating the two sides; the median wall time is reported (with the
range), and the highest peak memory.

    .venv/bin/python -m benchmarks.bench_raw [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from benchmarks.harness import Case, machine, measure_alternating, now, save, table

WORK = Path(__file__).resolve().parent / "_work"


def ours(parquet: str, out: str) -> dict:
    """What the ``raw/<name>`` asset runs on a downloaded split: ``steps.raw.raw_stream`` (Parquet
    batches, conformed to the split's schema, decoded a few batches ahead in a background thread)
    written by ``engine.ipc.write_batches``."""
    from datasets_pipeline.catalog import get_spec
    from datasets_pipeline.engine.ipc import write_batches
    from datasets_pipeline.hub.source import SourceFile, SplitFiles
    from datasets_pipeline.steps.raw import raw_stream

    path = Path(parquet)
    source = SourceFile(path=f"data/{path.name}", local_path=path, size=path.stat().st_size, sha256="0" * 64, revision="0" * 40)
    files = SplitFiles(repo_id="local/chat", config="default", split="train", requested_revision="main",
                       sha="0" * 40, origin="local", files=(source,))
    stream = raw_stream(get_spec("tulu3_sft"), files)
    stats = write_batches(out, stream, schema=stream.schema)
    return {"rows": stats.rows, "bytes": stats.bytes}


def theirs(parquet: str, out: str, cache: str) -> dict:
    import datasets

    ds = datasets.load_dataset("parquet", data_files=parquet, split="train", cache_dir=cache)
    ds.save_to_disk(out)
    return {"rows": ds.num_rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (the median is reported)")
    args = parser.parse_args()
    from benchmarks.bench_engine import _du, assert_same
    from benchmarks.chat_data import write_chat_parquet

    parquet = WORK / f"chat-{args.rows}.parquet"
    if not parquet.exists():
        write_chat_parquet(parquet, args.rows)
    size_mb = parquet.stat().st_size / 1e6
    tmp = Path(tempfile.mkdtemp(dir=WORK))
    try:
        def fresh_theirs() -> None:
            shutil.rmtree(tmp / "hf", ignore_errors=True)
            shutil.rmtree(tmp / "cache", ignore_errors=True)

        m_theirs, m_ours = measure_alternating(
            [
                Case("datasets", "benchmarks.bench_raw:theirs", fresh_theirs,
                     dict(preimport=["pyarrow", "datasets"], warm=[parquet], parquet=str(parquet), out=str(tmp / "hf"),
                          cache=str(tmp / "cache"))),
                Case("ours", "benchmarks.bench_raw:ours", lambda: (tmp / "ours.arrow").unlink(missing_ok=True),
                     dict(preimport=["pyarrow", "datasets_pipeline.steps.raw", "datasets_pipeline.catalog"],
                          warm=[parquet], parquet=str(parquet), out=str(tmp / "ours.arrow"))),
            ],
            args.repeat,
        )
        shutil.rmtree(tmp / "cache", ignore_errors=True)
        assert m_ours.out["rows"] == m_theirs.out["rows"] == args.rows
        check = assert_same(str(tmp / "ours.arrow"), str(tmp / "hf"))
        arrow_mb = {"ours": m_ours.out["bytes"] / 1e6, "datasets": _du(tmp / "hf") / 1e6}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    case = f"Parquet → Arrow, {args.rows:,} chat rows ({size_mb:.0f} MB Parquet)"
    print(table([(case, m_theirs, m_ours)]))
    name = "raw" if args.rows == 1_000_000 else f"raw-{args.rows}"
    print("saved", save(name, {"when": now(), "rows": args.rows, "repeat": args.repeat, "parquet_mb": size_mb, "arrow_mb": arrow_mb,
                                "check": check, "machine": machine(), "datasets": vars(m_theirs), "ours": vars(m_ours)}))


if __name__ == "__main__":
    main()
