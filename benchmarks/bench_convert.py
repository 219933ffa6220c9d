"""Converting a raw chat split to the cookbook layer, ours vs ``datasets``.

Two synthetic 1M-row raw splits (``--rows``), written once in each side's native format (same rows):

- OpenThoughts3-style: ``difficulty``, ``source``, ``domain``,
  ``conversations: list<struct<from, value>>`` (one human question, one long gpt answer);
- Tulu 3 SFT-style: ``id``, ``messages: list<struct<content, role>>`` (2 turns), ``source``.

ours:     ``ipc.read_table`` (memory-mapped Arrow IPC file, as the raw asset stores it) →
          ``steps.cookbook.convert_stream`` (catalog converter + uid + checks, batch by batch) →
          ``ipc.write_batches`` (atomic Arrow IPC file): exactly what the cookbook asset runs.
datasets: ``Dataset.from_file`` (memory-mapped Arrow stream, the ``save_to_disk`` layout) →
          ``.map(batched=True)`` building ``messages`` of ``{role, content}`` (``from``/``value``
          renamed, ``human`` → user, else assistant; Tulu: fields picked) → ``save_to_disk``.

The ``messages`` columns of both outputs must be equal, row for row (our output also has ``source_row`` and ``uid``
columns, which datasets' side does not compute). Inputs are read into the page cache right before
each side runs (see ``harness.warm_files``).

Each side runs ``--repeat`` times (default 3), each run in a fresh interpreter, alternating the
two sides; the median wall time is reported (with the range), and the highest peak memory.

    .venv/bin/python -m benchmarks.bench_convert [--rows 1000000] [--repeat 3] [--only openthoughts3,tulu3_sft]
"""

from __future__ import annotations

import argparse
import glob
import os
from pathlib import Path

from benchmarks.bench_engine import SLICE, _du, _hf_table, _rm
from benchmarks.harness import Case, machine, measure_alternating, now, save, table

WORK = Path(__file__).resolve().parent / "_work" / "convert"
OURS_IMPORTS = ["pyarrow", "numpy", "datasets_pipeline.steps.cookbook", "datasets_pipeline.catalog"]
THEIRS_IMPORTS = ["pyarrow", "numpy", "datasets"]


# ---------------------------------------------------------------- the measured work (child processes)


def ours(name: str, file: str, out: str) -> dict:
    from datasets_pipeline.catalog import get_spec
    from datasets_pipeline.engine.ipc import read_table, write_batches
    from datasets_pipeline.steps.cookbook import convert_stream

    spec = get_spec(name)
    raw = read_table(file)
    stream = convert_stream(spec, raw, spec.default_config, "train")
    stats = write_batches(out, stream, schema=stream.schema)
    return {"rows": stats.rows, "bytes": stats.bytes, "stats": stream.stats}


def _openthoughts_messages(batch: dict) -> dict:
    return {
        "messages": [
            [{"role": "user" if m["from"] == "human" else "assistant", "content": m["value"]} for m in conversation]
            for conversation in batch["conversations"]
        ]
    }


def _tulu_messages(batch: dict) -> dict:
    return {"messages": [[{"role": m["role"], "content": m["content"]} for m in msgs] for msgs in batch["messages"]]}


def theirs(name: str, stream: str, out: str) -> dict:
    import datasets

    fn = _openthoughts_messages if name == "openthoughts3" else _tulu_messages
    ds = datasets.Dataset.from_file(stream)
    converted = ds.map(fn, batched=True, remove_columns=ds.column_names)
    converted.save_to_disk(out)
    return {"rows": converted.num_rows}


# ---------------------------------------------------------------- parent


def _clear_caches(folder: Path) -> None:
    for f in glob.glob(str(folder / "cache-*.arrow")):
        os.remove(f)


def assert_same_messages(ours_file: str, theirs_folder: str) -> dict:
    from datasets_pipeline.engine.ipc import read_table

    a_table, b_table = read_table(ours_file), _hf_table(theirs_folder)
    assert a_table.num_rows == b_table.num_rows, (a_table.num_rows, b_table.num_rows)
    assert b_table.column_names == ["messages"], b_table.column_names
    a_col, b_col = a_table.column("messages"), b_table.column("messages")
    for start in range(0, a_table.num_rows, SLICE):
        a, b = a_col.slice(start, SLICE), b_col.slice(start, SLICE)
        if not a.type.equals(b.type):
            b = b.cast(a.type)
        assert a.equals(b), f"messages differ in rows {start}..{start + SLICE - 1}"
    return {"rows": a_table.num_rows, "ours_columns": a_table.column_names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", default="openthoughts3,tulu3_sft")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (the median is reported)")
    args = parser.parse_args()
    from benchmarks.chat_data import openthoughts_table, tulu_table, write_arrow_pair

    makers = {
        "openthoughts3": lambda start, rows: openthoughts_table(rows, seed=start),
        "tulu3_sft": lambda start, rows: tulu_table(rows, seed=start, id_offset=start),
    }
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict = {"when": now(), "rows": args.rows, "repeat": args.repeat, "machine": machine(), "cases": []}
    rows_for_table = []
    for name in args.only.split(","):
        file, stream = WORK / "ours" / f"{name}.arrow", WORK / "hf" / f"{name}.arrow"
        out_o, out_t = WORK / "out-ours.arrow", WORK / "out-hf"
        print(f"{name}: writing {args.rows:,} raw rows …", flush=True)
        write_arrow_pair(file, stream, makers[name], args.rows)
        try:
            def fresh_theirs() -> None:
                _rm(out_t)
                _clear_caches(stream.parent)

            m_t, m_o = measure_alternating(
                [
                    Case(f"datasets {name}", "benchmarks.bench_convert:theirs", fresh_theirs,
                         dict(preimport=THEIRS_IMPORTS, warm=[stream], name=name, stream=str(stream), out=str(out_t))),
                    Case(f"ours {name}", "benchmarks.bench_convert:ours", lambda: _rm(out_o),
                         dict(preimport=OURS_IMPORTS, warm=[file], name=name, file=str(file), out=str(out_o))),
                ],
                args.repeat,
            )
            check = assert_same_messages(str(out_o), str(out_t))
            assert m_o.out["rows"] == m_t.out["rows"] == args.rows
            size = {"raw_file": _du(file), "raw_stream": _du(stream), "ours_out": _du(out_o), "datasets_out": _du(out_t)}
            case = f"{name}-style, {args.rows:,} rows ({size['raw_file'] / 1e6:,.0f} MB raw Arrow)"
            results["cases"].append({"case": case, "name": name, "sizes": size, "datasets": vars(m_t), "ours": vars(m_o), "check": check})
            rows_for_table.append((case, m_t, m_o))
        finally:
            _clear_caches(stream.parent)
            _rm(file, stream, out_o, out_t)
    print(table(rows_for_table))
    suffix = "" if args.rows == 1_000_000 and args.only == "openthoughts3,tulu3_sft" else f"-{args.rows}"
    print("saved", save(f"convert{suffix}", results))


if __name__ == "__main__":
    main()
