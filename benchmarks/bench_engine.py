"""The Arrow dataset engine: interleave, shuffle, train_test_split and streaming interleave,
ours vs ``datasets``, every result materialized to disk and checked equal row for row.

Inputs are written once per case, in each side's native on-disk format (same rows):

- ours: an Arrow IPC **file** in the record batches the cookbook layer writes (``cookbook``
  layout: about 8 MB of rows each, ``steps.cookbook.convert_batch_rows``; ``--ours-batch-rows N``
  for N-row batches), opened memory-mapped with ``engine.ipc.read_table`` as the assets store splits;
- datasets: an Arrow IPC **stream** (1,000-row record batches, the ``save_to_disk`` layout),
  opened memory-mapped with ``datasets.Dataset.from_file``.

Cases (``N`` = ``--rows``, default 1,000,000):

a. interleave of 3 sources of 1.5N / N / 0.5N small chat rows (one user + one assistant
   message, ~0.5 kB), probabilities [0.5, 0.3, 0.2], seed 42, each stopping strategy.
   datasets: ``interleave_datasets(...)`` + ``save_to_disk``.
   ours: ``interleave_indices`` + ``gather.write_take`` into one Arrow file.
b. ``shuffle(seed=42)`` of N chat rows (2 turns, ~2.3 kB per row).
   datasets: ``Dataset.shuffle`` + ``save_to_disk``. ours: ``shuffle.permutation`` + ``write_take``.
   Reference for b and c: "copy", the same rows written in input order (datasets:
   ``Dataset.from_file(...).save_to_disk``; ours: ``ipc.write_batches`` of the table's batches),
   i.e. what materializing 2.3 GB costs on this disk without any gather.
c. ``train_test_split(test_size=0.1, seed=42)`` of the same rows.
   datasets: ``Dataset.train_test_split`` + ``DatasetDict.save_to_disk``.
   ours: ``split.split_indices`` + ``write_take`` of train and test.
d. streaming interleave (all_exhausted_without_replacement, same probabilities and seed) of
   3 chat sources of 0.15N / 0.1N / 0.05N rows at 1×, 2×, 4× that length, read to the end.
   datasets: ``Dataset.from_file(...).to_iterable_dataset()`` sources, ``interleave_datasets``,
   ``.iter(batch_size=1000)``, both as Python rows (the default) and after ``.with_format("arrow")``
   (Arrow tables, as ours reads). ours: ``StreamingDataset.from_arrow_file`` +
   ``interleave_streams``, ``iter_batches()``. Both hash the ``id`` column of every row.

Each side of each case runs ``--repeat`` times (default 3), each run in a fresh interpreter,
alternating the two sides (datasets, ours, datasets, ours, …); the median wall time is reported
(with the range), and the highest peak memory.

Every case asserts that our output equals datasets' output: same number of rows, same columns,
every column equal in slices of 50,000 rows (a, b, c), or the same SHA-256 over the ordered row
ids (d). A side that fails (an exception in the package) is recorded as failed, not skipped.
Inputs are read into the page cache right before each side runs (see ``harness.warm_files``).

    .venv/bin/python -m benchmarks.bench_engine [--rows 1000000] [--repeat 3] [--only interleave,copy,shuffle,split,streaming] [--ours-batch-rows cookbook|N]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
from pathlib import Path

from benchmarks.harness import Case, Measurement, disturbed, machine, measure_alternating, now, save, table, wall

WORK = Path(__file__).resolve().parent / "_work" / "engine"
PROBABILITIES = [0.5, 0.3, 0.2]
SEED = 42
STRATEGIES = ["first_exhausted", "all_exhausted", "all_exhausted_without_replacement"]
CASES = ["interleave", "copy", "shuffle", "split", "streaming", "interleave-flat", "shuffle-flat", "split-flat"]
FLAT = "flatten_indices"
SLICE = 50_000
OURS_IMPORTS = ["pyarrow", "numpy", "datasets_pipeline.engine"]
THEIRS_IMPORTS = ["pyarrow", "numpy", "datasets"]
LAYOUT = {"ours_batch_rows": "cookbook"}  # set by --ours-batch-rows


# ---------------------------------------------------------------- the measured work (child processes)


def _clear_caches(paths: list[str]) -> None:
    """Remove the ``cache-*.arrow`` files ``datasets`` writes beside its input files."""
    for folder in {os.path.dirname(p) for p in paths}:
        for f in glob.glob(os.path.join(folder, "cache-*.arrow")):
            os.remove(f)


def theirs_interleave(streams: list[str], strategy: str, out: str, materialize: str = "save_to_disk") -> dict:
    import datasets

    sources = [datasets.Dataset.from_file(p) for p in streams]
    mixed = datasets.interleave_datasets(sources, probabilities=PROBABILITIES, seed=SEED, stopping_strategy=strategy)
    _materialize(mixed, out, materialize)
    return {"rows": mixed.num_rows}


def _materialize(ds, out: str, how: str) -> None:
    """``save_to_disk(out)``, or ``flatten_indices`` into ``out/data.arrow`` (the library's own
    way to turn an indices mapping into contiguous rows on disk)."""
    if how == FLAT:
        os.makedirs(out, exist_ok=True)
        ds.flatten_indices(cache_file_name=os.path.join(out, "data.arrow"))
    else:
        ds.save_to_disk(out)


def ours_interleave(files: list[str], strategy: str, out: str, durable: bool = True) -> dict:
    from datasets_pipeline.engine.concat import concatenate
    from datasets_pipeline.engine.gather import write_take
    from datasets_pipeline.engine.interleave import interleave_indices
    from datasets_pipeline.engine.ipc import read_table

    tables = [read_table(f) for f in files]
    indices = interleave_indices([t.num_rows for t in tables], PROBABILITIES, SEED, strategy)
    stats = write_take(out, concatenate(tables), indices, durable=durable)
    return {"rows": stats.rows, "bytes": stats.bytes}


def theirs_shuffle(stream: str, out: str, materialize: str = "save_to_disk") -> dict:
    import datasets

    ds = datasets.Dataset.from_file(stream).shuffle(seed=SEED)
    _materialize(ds, out, materialize)
    return {"rows": ds.num_rows}


def ours_shuffle(file: str, out: str, durable: bool = True) -> dict:
    from datasets_pipeline.engine.gather import write_take
    from datasets_pipeline.engine.ipc import read_table
    from datasets_pipeline.engine.shuffle import permutation

    t = read_table(file)
    stats = write_take(out, t, permutation(t.num_rows, SEED), durable=durable)
    return {"rows": stats.rows, "bytes": stats.bytes}


def theirs_copy(stream: str, out: str) -> dict:
    import datasets

    ds = datasets.Dataset.from_file(stream)
    ds.save_to_disk(out)
    return {"rows": ds.num_rows}


def ours_copy(file: str, out: str, durable: bool = True) -> dict:
    from datasets_pipeline.engine.ipc import read_table, write_batches

    t = read_table(file)
    stats = write_batches(out, t.to_batches(), schema=t.schema, durable=durable)
    return {"rows": stats.rows, "bytes": stats.bytes}


def theirs_split(stream: str, out: str, materialize: str = "save_to_disk") -> dict:
    import datasets

    dd = datasets.Dataset.from_file(stream).train_test_split(test_size=0.1, seed=SEED)
    if materialize == FLAT:
        for name, part in dd.items():
            _materialize(part, os.path.join(out, name), FLAT)
    else:
        dd.save_to_disk(out)
    return {"train": dd["train"].num_rows, "test": dd["test"].num_rows}


def ours_split(file: str, out: str, durable: bool = True) -> dict:
    from datasets_pipeline.engine.gather import write_take
    from datasets_pipeline.engine.ipc import read_table
    from datasets_pipeline.engine.split import split_indices

    t = read_table(file)
    train, test = split_indices(t.num_rows, test_size=0.1, seed=SEED)
    a = write_take(os.path.join(out, "train.arrow"), t, train, durable=durable)
    b = write_take(os.path.join(out, "test.arrow"), t, test, durable=durable)
    return {"train": a.rows, "test": b.rows, "bytes": a.bytes + b.bytes}


def theirs_stream(streams: list[str], strategy: str, arrow: bool = False) -> dict:
    """``interleave_datasets`` of iterable sources read to the end, 1,000 rows at a time: as Python
    rows (``.iter``'s default: a dict of lists per batch) or, with ``arrow``, after
    ``.with_format("arrow")`` (a ``pyarrow.Table`` per batch, like ours)."""
    import datasets
    import numpy as np

    sources = [datasets.Dataset.from_file(p).to_iterable_dataset() for p in streams]
    mixed = datasets.interleave_datasets(sources, probabilities=PROBABILITIES, seed=SEED, stopping_strategy=strategy)
    if arrow:
        mixed = mixed.with_format("arrow")
    digest, rows = hashlib.sha256(), 0
    for batch in mixed.iter(batch_size=1000):
        ids = batch.column("id").to_numpy() if arrow else batch["id"]
        ids = np.asarray(ids, dtype=np.int64)
        digest.update(ids.tobytes())
        rows += len(ids)
    return {"rows": rows, "sha256": digest.hexdigest()}


def ours_stream(files: list[str], strategy: str) -> dict:
    import numpy as np

    from datasets_pipeline.engine.streaming import StreamingDataset, interleave_streams

    sources = [StreamingDataset.from_arrow_file(f) for f in files]
    mixed = interleave_streams(sources, probabilities=PROBABILITIES, seed=SEED, stopping_strategy=strategy)
    digest, rows = hashlib.sha256(), 0
    for batch in mixed.iter_batches():
        ids = np.asarray(batch.column("id").to_numpy(), dtype=np.int64)
        digest.update(ids.tobytes())
        rows += len(ids)
    return {"rows": rows, "sha256": digest.hexdigest()}


# ---------------------------------------------------------------- inputs and checks (parent process)


def _write_sources(prefix: str, sizes: list[int], **chat_kwargs) -> tuple[list[str], list[str]]:
    """One Arrow file (ours) and one Arrow stream (datasets) per source; ids unique across sources."""
    from benchmarks.chat_data import chat_table, write_arrow_pair
    from datasets_pipeline.steps.cookbook import convert_batch_rows

    layout = LAYOUT["ours_batch_rows"]
    batch_rows = convert_batch_rows(chat_table(2_000, **chat_kwargs)) if layout == "cookbook" else int(layout)
    files, streams = [], []
    base = 0
    for i, n in enumerate(sizes):
        f, s = WORK / "ours" / f"{prefix}-{i}.arrow", WORK / "hf" / f"{prefix}-{i}.arrow"
        offset = base

        def make(start: int, rows: int, offset: int = offset, i: int = i) -> object:
            return chat_table(rows, seed=1_000_003 * i + start, id_offset=offset + start, **chat_kwargs)

        write_arrow_pair(f, s, make, n, file_batch_rows=batch_rows)
        files.append(str(f))
        streams.append(str(s))
        base += n
    return files, streams


def _hf_table(folder: str):
    """The rows of a ``save_to_disk`` folder (one split) or of ``folder/data.arrow`` (``flatten_indices``
    output), memory-mapped, shards in order."""
    import pyarrow as pa

    if not Path(folder, "state.json").exists():
        return pa.ipc.open_stream(pa.memory_map(os.path.join(folder, "data.arrow"))).read_all()
    state = json.loads(Path(folder, "state.json").read_text())
    tables = [
        pa.ipc.open_stream(pa.memory_map(os.path.join(folder, f["filename"]))).read_all() for f in state["_data_files"]
    ]
    return pa.concat_tables(tables)


def assert_same(ours_file: str, theirs_folder: str) -> dict:
    """Our Arrow file and datasets' saved split hold the same rows in the same order."""
    from datasets_pipeline.engine.ipc import read_table

    ours, theirs = read_table(ours_file), _hf_table(theirs_folder)
    assert ours.num_rows == theirs.num_rows, (ours.num_rows, theirs.num_rows)
    assert ours.column_names == theirs.column_names, (ours.column_names, theirs.column_names)
    for start in range(0, ours.num_rows, SLICE):
        for name in ours.column_names:
            a, b = ours.column(name).slice(start, SLICE), theirs.column(name).slice(start, SLICE)
            if not a.type.equals(b.type):
                b = b.cast(a.type)
            assert a.equals(b), f"column {name!r} differs in rows {start}..{start + SLICE - 1}"
    if "id" not in ours.column_names:
        return {"rows": ours.num_rows, "columns_equal": ours.column_names}
    ids = ours.column("id").to_numpy()
    return {"rows": ours.num_rows, "id_sha256": hashlib.sha256(ids.tobytes()).hexdigest()}


def _rm(*paths: str | Path) -> None:
    for p in paths:
        p = Path(p)
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.unlink()


def _du(path: str | Path) -> int:
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _compare(case: str, results: dict, rows_for_table: list, theirs: tuple, ours: tuple, outs: tuple, check,
             files: list[str], repeat: int) -> None:
    """Run datasets' side, ours and ours without fsync in turn, ``repeat`` rounds (median
    reported); check that both our outputs equal datasets' output; delete the outputs.

    Ours fsyncs its output inside the measured time (the assets' atomic writes); ``datasets``
    leaves its dirty pages to the kernel. The third side, ``durable=False``, does the same work as
    ``datasets``: the rows in a file in the page cache."""
    theirs_target, theirs_kwargs, streams = theirs
    ours_target, ours_kwargs = ours
    out_t, out_o = outs
    out_n = Path(f"{out_o}-nofsync")

    def fresh() -> None:
        _rm(out_t)
        _clear_caches(streams)

    try:
        m_t, m_o, m_n = measure_alternating(
            [
                Case(f"datasets: {case}", theirs_target, fresh,
                     dict(preimport=THEIRS_IMPORTS, warm=streams, out=str(out_t), **theirs_kwargs)),
                Case(f"ours: {case}", ours_target, lambda: _rm(out_o),
                     dict(preimport=OURS_IMPORTS, allow_failure=True, warm=files, out=str(out_o), **ours_kwargs)),
                Case(f"ours without fsync: {case}", ours_target, lambda: _rm(out_n),
                     dict(preimport=OURS_IMPORTS, allow_failure=True, warm=files, out=str(out_n), durable=False, **ours_kwargs)),
            ],
            repeat,
        )
        record = {"case": case, "datasets": vars(m_t), "ours": vars(m_o), "ours_without_fsync": vars(m_n)}
        if not m_o.failed:
            record["check"] = check(out_o, out_t, m_t, m_o)
            record["output_bytes"] = {"ours": _du(out_o), "datasets": _du(out_t)}
        if not m_n.failed:
            record["check_without_fsync"] = check(out_n, out_t, m_t, m_n)
        results["cases"].append(record)
        rows_for_table.append((case, m_t, m_o))
        rows_for_table.append((f"{case}, ours without fsync", m_t, m_n))
    finally:
        _rm(out_t, out_o, out_n)
        _clear_caches(streams)


def _modes(cases: set[str], name: str) -> list[tuple[str, str]]:
    """(case-name suffix, datasets' materialization) for the asked variants of ``name``."""
    modes = [("", "save_to_disk")] if name in cases else []
    return modes + ([(", datasets via flatten_indices", FLAT)] if f"{name}-flat" in cases else [])


def run_interleave(n: int, results: dict, rows_for_table: list, cases: set[str], repeat: int) -> None:
    sizes = [n * 3 // 2, n, n // 2]
    print(f"interleave: writing sources {sizes} …", flush=True)
    files, streams = _write_sources("interleave", sizes, turns=1, user_words=20, assistant_words=60)
    results["interleave_input_bytes"] = {"ours": sum(map(_du, files)), "datasets": sum(map(_du, streams))}

    def check(out_o, out_t, m_t, m_o):
        same = assert_same(str(out_o), str(out_t))
        assert m_t.out["rows"] == m_o.out["rows"] == same["rows"]
        return same

    try:
        for (suffix, how), strategy in ((m, st) for m in _modes(cases, "interleave") for st in STRATEGIES):
            case = f"interleave {sum(sizes):,} rows, {strategy}{suffix}"
            _compare(
                case, results, rows_for_table,
                ("benchmarks.bench_engine:theirs_interleave", {"streams": streams, "strategy": strategy, "materialize": how}, streams),
                ("benchmarks.bench_engine:ours_interleave", {"files": files, "strategy": strategy}),
                (WORK / "out-hf", WORK / "out-ours.arrow"),
                check,
                files,
                repeat,
            )
    finally:
        _rm(*files, *streams)


def run_shuffle_split(n: int, results: dict, rows_for_table: list, cases: set[str], repeat: int) -> None:
    print(f"shuffle/split: writing {n:,} chat rows …", flush=True)
    files, streams = _write_sources("chat", [n])
    file, stream = files[0], streams[0]
    results["chat_input_bytes"] = {"ours": _du(file), "datasets": _du(stream)}

    def check_shuffle(out_o, out_t, m_t, m_o):
        return assert_same(str(out_o), str(out_t))

    def check_split(out_o, out_t, m_t, m_o):
        assert m_t.out["train"] == m_o.out["train"] and m_t.out["test"] == m_o.out["test"]
        return {part: assert_same(str(Path(out_o) / f"{part}.arrow"), str(Path(out_t) / part)) for part in ("train", "test")}

    try:
        if "copy" in cases:
            _compare(
                f"copy in input order (no gather), {n:,} chat rows", results, rows_for_table,
                ("benchmarks.bench_engine:theirs_copy", {"stream": stream}, streams),
                ("benchmarks.bench_engine:ours_copy", {"file": file}),
                (WORK / "out-hf", WORK / "out-ours.arrow"),
                check_shuffle,
                files,
                repeat,
            )
        for suffix, how in _modes(cases, "shuffle"):
            _compare(
                f"shuffle(seed=42), {n:,} chat rows{suffix}", results, rows_for_table,
                ("benchmarks.bench_engine:theirs_shuffle", {"stream": stream, "materialize": how}, streams),
                ("benchmarks.bench_engine:ours_shuffle", {"file": file}),
                (WORK / "out-hf", WORK / "out-ours.arrow"),
                check_shuffle,
                files,
                repeat,
            )
        for suffix, how in _modes(cases, "split"):
            _compare(
                f"train_test_split(0.1, seed=42), {n:,} chat rows{suffix}", results, rows_for_table,
                ("benchmarks.bench_engine:theirs_split", {"stream": stream, "materialize": how}, streams),
                ("benchmarks.bench_engine:ours_split", {"file": file}),
                (WORK / "out-hf", WORK / "out-ours"),
                check_split,
                files,
                repeat,
            )
    finally:
        _rm(file, stream)


def run_streaming(n: int, results: dict, repeat: int) -> list[dict]:
    strategy = "all_exhausted_without_replacement"
    base = [n * 15 // 100, n // 10, n // 20]
    rows = []
    for scale in (1, 2, 4):
        sizes = [s * scale for s in base]
        print(f"streaming interleave ×{scale}: writing sources {sizes} …", flush=True)
        files, streams = _write_sources(f"stream{scale}", sizes)
        try:
            m_t, m_a, m_o = measure_alternating(
                [
                    Case(f"datasets stream ×{scale}", "benchmarks.bench_engine:theirs_stream", None,
                         dict(preimport=THEIRS_IMPORTS, warm=streams, streams=streams, strategy=strategy)),
                    Case(f"datasets stream, arrow format ×{scale}", "benchmarks.bench_engine:theirs_stream", None,
                         dict(preimport=THEIRS_IMPORTS, warm=streams, streams=streams, strategy=strategy, arrow=True)),
                    Case(f"ours stream ×{scale}", "benchmarks.bench_engine:ours_stream", None,
                         dict(preimport=OURS_IMPORTS, warm=files, files=files, strategy=strategy)),
                ],
                repeat,
            )
            assert m_t.out == m_a.out == m_o.out, (m_t.out, m_a.out, m_o.out)
            assert m_o.out["rows"] == sum(sizes)
            row = {
                "scale": scale,
                "sizes": sizes,
                "input_bytes": sum(map(_du, files)),
                "datasets": vars(m_t),
                "datasets_arrow": vars(m_a),
                "ours": vars(m_o),
            }
            rows.append(row)
            results["streaming"].append(row)
        finally:
            _rm(*files, *streams)
    return rows


def streaming_table(rows: list[dict]) -> str:
    """One line per scale and ``datasets`` side (Python rows, then ``with_format("arrow")``) against ours."""
    lines = [
        "| sources | datasets reads | rows read | ours input (MB) | datasets wall (s) | ours wall (s) | speed-up "
        "| datasets peak RSS (MB) | ours peak RSS (MB) | datasets peak anon (MB) | ours peak anon (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        o = r["ours"]
        for how, t in (("Python rows (`.iter`)", r["datasets"]), ("Arrow (`.with_format(\"arrow\")`)", r.get("datasets_arrow"))):
            if t is None:
                continue
            mark = " †" if disturbed(t) or disturbed(o) else ""
            lines.append(
                f"| ×{r['scale']}{mark} ({' / '.join(f'{s:,}' for s in r['sizes'])}) | {how} | {o['out']['rows']:,} | "
                f"{r['input_bytes'] / 1e6:.0f} | {wall(t)} | {wall(o)} | {t['wall_s'] / o['wall_s']:.1f}× | "
                f"{t['peak_rss_mb']:.0f} | {o['peak_rss_mb']:.0f} | {t['peak_anon_mb']:.0f} | {o['peak_anon_mb']:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="N: rows of the shuffle/split input (interleave: 3N in total)")
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated cases to run (…-flat: datasets materializes with flatten_indices)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side and case (the median is reported)")
    parser.add_argument("--ours-batch-rows", default="cookbook", help="record batch rows of our input files: 'cookbook' (as the cookbook layer writes them) or a number")
    args = parser.parse_args()
    if args.ours_batch_rows != "cookbook" and not args.ours_batch_rows.isdigit():
        parser.error("--ours-batch-rows takes 'cookbook' or a number of rows")
    LAYOUT["ours_batch_rows"] = args.ours_batch_rows
    cases = set(args.only.split(","))
    unknown = cases - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {CASES}")
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict = {"when": now(), "rows": args.rows, "repeat": args.repeat, "ours_batch_rows": args.ours_batch_rows,
                     "machine": machine(), "cases": [], "streaming": []}
    rows_for_table: list = []
    try:
        if cases & {"interleave", "interleave-flat"}:
            run_interleave(args.rows, results, rows_for_table, cases, args.repeat)
        if cases & {"copy", "shuffle", "split", "shuffle-flat", "split-flat"}:
            run_shuffle_split(args.rows, results, rows_for_table, cases, args.repeat)
        stream_rows = run_streaming(args.rows, results, args.repeat) if "streaming" in cases else []
    finally:
        _rm(WORK / "out-hf", WORK / "out-ours.arrow", WORK / "out-ours", WORK / "out-ours.arrow-nofsync", WORK / "out-ours-nofsync")
    if rows_for_table:
        print(table(rows_for_table))
    if stream_rows:
        print(streaming_table(stream_rows))
    suffix = "" if cases == set(CASES) else "-" + "-".join(c for c in CASES if c in cases)
    suffix += "" if args.rows == 1_000_000 else f"-{args.rows}"
    suffix += "" if args.ours_batch_rows == "cookbook" else f"-batch{args.ours_batch_rows}"
    print("saved", save(f"engine{suffix}", results))


if __name__ == "__main__":
    main()
