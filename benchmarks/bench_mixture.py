"""Issue "Interleaved mixtures": a 3-source mixture built by ``mixtures.build_mixture`` vs
``datasets.interleave_datasets`` materialized with ``save_to_disk`` and with ``flatten_indices()``.

Sources: 3 chat sources of 1.5N / N / 0.5N small chat rows (one user + one assistant message,
~0.5 kB, as the engine benchmark's interleave case), written once per scale in each side's native
layout (ours: Arrow IPC files in the cookbook layer's record batches, opened memory-mapped;
``datasets``: Arrow IPC streams opened with ``Dataset.from_file``). The mixture is declared as in
``mixtures.yaml`` (weights 0.5 / 0.3 / 0.2, seed 42, ``--strategy``, default the cookbook's
``all_exhausted``).

Both sides keep the columns ``id`` and ``messages`` (``select_columns`` / ``columns:``).

- datasets: ``interleave_datasets(sources, probabilities, seed, stopping_strategy)`` then
  ``save_to_disk`` (``--flatten``: also ``flatten_indices()`` into one file, at the largest scale only:
  it is an order of magnitude slower).
- ours: ``build_mixture(mixture, open_source, train_path)``: streamed plan, gather and atomic write,
  with fsync (as the assets write) and without (``durable=False``, like for like with ``datasets``,
  which leaves its pages to the kernel).

``--scales 1,4`` runs the sources at N/4 and N (the default N = 1,000,000 gives 3,000,000 rows at
×4): our peak anonymous memory should stay flat while the sources grow 4×. Every output is checked
against ``datasets``' rows (all columns, slices of 50,000 rows; our extra ``source`` column against
the row ids). Each side runs ``--repeat`` times in a fresh interpreter (harness), medians reported.

    .venv/bin/python -m benchmarks.bench_mixture [--rows 1000000] [--scales 1,4] [--repeat 3] [--strategy all_exhausted] [--flatten]
    .venv/bin/python -m benchmarks.bench_mixture --rows 40000 --repeat 1 --quiet-timeout 5   # quick run
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

from benchmarks import bench_engine, harness
from benchmarks.bench_engine import FLAT, PROBABILITIES, SEED, SLICE, THEIRS_IMPORTS, _clear_caches, _du, _hf_table, _rm
from benchmarks.harness import Case, machine, measure_alternating, now, save, table

WORK = Path(__file__).resolve().parent / "_work" / "mixture"
ASSETS = ["cookbook/tulu3_sft", "cookbook/no_robots", "cookbook/openthoughts3"]
OURS_IMPORTS = ["pyarrow", "numpy", "datasets_pipeline.mixtures"]
COLUMNS = ["id", "messages"]  # selected on both sides, as the cookbook's builder selects its messages column


def _mixture_yaml(strategy: str) -> str:
    lines = [f"    - {{asset: {a}, partition: default/train, weight: {w}}}" for a, w in zip(ASSETS, PROBABILITIES)]
    return (
        "mixtures:\n  bench:\n    sources:\n" + "\n".join(lines)
        + f"\n    seed: {SEED}\n    stopping_strategy: {strategy}\n    columns: [{', '.join(COLUMNS)}]\n"
    )


# ---------------------------------------------------------------- the measured work (child processes)


def ours_mixture(files: list[str], strategy: str, out: str, durable: bool = True) -> dict:
    from datasets_pipeline.engine.ipc import read_table
    from datasets_pipeline.mixtures import build_mixture, parse_mixtures

    mixture = parse_mixtures(_mixture_yaml(strategy)).get("bench")
    paths = {(a, "default/train"): f for a, f in zip(ASSETS, files)}
    stats = build_mixture(mixture, lambda asset, partition: read_table(paths[(asset, partition)]), out, durable=durable)
    return {"rows": stats.total_rows, "bytes": stats.train_bytes, "per_source": [s.rows for s in stats.sources]}


def theirs_mixture(streams: list[str], strategy: str, out: str, materialize: str = "save_to_disk") -> dict:
    import datasets

    sources = [datasets.Dataset.from_file(p).select_columns(COLUMNS) for p in streams]
    mixed = datasets.interleave_datasets(sources, probabilities=PROBABILITIES, seed=SEED, stopping_strategy=strategy)
    bench_engine._materialize(mixed, out, materialize)
    return {"rows": mixed.num_rows}


# ---------------------------------------------------------------- checks (parent process)


def assert_same(ours_file: str, theirs_folder: str, ours_out: dict, sizes: list[int]) -> dict:
    """Our rows equal datasets' rows (all its columns); ``source`` names each row's source by its id."""
    import numpy as np

    from datasets_pipeline.engine.ipc import read_table

    ours, theirs = read_table(ours_file), _hf_table(theirs_folder)
    assert ours.num_rows == theirs.num_rows, (ours.num_rows, theirs.num_rows)
    assert ours.column_names == theirs.column_names + ["source"], (ours.column_names, theirs.column_names)
    for start in range(0, ours.num_rows, SLICE):
        for name in theirs.column_names:
            a, b = ours.column(name).slice(start, SLICE), theirs.column(name).slice(start, SLICE)
            if not a.type.equals(b.type):
                b = b.cast(a.type)
            assert a.equals(b), f"column {name!r} differs in rows {start}..{start + SLICE - 1}"
    bounds = np.cumsum(sizes)
    labels = np.array([f"{a}@default/train" for a in ASSETS])
    ids = ours.column("id").to_numpy()
    assert (ours.column("source").to_numpy(zero_copy_only=False) == labels[np.searchsorted(bounds, ids, side="right")]).all()
    counts = np.bincount(np.searchsorted(bounds, ids, side="right"), minlength=3).tolist()
    assert counts == ours_out["per_source"], (counts, ours_out["per_source"])
    return {"rows": ours.num_rows, "per_source": counts}


# ---------------------------------------------------------------- driver


def run_scale(n: int, scale: int, strategy: str, flatten: bool, repeat: int, results: dict, rows_for_table: list) -> None:
    sizes = [n * 3 // 2 * scale // 4, n * scale // 4, n // 2 * scale // 4]
    print(f"mixture ×{scale}: writing sources {sizes} …", flush=True)
    files, streams = bench_engine._write_sources(f"mix{scale}", sizes, turns=1, user_words=20, assistant_words=60)
    out_t, out_o, out_n = WORK / "out-hf", WORK / "out-ours.arrow", WORK / "out-ours-nofsync.arrow"

    def fresh() -> None:
        _rm(out_t)
        _clear_caches(streams)

    modes = [("save_to_disk", "save_to_disk")] + ([("flatten_indices()", FLAT)] if flatten and scale == max(SCALES) else [])
    try:
        for label, how in modes:
            case = f"mixture ×{scale} ({sum(sizes):,} source rows), {strategy}, datasets {label}"
            m_t, m_o, m_n = measure_alternating(
                [
                    Case(f"datasets: {case}", "benchmarks.bench_mixture:theirs_mixture", fresh,
                         dict(preimport=THEIRS_IMPORTS, warm=streams, streams=streams, strategy=strategy, out=str(out_t), materialize=how)),
                    Case(f"ours: {case}", "benchmarks.bench_mixture:ours_mixture", lambda: _rm(out_o),
                         dict(preimport=OURS_IMPORTS, allow_failure=True, warm=files, files=files, strategy=strategy, out=str(out_o))),
                    Case(f"ours without fsync: {case}", "benchmarks.bench_mixture:ours_mixture", lambda: _rm(out_n),
                         dict(preimport=OURS_IMPORTS, allow_failure=True, warm=files, files=files, strategy=strategy, out=str(out_n), durable=False)),
                ],
                repeat,
            )
            record = {"case": case, "scale": scale, "sizes": sizes, "input_bytes": sum(map(_du, files)),
                      "datasets": vars(m_t), "ours": vars(m_o), "ours_without_fsync": vars(m_n)}
            if not m_o.failed:
                record["check"] = assert_same(str(out_o), str(out_t), m_o.out, sizes)
            if not m_n.failed:
                record["check_without_fsync"] = assert_same(str(out_n), str(out_t), m_n.out, sizes)
            results["cases"].append(record)
            rows_for_table.append((case, m_t, m_o))
            rows_for_table.append((f"{case}, ours without fsync", m_t, m_n))
            _rm(out_t, out_o, out_n)
    finally:
        _rm(out_t, out_o, out_n, *files, *streams)
        _clear_caches(streams)


SCALES: list[int] = [1, 4]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="N: the sources hold 1.5N / N / 0.5N rows at the largest scale")
    parser.add_argument("--scales", default="1,4", help="source sizes as quarters of the full size (1,4: N/4 and N)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side and case (the median is reported)")
    parser.add_argument("--strategy", default="all_exhausted", choices=bench_engine.STRATEGIES)
    parser.add_argument("--flatten", action="store_true", help="also datasets + flatten_indices() at the largest scale (slow)")
    parser.add_argument("--quiet-timeout", type=float, default=harness.QUIET_TIMEOUT_S,
                        help="seconds to wait for other processes to go quiet before each run (loaded machines: lower it)")
    args = parser.parse_args()
    harness.wait_for_quiet = functools.partial(harness.wait_for_quiet, timeout_s=args.quiet_timeout)
    SCALES[:] = sorted({int(s) for s in args.scales.split(",")})
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict = {"when": now(), "rows": args.rows, "repeat": args.repeat, "strategy": args.strategy,
                     "scales": SCALES, "quiet_timeout_s": args.quiet_timeout, "machine": machine(), "cases": []}
    rows_for_table: list = []
    for scale in SCALES:
        run_scale(args.rows, scale, args.strategy, args.flatten, args.repeat, results, rows_for_table)
    print(table(rows_for_table))
    name = "mixture" + ("" if args.rows == 1_000_000 else f"-{args.rows}") + ("" if args.strategy == "all_exhausted" else f"-{args.strategy}")
    print("saved", save(name, results))
    print(json.dumps([{"case": c["case"], "ours_anon_mb": c["ours"]["peak_anon_mb"]} for c in results["cases"]], indent=1))


if __name__ == "__main__":
    main()
